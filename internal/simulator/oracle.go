package simulator

// The world's ground truth: what each provider really bills, who really owns each source, which
// customers exercise which case. Only tests read it (they compare what Margin reports with it);
// product code never calls these, so the linker leaves them out of the shipped binaries, and
// TestOracleNotInProductBinaries fails if one of them is ever linked in. Demo mode gets its
// config (ConfigCustomers, Features, FXRates) from world.go, not from here.

import (
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// ForecastCases names the customers whose subscriptions exercise the month-end forecast: renewals
// right after today, a yearly plan, a trial ending on the 15th, a subscription set to cancel at
// period end, one with a metered price, one whose latest invoice is still a draft, and those with a
// void or uncollectible invoice (revenue they really lose). Keys: renews_after_today, yearly,
// trial, cancel_at_period_end, metered, draft_invoice, unpaid_invoice.
func (w *World) ForecastCases() map[string][]string {
	out := map[string][]string{}
	for _, c := range w.customers {
		switch {
		case c.yearly:
			out["yearly"] = append(out["yearly"], c.id)
		case !c.trialEnd.IsZero():
			out["trial"] = append(out["trial"], c.id)
		case c.cancelAtPeriodEnd:
			out["cancel_at_period_end"] = append(out["cancel_at_period_end"], c.id)
		case c.metered:
			out["metered"] = append(out["metered"], c.id)
		case c.idx == 2 || c.idx == 21:
			out["renews_after_today"] = append(out["renews_after_today"], c.id)
		case c.idx == 13:
			out["draft_invoice"] = append(out["draft_invoice"], c.id)
		case c.idx == 11 || c.idx == 14:
			out["unpaid_invoice"] = append(out["unpaid_invoice"], c.id)
		}
	}
	return out
}

// Tokens returns every token the world's provider p recorded on day d, up to the world's now
// (today's partial day included): what the usage endpoints serve, whatever was billed.
func (w *World) Tokens(p usage.Provider, d usage.Day) int64 {
	var n int64
	for _, st := range w.streams {
		if st.src.provider == p {
			u := w.usageIn(st, d, 0, secondsPerDay)
			n += u.input + u.cached + u.write5m + u.write1h + u.output
		}
	}
	return n
}

// FirstDay is the first day the world has usage on; nothing exists before it.
func (w *World) FirstDay() usage.Day { return w.first }

// UnlistedSources returns the sources whose spend no key listing shows (the deleted OpenRouter
// key): the account-level /activity is the only place their spend appears.
func (w *World) UnlistedSources() []usage.SourceRef {
	var refs []usage.SourceRef
	for _, s := range w.sources {
		if s.deletedFrom != 0 {
			refs = append(refs, s.ref())
		}
	}
	return refs
}

// CustomerOf returns the Stripe customer that truly owns the source ("" for internal or unmapped
// sources). Workspace and project references resolve to the customer that owns the whole container.
func (w *World) CustomerOf(ref usage.SourceRef) string {
	if i, ok := w.owner[ref]; ok && i >= 0 {
		return w.customers[i].id
	}
	return ""
}

// SpikeCustomer returns the customer whose usage jumps over the last days ("" if none).
func (w *World) SpikeCustomer() string { return w.customerID(w.spike) }

// UnderwaterCustomer returns the starter customer whose LLM cost exceeds its revenue ("" if none).
func (w *World) UnderwaterCustomer() string { return w.customerID(w.underwater) }

func (w *World) customerID(i int) string {
	if i < 0 {
		return ""
	}
	return w.customers[i].id
}

// Customers lists the Stripe customer ids in creation order.
func (w *World) Customers() []string {
	ids := make([]string, len(w.customers))
	for i, c := range w.customers {
		ids[i] = c.id
	}
	return ids
}

// Sources lists every source reference that carries usage, in creation order.
func (w *World) Sources() []usage.SourceRef {
	var refs []usage.SourceRef
	seen := map[usage.SourceRef]bool{}
	for _, s := range w.sources {
		if r := s.ref(); !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs
}

// BilledTotal returns what the provider's cost API bills for day d: OpenAI costs (today's partial
// day included), Anthropic cost_report and OpenRouter activity (complete days only; zero for today).
func (w *World) BilledTotal(p usage.Provider, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.provider == p {
			total += w.billedStream(st, d)
		}
	}
	return total
}

// SourceBilled returns what the provider bills for one source's usage on day d, at the source's
// own grain; the sum over every source of a provider equals BilledTotal.
func (w *World) SourceBilled(ref usage.SourceRef, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.ref() == ref {
			total += w.billedStream(st, d)
		}
	}
	return total
}

// BilledModelTotal is BilledTotal without the charges that name no model (tool calls): what
// token usage alone can be priced at.
func (w *World) BilledModelTotal(p usage.Provider, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.provider == p {
			total += w.billedStreamWhere(st, d, func(ci costItem) bool { return ci.hasModel })
		}
	}
	return total
}
