package engine

import (
	"slices"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/usage"
)

// The live subscriptions are internal/revenue's.
type (
	Subscription      = revenue.Subscription
	SubscriptionItem  = revenue.SubscriptionItem
	Discount          = revenue.Discount
	SubscriptionFacts = revenue.Subscriptions
)

// What a customer's projected revenue rests on (ForecastLine.Basis).
const (
	// BasisRunRate: a live subscription's recurring price carries revenue to month end (already
	// invoiced for the current period, projected for the periods after it).
	BasisRunRate = "subscription_run_rate"
	// BasisUpcomingInvoice: the current period's invoice is a draft Stripe will finalize; its
	// amount is counted as it will be recognised.
	BasisUpcomingInvoice = "upcoming_invoice"
	// BasisInvoicedOnly: no live subscription; only invoices already issued count.
	BasisInvoicedOnly = "invoiced_only"
	// BasisMeteredUsageSoFar: a metered price projected from the current period's usage so far,
	// carried at the same rate to the period's end (and into renewals within the month).
	BasisMeteredUsageSoFar = "metered_usage_so_far"
	// BasisMeteredNotProjected: a metered (or tiered) price that cannot be projected (no usage
	// reported yet, fewer than minTrendDays of the period elapsed, or no flat unit price); its
	// revenue is missing from the projection.
	BasisMeteredNotProjected = "metered_not_projected"
)

// RevenueProjection is one customer's revenue for the month of today.
type RevenueProjection struct {
	MonthToDate ledger.Money // recognised on the month's days through today
	Recognised  ledger.Money // recognised on all the month's days: invoices already issued
	RunRate     ledger.Money // what live subscriptions will still invoice for the month
	Projected   ledger.Money // Recognised + RunRate
	Basis       []string
}

// ProjectRevenue projects each customer's revenue for the month of today: revenue recognised on
// the month's days from invoices already issued, plus, for every live subscription, the periods
// after its current one that start before month end, at its recurring price with the discounts
// that will still apply, spread over each period's days as recognition will spread the invoice.
// The current period's invoice, when still a draft Stripe will finalize, is counted the same way,
// and so is a metered price's current period, projected from its usage so far (meteredRate).
// Trials invoice nothing until they end, nothing is invoiced after cancel_at or a period end set
// to cancel, paused collection invoices nothing until it resumes, and a cancel_at inside the
// current period takes back (as the proration credit will) the invoiced time after it.
func ProjectRevenue(revenue []DailyRevenue, subs []Subscription, today usage.Day) map[string]*RevenueProjection {
	monthStart, monthEnd := today.MonthStart(), today.NextMonthStart()
	out := map[string]*RevenueProjection{}
	get := func(id string) *RevenueProjection {
		p := out[id]
		if p == nil {
			p = &RevenueProjection{}
			out[id] = p
		}
		return p
	}
	for _, d := range revenue {
		if d.Day < monthStart || d.Day >= monthEnd {
			continue
		}
		p := get(d.Customer)
		p.Recognised += d.Amount
		if d.Day <= today {
			p.MonthToDate += d.Amount
		}
	}
	for i := range subs {
		s := &subs[i]
		p := get(s.Customer)
		p.RunRate += runRate(s, monthStart, monthEnd)
		addBasis(p, BasisRunRate)
		if s.Upcoming != 0 {
			addBasis(p, BasisUpcomingInvoice)
		}
		for _, it := range s.Items {
			switch _, ok := meteredRate(s, it); {
			case ok:
				addBasis(p, BasisMeteredUsageSoFar)
			case it.Metered || it.Unpriced:
				addBasis(p, BasisMeteredNotProjected)
			}
		}
	}
	for _, p := range out {
		p.Projected = p.Recognised + p.RunRate
		if len(p.Basis) == 0 {
			p.Basis = []string{BasisInvoicedOnly}
		}
	}
	return out
}

func addBasis(p *RevenueProjection, b string) {
	if !slices.Contains(p.Basis, b) {
		p.Basis = append(p.Basis, b)
	}
}

// runRate is what s will add to the month [monthStart, monthEnd) beyond invoices already issued.
func runRate(s *Subscription, monthStart, monthEnd usage.Day) ledger.Money {
	lo, hi := int64(monthStart)*secondsPerDay, int64(monthEnd)*secondsPerDay
	var total ledger.Money
	// The current period's draft invoice, not recognised yet.
	total += spreadWithin(s.Upcoming, s.PeriodStart, s.PeriodEnd, lo, hi)
	// Metered usage is invoiced at the period's end, for the whole period: projected from the
	// usage so far and spread over the period as its invoice will be (stopping at cancel_at).
	if metered := periodAmount(s, s.PeriodStart, true); metered != 0 && s.TrialEnd < s.PeriodEnd {
		stop := s.PeriodEnd
		if s.CancelAt > s.PeriodStart && s.CancelAt < stop {
			metered = ledger.Money(ledger.MustMulDiv(int64(metered), s.CancelAt-s.PeriodStart, s.PeriodEnd-s.PeriodStart))
			stop = s.CancelAt
		}
		total += spreadWithin(metered, s.PeriodStart, stop, lo, hi)
	}
	// A cancel_at inside the current (invoiced, non-trial) period: the unused time is credited.
	if s.CancelAt > s.PeriodStart && s.CancelAt < s.PeriodEnd && s.TrialEnd < s.PeriodEnd {
		amount := periodAmount(s, s.PeriodStart, false)
		credit := ledger.Money(ledger.MustMulDiv(int64(amount), s.PeriodEnd-s.CancelAt, s.PeriodEnd-s.PeriodStart))
		total -= spreadWithin(credit, s.CancelAt, s.PeriodEnd, lo, hi)
	}
	if s.CancelAtPeriodEnd || len(s.Items) == 0 {
		return total
	}
	start := max(s.PeriodEnd, s.TrialEnd)
	for start < hi {
		if s.CancelAt > 0 && start >= s.CancelAt {
			break
		}
		end := addInterval(start, s.Items[0].Interval, s.Items[0].IntervalCount)
		if end <= start {
			break
		}
		paused := s.Paused && (s.ResumesAt == 0 || start < s.ResumesAt)
		if !paused {
			amount := periodAmount(s, start, false) + periodAmount(s, start, true)
			stop := end
			if s.CancelAt > 0 && s.CancelAt < end {
				// The last period is prorated to the cancellation.
				amount = ledger.Money(ledger.MustMulDiv(int64(amount), s.CancelAt-start, end-start))
				stop = s.CancelAt
			}
			total += spreadWithin(amount, start, stop, lo, hi)
		}
		start = end
	}
	return total
}

// meteredRate is a metered item's projected amount for a whole current period: its usage so far
// scaled to the period's length. Not known before minTrendDays of the period have elapsed (a
// rate from hours of usage would swing wildly) or when no usage was read.
func meteredRate(s *Subscription, it SubscriptionItem) (ledger.Money, bool) {
	if !it.Metered || it.Unpriced || it.UsageAsOf == 0 {
		return 0, false
	}
	elapsed := min(it.UsageAsOf, s.PeriodEnd) - s.PeriodStart
	if elapsed < minTrendDays*secondsPerDay {
		return 0, false
	}
	return ledger.Money(ledger.MustMulDiv(int64(it.UsageSoFar), s.PeriodEnd-s.PeriodStart, elapsed)), true
}

// periodAmount is what s invoices for a period starting at start, net of the discounts that still
// apply then (percent off per item, then amount off): the licensed, priced items, or with metered
// the metered items projected by meteredRate. Subscription-level amounts off come off the licensed
// part only (the invoice they apply to is issued at the period's start).
func periodAmount(s *Subscription, start int64, metered bool) ledger.Money {
	applies := func(d Discount) bool { return d.End == 0 || d.End > start }
	var sum ledger.Money
	for _, it := range s.Items {
		a := it.Amount
		if metered {
			var ok bool
			if a, ok = meteredRate(s, it); !ok {
				continue
			}
		} else if it.Metered || it.Unpriced {
			continue
		}
		for _, d := range append(slices.Clone(it.Discounts), s.Discounts...) {
			if applies(d) && d.PercentOff > 0 {
				a -= d.PercentOff.Apply(a)
			}
		}
		for _, d := range it.Discounts {
			if applies(d) && d.AmountOff > 0 {
				a -= min(d.AmountOff, a)
			}
		}
		sum += a
	}
	for _, d := range s.Discounts {
		if !metered && applies(d) && d.AmountOff > 0 {
			sum -= min(d.AmountOff, sum)
		}
	}
	return sum
}

// addInterval steps a period boundary by count intervals. Months and years keep the day of the
// month, clamped to the month's last day as Stripe bills a 31st anchor in a 30-day month.
func addInterval(t int64, interval string, count int64) int64 {
	tm := time.Unix(t, 0).UTC()
	n := int(max(count, 1))
	switch interval {
	case "day":
		return tm.AddDate(0, 0, n).Unix()
	case "week":
		return tm.AddDate(0, 0, 7*n).Unix()
	case "month":
		return addMonths(tm, n).Unix()
	case "year":
		return addMonths(tm, 12*n).Unix()
	}
	return t
}

func addMonths(t time.Time, n int) time.Time {
	first := time.Date(t.Year(), t.Month(), 1, t.Hour(), t.Minute(), t.Second(), 0, time.UTC).AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

const secondsPerDay = 86400

// spreadWithin spreads amount over [start, end) by the seconds in each UTC day, exactly as revenue
// recognition spreads an invoice line (ledger.Split over the days' seconds), and returns the part
// that falls on the days of [lo, hi).
func spreadWithin(amount ledger.Money, start, end, lo, hi int64) ledger.Money {
	if amount == 0 || end <= start {
		return 0
	}
	first, last := floorDay(start), floorDay(end-1)
	weights := make([]int64, 0, last-first+1)
	for d := first; d <= last; d++ {
		ds := d * secondsPerDay
		weights = append(weights, min(end, ds+secondsPerDay)-max(start, ds))
	}
	var in ledger.Money
	for i, part := range ledger.Split(amount, weights) {
		if ds := (first + int64(i)) * secondsPerDay; ds >= lo && ds < hi {
			in += part
		}
	}
	return in
}

func floorDay(t int64) int64 {
	d := t / secondsPerDay
	if t%secondsPerDay < 0 {
		d--
	}
	return d
}
