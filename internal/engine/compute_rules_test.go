package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// scaledPricer is a deliberately wrong catalog: every list price times factor, and the models it
// lists only.
type scaledPricer struct {
	base   Pricer
	factor int64
}

func (p scaledPricer) Cost(r *usage.UsageRecord) (ledger.Money, bool) {
	c, ok := p.base.Cost(r)
	return c * ledger.Money(p.factor), ok
}

type noPricer struct{}

func (noPricer) Cost(*usage.UsageRecord) (ledger.Money, bool) { return 0, false }

func tokRec(p usage.Provider, d usage.Day, key, scope usage.SourceRef, model string, t usage.Tokens) usage.UsageRecord {
	return usage.UsageRecord{Provider: p.ID(), Day: d, Key: usage.InternRef(key), Scope: usage.InternRef(scope), Model: usage.Intern(model), Tokens: t, Requests: 1}
}

func tokBill(p usage.Provider, d usage.Day, src usage.SourceRef, model string, tt usage.TokenType, dollars string) usage.CostRecord {
	amt, err := ledger.ParseDollars(dollars)
	if err != nil {
		panic(err)
	}
	return usage.CostRecord{Provider: p.ID(), Day: d, Source: usage.InternRef(src), Item: usage.LineItemOf(usage.Intern(model), usage.NoSym, usage.NoSym), TokenType: tt, Amount: amt}
}

// A workspace shared by two customers on two models at prices no list has: each customer pays
// exactly its model's bills, and where both use one model each token type's bill is split by
// that type's token count alone.
func TestCompute_SharedWorkspaceSplitsPerTokenType(t *testing.T) {
	const sonnet, haiku = "claude-sonnet-4-5-20250929", "claude-haiku-4-5"
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.Anthropic,
			Usage: []usage.UsageRecord{
				tokRec(usage.Anthropic, day0, kA, ws, sonnet, usage.Tokens{Input: 3000, Output: 100, CachedInput: 5000}),
				tokRec(usage.Anthropic, day0, kB, ws, sonnet, usage.Tokens{Input: 1000, Output: 300}),
				tokRec(usage.Anthropic, day0, kB, ws, haiku+"-20251001", usage.Tokens{Input: 777, Output: 7}),
			},
			Costs: []usage.CostRecord{
				// The cost report names the undated alias; usage the dated id.
				tokBill(usage.Anthropic, day0, ws, "claude-sonnet-4-5", usage.TokenInput, "4.00"),
				tokBill(usage.Anthropic, day0, ws, "claude-sonnet-4-5", usage.TokenOutput, "10.00"),
				tokBill(usage.Anthropic, day0, ws, "claude-sonnet-4-5", usage.TokenCachedInput, "0.05"),
				tokBill(usage.Anthropic, day0, ws, haiku, usage.TokenInput, "0.333"),
				tokBill(usage.Anthropic, day0, ws, haiku, usage.TokenOutput, "0.111"),
			},
		}},
	}
	m := Mapping{Customers: map[string][]usage.SourceRef{"cus_A": {kA}, "cus_B": {kB}}}
	for _, pr := range []struct {
		name string
		p    Pricer
	}{{"catalog", catalog.Default()}, {"wrong catalog", scaledPricer{catalog.Default(), 9}}, {"no catalog", noPricer{}}} {
		res := Compute(f, pr.p, m)
		got := map[string]ledger.Money{}
		for _, r := range res.Rows {
			if r.Estimated || r.PriceSource != PriceBill {
				t.Errorf("%s: row %+v is not a bill share", pr.name, r)
			}
			got[r.Customer.String()] += r.Cost
		}
		// Input $4 split 3000:1000, output $10 split 100:300, cache reads all A's.
		wantA := ledger.Dollars(3) + 2_500_000_000 + 50_000_000
		wantB := ledger.Dollars(1) + 7_500_000_000 + 333_000_000 + 111_000_000
		if got["cus_A"] != wantA || got["cus_B"] != wantB || len(got) != 2 {
			t.Errorf("%s: cost per customer = %v, want cus_A %s, cus_B %s", pr.name, got, wantA, wantB)
		}
	}
}

// A deliberately wrong catalog changes no number of a settled day, and neither does having no
// catalog: bills split by token count need no price; today is priced at the rates learned from
// the latest settled bills, which also need no catalog.
func TestCompute_WrongCatalogChangesNoSettledNumber(t *testing.T) {
	today := day0 + 2
	var use []usage.UsageRecord
	var bills []usage.CostRecord
	for d := day0; d <= today; d++ {
		for i, k := range []usage.SourceRef{oK1, oK2} {
			n := int64(1000 * (i + 1) * int(d-day0+1))
			use = append(use, tokRec(usage.OpenAI, d, k, proj, "gpt-5.6-sol", usage.Tokens{Input: n, CachedInput: n / 2, Output: n / 10}),
				tokRec(usage.OpenAI, d, k, proj, "gpt-4.1-2025-04-14", usage.Tokens{Input: 3 * n, Output: n}))
			if d == today {
				continue
			}
			// Negotiated prices: $3/M input, $0.3/M cached, $20/M output for the unknown model.
			bills = append(bills,
				usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(k), Item: usage.LineItemOf(usage.Intern("gpt-5.6-sol"), usage.NoSym, usage.NoSym), TokenType: usage.TokenInput, Amount: ledger.Money(n) * 3 * ledger.Micro},
				usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(k), Item: usage.LineItemOf(usage.Intern("gpt-5.6-sol"), usage.NoSym, usage.NoSym), TokenType: usage.TokenCachedInput, Amount: ledger.Money(n/2) * 300},
				usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(k), Item: usage.LineItemOf(usage.Intern("gpt-5.6-sol"), usage.NoSym, usage.NoSym), TokenType: usage.TokenOutput, Amount: ledger.Money(n/10) * 20 * ledger.Micro},
				usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(k), Item: usage.LineItemOf(usage.Intern("gpt-4.1-2025-04-14"), usage.NoSym, usage.NoSym), TokenType: usage.TokenInput, Amount: ledger.Money(3*n) * ledger.Micro},
				usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(k), Item: usage.LineItemOf(usage.Intern("gpt-4.1-2025-04-14"), usage.NoSym, usage.NoSym), TokenType: usage.TokenOutput, Amount: ledger.Money(n) * 4 * ledger.Micro},
			)
		}
	}
	f := &Facts{Window: usage.Window{From: day0, To: today + 1}, Today: today, Batches: []*usage.Batch{{
		Provider: usage.OpenAI, Usage: use, Costs: bills,
		Sources: []usage.SourceInfo{{Ref: oK1, Scope: proj}, {Ref: oK2, Scope: proj}},
	}}}
	right := Compute(f, catalog.Default(), Mapping{})
	for _, pr := range []Pricer{scaledPricer{catalog.Default(), 7}, noPricer{}} {
		wrong := Compute(f, pr, Mapping{})
		if !slices.EqualFunc(right.Rows, wrong.Rows, func(a, b CostRow) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Fatalf("rows differ with a wrong catalog:\n%+v\n%+v", right.Rows, wrong.Rows)
		}
	}
	for _, r := range right.Rows {
		switch {
		case r.Day < today && (r.Estimated || r.PriceSource != PriceBill):
			t.Errorf("settled row %+v is not a bill share", r)
		case r.Day == today && (!r.Estimated || r.PriceSource != PriceLearned):
			t.Errorf("today's row %+v is not priced from learned rates", r)
		}
	}
	// Today's estimate of key 1's unknown model: 3000 input at $3/M, 1500 cached at $0.3/M, 300
	// output at $20/M, the rates of yesterday's bills.
	if got, _ := costOf(filterDay(right.Rows, today), oK1, "gpt-5.6-sol"); got != 9000*ledger.Micro+450*ledger.Micro+6000*ledger.Micro {
		t.Errorf("today's learned estimate = %s, want 0.01545", got)
	}
}

func filterDay(rows []CostRow, d usage.Day) []CostRow {
	var out []CostRow
	for _, r := range rows {
		if r.Day == d {
			out = append(out, r)
		}
	}
	return out
}

// A bill whose label matches no usage model is spread over its source's usage and never added
// on top of an estimate: $3 billed stays $3 (it became $6 before).
func TestCompute_UnmatchedBillIsNotCountedTwice(t *testing.T) {
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.OpenAI,
			Usage:    []usage.UsageRecord{tokRec(usage.OpenAI, day0, oK1, proj, "gpt-4.1-2025-04-14", usage.Tokens{Input: 1_000_000, Output: 100_000})},
			Costs:    []usage.CostRecord{{Provider: usage.OpenAI.ID(), Day: day0, Source: usage.InternRef(oK1), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("priority | gpt-5.6-sol weird label"), usage.NoSym), Amount: ledger.Dollars(3)}},
			Sources:  []usage.SourceInfo{{Ref: oK1, Scope: proj}},
		}},
	}
	res := Compute(f, catalog.Default(), Mapping{})
	var total ledger.Money
	for _, r := range res.Rows {
		total += r.Cost
		if r.Estimated {
			t.Errorf("row %+v keeps an estimate under a billed key", r)
		}
	}
	if total != ledger.Dollars(3) {
		t.Errorf("total = %s, want the $3 billed", total)
	}
}

// Anthropic Priority Tier usage never appears in the cost report: it takes no share of the
// workspace's standard bill and is shown as an estimate.
func TestCompute_AnthropicPriorityTierStaysOutOfBills(t *testing.T) {
	const sonnet = "claude-sonnet-4-5"
	prio := tokRec(usage.Anthropic, day0, kB, ws, sonnet, usage.Tokens{Input: 1_000_000})
	prio.Tier = usage.TierPriority
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.Anthropic,
			Usage:    []usage.UsageRecord{tokRec(usage.Anthropic, day0, kA, ws, sonnet, usage.Tokens{Input: 1_000_000}), prio},
			Costs:    []usage.CostRecord{tokBill(usage.Anthropic, day0, ws, sonnet, usage.TokenInput, "3.00")},
		}},
	}
	res := Compute(f, catalog.Default(), Mapping{Customers: map[string][]usage.SourceRef{"cus_A": {kA}, "cus_B": {kB}}})
	for _, r := range res.Rows {
		switch r.Customer.String() {
		case "cus_A":
			if r.Cost != ledger.Dollars(3) || r.Estimated {
				t.Errorf("standard usage: %+v, want the whole $3 bill", r)
			}
		case "cus_B":
			if !r.Estimated || r.ServiceTier() != usage.TierPriority || r.PriceSource != PriceCatalog || r.Cost != ledger.Dollars(3) {
				t.Errorf("priority usage: %+v, want a $3 catalog estimate marked priority", r)
			}
		}
	}
	if rc := res.Reconciliation[0]; rc.Billed != ledger.Dollars(3) || rc.Attributed != ledger.Dollars(3) || rc.Estimated != ledger.Dollars(3) {
		t.Errorf("reconciliation = %+v", rc)
	}
}

// The invariant over generated inputs: per provider, day and billed source, the rows beneath the
// source add up to its bills exactly; no row under a billed source is an estimate; tokens are
// all kept. Inputs mix random labels, bills without usage, usage without bills, models no
// catalog knows, dated and undated ids, token types and tiers.
func TestCompute_EveryBilledDollarOnceProperty(t *testing.T) {
	models := []string{"gpt-4.1-2025-04-14", "gpt-4.1", "gpt-5.6-sol", "o3-pro", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "mystery", ""}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		today := day0 + 3
		f := &Facts{Window: usage.Window{From: day0, To: today + 1}, Today: today}
		type billed struct {
			p   usage.Provider
			src usage.SourceRef
			d   usage.Day
		}
		bills := map[billed]ledger.Money{}
		var tokensIn int64
		for _, p := range []usage.Provider{usage.OpenAI, usage.Anthropic} {
			b := &usage.Batch{Provider: p}
			nScopes := 1 + rng.IntN(3)
			for s := range nScopes {
				scope := usage.Ref(p, usage.KindWorkspace, fmt.Sprintf("s%d", s))
				if p == usage.OpenAI {
					scope = usage.Ref(p, usage.KindProject, fmt.Sprintf("s%d", s))
				}
				keyBilled := p == usage.OpenAI && rng.IntN(2) == 0 // each scope billed at one grain
				for k := range 1 + rng.IntN(3) {
					key := usage.Ref(p, usage.KindAPIKey, fmt.Sprintf("s%dk%d", s, k))
					b.Sources = append(b.Sources, usage.SourceInfo{Ref: key, Scope: scope})
					for d := day0; d <= today; d++ {
						for range rng.IntN(4) {
							r := tokRec(p, d, key, scope, models[rng.IntN(len(models))], usage.Tokens{
								Input: rng.Int64N(5000), CachedInput: rng.Int64N(3) * rng.Int64N(2000), Output: rng.Int64N(800)})
							if rng.IntN(5) == 0 {
								r.Tier = usage.TierPriority
							}
							r.Batch = rng.IntN(6) == 0
							tokensIn += r.Tokens.Total()
							b.Usage = append(b.Usage, r)
						}
						if !keyBilled {
							continue
						}
						for range rng.IntN(4) {
							cr := randomBill(rng, p, d, key, models)
							b.Costs = append(b.Costs, cr)
							if d < today {
								bills[billed{p, key, d}] += cr.Amount
							}
						}
					}
				}
				if keyBilled {
					continue
				}
				for d := day0; d <= today; d++ {
					if rng.IntN(4) == 0 {
						continue // usage without bills
					}
					for range rng.IntN(6) {
						cr := randomBill(rng, p, d, scope, models)
						b.Costs = append(b.Costs, cr)
						if d < today {
							bills[billed{p, scope, d}] += cr.Amount
						}
					}
				}
			}
			f.Batches = append(f.Batches, b)
		}
		res := Compute(f, catalog.Default(), Mapping{})
		got := map[billed]ledger.Money{}
		var tokensOut int64
		for _, r := range res.Rows {
			tokensOut += r.Tokens.Total()
			under := []billed{{r.Provider.Name(), r.Source.Ref(), r.Day}, {r.Provider.Name(), r.Scope.Ref(), r.Day}}
			isBilled := false
			for _, u := range under {
				if _, ok := bills[u]; ok {
					isBilled = true
				}
			}
			anthropicPriority := r.Provider.Name() == usage.Anthropic && r.ServiceTier() == usage.TierPriority
			switch {
			case r.Estimated && isBilled && !anthropicPriority:
				t.Fatalf("seed %d: row %+v is an estimate under a billed source", seed, r)
			case r.Estimated != (r.PriceSource != PriceBill && r.PriceSource != PriceProvider):
				t.Fatalf("seed %d: row %+v: estimated and price source disagree", seed, r)
			case r.Estimated:
				continue
			}
			if r.Source != r.Scope {
				got[under[0]] += r.Cost
			}
			got[under[1]] += r.Cost
		}
		for k, want := range bills {
			if got[k] != want {
				t.Fatalf("seed %d: %s %s %s: rows add up to %s, billed %s", seed, k.p, k.src, k.d, got[k], want)
			}
		}
		if tokensOut != tokensIn {
			t.Fatalf("seed %d: %d tokens in rows, %d in usage", seed, tokensOut, tokensIn)
		}
		for _, rc := range res.Reconciliation {
			if rc.Attributed+rc.Unattributed != rc.Billed {
				t.Fatalf("seed %d: %+v does not reconcile", seed, rc)
			}
		}
	}
}

func randomBill(rng *rand.Rand, p usage.Provider, d usage.Day, src usage.SourceRef, models []string) usage.CostRecord {
	cr := usage.CostRecord{Provider: p.ID(), Day: d, Source: usage.InternRef(src), Item: usage.LineItemOf(usage.Intern(models[rng.IntN(len(models))]), usage.NoSym, usage.NoSym),
		TokenType: usage.TokenType(rng.IntN(int(usage.TokenAudioOutput) + 1)), Amount: ledger.Money(1 + rng.Int64N(5_000_000_000))}
	if rng.IntN(8) == 0 {
		cr.Amount = -cr.Amount / 10 // a credit
	}
	if rng.IntN(5) == 0 {
		cr.Class = usage.PriceClass{Batch: true}.Bits()
	}
	return cr
}
