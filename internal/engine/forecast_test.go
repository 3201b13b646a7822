package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func unix(y int, m time.Month, d, h int) int64 {
	return time.Date(y, m, d, h, 0, 0, 0, time.UTC).Unix()
}

func dec(d int) usage.Day { return usage.DayOf(time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC)) }

// daily recognises amount per day on December days [from, to] for cus_x, as issued invoices would.
func daily(from, to int, amount ledger.Money) []DailyRevenue {
	var out []DailyRevenue
	for d := from; d <= to; d++ {
		out = append(out, DailyRevenue{Customer: "cus_x", Day: dec(d), Amount: amount})
	}
	return out
}

func monthly(amount ledger.Money) []SubscriptionItem {
	return []SubscriptionItem{{ID: "si", Amount: amount, Interval: "month", IntervalCount: 1}}
}

// TestProjectRevenue covers every case of the subscription run-rate with exact money, in
// December 2026 (31 days). Each subscription renews into a 31-day period at $10 a day unless the
// case says otherwise, so the expected amounts are whole days.
func TestProjectRevenue(t *testing.T) {
	ten := ledger.Dollars(10)
	for _, tc := range []struct {
		name             string
		today            int
		revenue          []DailyRevenue
		sub              *Subscription
		runRate, project ledger.Money
		basis            []string
	}{
		{name: "today is the 1st, renews right after today", today: 1, revenue: daily(1, 1, ten),
			sub:     &Subscription{PeriodStart: unix(2026, 11, 2, 0), PeriodEnd: unix(2026, 12, 2, 0), Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(300), project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "today is the 1st, renewal invoice issued today (current period covers the month)", today: 1, revenue: daily(1, 31, ten),
			sub:     &Subscription{PeriodStart: unix(2026, 12, 1, 0), PeriodEnd: unix(2027, 1, 1, 0), Items: monthly(ledger.Dollars(310))},
			runRate: 0, project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "mid-month renewal", today: 10, revenue: daily(1, 15, ten),
			sub:     &Subscription{PeriodStart: unix(2026, 11, 16, 0), PeriodEnd: unix(2026, 12, 16, 0), Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(160), project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "today is the last day, renews next month", today: 31, revenue: daily(1, 31, ten),
			sub:     &Subscription{PeriodStart: unix(2026, 12, 1, 0), PeriodEnd: unix(2027, 1, 1, 0), Items: monthly(ledger.Dollars(310))},
			runRate: 0, project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "today is the last day, renews at noon today", today: 31, revenue: daily(1, 30, ten),
			sub:     &Subscription{PeriodStart: unix(2026, 11, 30, 12), PeriodEnd: unix(2026, 12, 31, 12), Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(5), project: ledger.Dollars(305), basis: []string{BasisRunRate}},
		{name: "yearly plan invoiced in January", today: 5, revenue: daily(1, 31, ten),
			sub: &Subscription{PeriodStart: unix(2026, 1, 1, 0), PeriodEnd: unix(2027, 1, 1, 0),
				Items: []SubscriptionItem{{Amount: ledger.Dollars(3650), Interval: "year", IntervalCount: 1}}},
			runRate: 0, project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "yearly plan renewing mid-month", today: 5, revenue: daily(1, 14, ledger.Dollars(5)),
			sub: &Subscription{PeriodStart: unix(2025, 12, 15, 0), PeriodEnd: unix(2026, 12, 15, 0),
				Items: []SubscriptionItem{{Amount: ledger.Dollars(3650), Interval: "year", IntervalCount: 1}}},
			runRate: ledger.Dollars(170), project: ledger.Dollars(240), basis: []string{BasisRunRate}},
		{name: "two-weekly price, two renewals in the month", today: 3, revenue: daily(1, 7, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 24, 0), PeriodEnd: unix(2026, 12, 8, 0),
				Items: []SubscriptionItem{{Amount: ledger.Dollars(70), Interval: "week", IntervalCount: 2},
					{Amount: ledger.Dollars(70), Interval: "week", IntervalCount: 2}}},
			runRate: ledger.Dollars(240), project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "trial ends mid-month: nothing before", today: 1,
			sub: &Subscription{PeriodStart: unix(2026, 11, 22, 0), PeriodEnd: unix(2026, 12, 15, 0), TrialEnd: unix(2026, 12, 15, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(170), project: ledger.Dollars(170), basis: []string{BasisRunRate}},
		{name: "trial ends after month end", today: 20,
			sub: &Subscription{PeriodStart: unix(2026, 12, 10, 0), PeriodEnd: unix(2027, 1, 9, 0), TrialEnd: unix(2027, 1, 9, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: 0, project: 0, basis: []string{BasisRunRate}},
		{name: "cancel at period end", today: 1, revenue: daily(1, 19, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 20, 0), PeriodEnd: unix(2026, 12, 20, 0), CancelAtPeriodEnd: true,
				CancelAt: unix(2026, 12, 20, 0), Items: monthly(ledger.Dollars(310))},
			runRate: 0, project: ledger.Dollars(190), basis: []string{BasisRunRate}},
		{name: "cancel_at inside the next period: prorated", today: 4, revenue: daily(1, 9, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 10, 0), PeriodEnd: unix(2026, 12, 10, 0), CancelAt: unix(2026, 12, 25, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(150), project: ledger.Dollars(240), basis: []string{BasisRunRate}},
		{name: "cancel_at inside the invoiced period: the unused time is credited", today: 4, revenue: daily(1, 31, ten),
			sub: &Subscription{PeriodStart: unix(2026, 12, 1, 0), PeriodEnd: unix(2027, 1, 1, 0), CancelAt: unix(2026, 12, 21, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: -ledger.Dollars(110), project: ledger.Dollars(200), basis: []string{BasisRunRate}},
		{name: "paused collection until after the renewal", today: 2, revenue: daily(1, 4, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 5, 0), PeriodEnd: unix(2026, 12, 5, 0), Paused: true, ResumesAt: unix(2026, 12, 20, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: 0, project: ledger.Dollars(40), basis: []string{BasisRunRate}},
		{name: "paused collection that resumed before the renewal", today: 2, revenue: daily(1, 4, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 5, 0), PeriodEnd: unix(2026, 12, 5, 0), Paused: true, ResumesAt: unix(2026, 12, 3, 0),
				Items: monthly(ledger.Dollars(310))},
			runRate: ledger.Dollars(270), project: ledger.Dollars(310), basis: []string{BasisRunRate}},
		{name: "percent discount that stays, amount off that ends before the renewal", today: 10, revenue: daily(1, 15, ledger.Dollars(8)),
			sub: &Subscription{PeriodStart: unix(2026, 11, 16, 0), PeriodEnd: unix(2026, 12, 16, 0), Items: monthly(ledger.Dollars(310)),
				Discounts: []Discount{{PercentOff: 200_000_000}, {AmountOff: ledger.Dollars(31), End: unix(2026, 12, 10, 0)}}},
			runRate: ledger.Dollars(128), project: ledger.Dollars(248), basis: []string{BasisRunRate}},
		{name: "item discount amount off that still applies", today: 10,
			sub: &Subscription{PeriodStart: unix(2026, 11, 16, 0), PeriodEnd: unix(2026, 12, 16, 0),
				Items: []SubscriptionItem{{Amount: ledger.Dollars(341), Interval: "month", IntervalCount: 1,
					Discounts: []Discount{{AmountOff: ledger.Dollars(31), End: unix(2027, 3, 1, 0)}}}}},
			runRate: ledger.Dollars(160), project: ledger.Dollars(160), basis: []string{BasisRunRate}},
		{name: "the current period's invoice is still a draft: counted as the upcoming invoice", today: 20, revenue: daily(1, 15, ten),
			sub: &Subscription{PeriodStart: unix(2026, 12, 16, 0), PeriodEnd: unix(2027, 1, 16, 0), Items: monthly(ledger.Dollars(310)),
				Upcoming: ledger.Dollars(310)},
			runRate: ledger.Dollars(160), project: ledger.Dollars(310), basis: []string{BasisRunRate, BasisUpcomingInvoice}},
		{name: "metered price: not projected", today: 10, revenue: daily(1, 15, ten),
			sub: &Subscription{PeriodStart: unix(2026, 11, 16, 0), PeriodEnd: unix(2026, 12, 16, 0),
				Items: append(monthly(ledger.Dollars(310)), SubscriptionItem{Interval: "month", IntervalCount: 1, Metered: true})},
			runRate: ledger.Dollars(160), project: ledger.Dollars(310), basis: []string{BasisRunRate, BasisMeteredNotProjected}},
		{name: "metered price projected from the usage so far", today: 11,
			sub: &Subscription{PeriodStart: unix(2026, 12, 1, 0), PeriodEnd: unix(2027, 1, 1, 0),
				Items: []SubscriptionItem{{Interval: "month", IntervalCount: 1, Metered: true, UsageSoFar: ledger.Dollars(100), UsageAsOf: unix(2026, 12, 11, 0)}}},
			runRate: ledger.Dollars(310), project: ledger.Dollars(310), basis: []string{BasisRunRate, BasisMeteredUsageSoFar}},
		{name: "metered two-weekly price on the 1st: half a period of usage, carried into the renewals", today: 1,
			sub: &Subscription{PeriodStart: unix(2026, 11, 24, 0), PeriodEnd: unix(2026, 12, 8, 0),
				Items: []SubscriptionItem{{Interval: "week", IntervalCount: 2, Metered: true, UsageSoFar: ledger.Dollars(70), UsageAsOf: unix(2026, 12, 1, 0)}}},
			runRate: ledger.Dollars(310), project: ledger.Dollars(310), basis: []string{BasisRunRate, BasisMeteredUsageSoFar}},
		{name: "metered price with two days of usage: not projected", today: 3,
			sub: &Subscription{PeriodStart: unix(2026, 12, 1, 0), PeriodEnd: unix(2027, 1, 1, 0),
				Items: []SubscriptionItem{{Interval: "month", IntervalCount: 1, Metered: true, UsageSoFar: ledger.Dollars(20), UsageAsOf: unix(2026, 12, 3, 0)}}},
			runRate: 0, project: 0, basis: []string{BasisRunRate, BasisMeteredNotProjected}},
		{name: "no subscription: one-off invoices count once issued", today: 10, revenue: daily(3, 3, ledger.Dollars(250)),
			runRate: 0, project: ledger.Dollars(250), basis: []string{BasisInvoicedOnly}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var subs []Subscription
			if tc.sub != nil {
				s := *tc.sub
				s.ID, s.Customer = "sub_x", "cus_x"
				subs = append(subs, s)
			}
			// Revenue outside December never counts.
			rev := append(slices.Clone(tc.revenue), DailyRevenue{Customer: "cus_x", Day: dec(1) - 1, Amount: ledger.Dollars(99)},
				DailyRevenue{Customer: "cus_x", Day: dec(31) + 1, Amount: ledger.Dollars(99)})
			p := ProjectRevenue(rev, subs, dec(tc.today))["cus_x"]
			if p == nil {
				t.Fatal("no projection for cus_x")
			}
			var mtd ledger.Money
			for _, d := range tc.revenue {
				if d.Day <= dec(tc.today) {
					mtd += d.Amount
				}
			}
			if p.RunRate != tc.runRate || p.Projected != tc.project || p.MonthToDate != mtd || !slices.Equal(p.Basis, tc.basis) {
				t.Errorf("got run-rate %s projected %s month to date %s basis %v; want %s %s %s %v",
					p.RunRate, p.Projected, p.MonthToDate, p.Basis, tc.runRate, tc.project, mtd, tc.basis)
			}
		})
	}
}

// TestForecast_RunRateAndHistory joins cost and the subscription run-rate: on the 1st a customer
// whose renewal is tomorrow is healthy, one whose cost trend exceeds its run-rate is underwater,
// and a customer with two days of history is marked and not extrapolated.
func TestForecast_RunRateAndHistory(t *testing.T) {
	for _, today := range []usage.Day{dec(1), dec(31)} {
		var rows []CostRow
		for d := today - 7; d < today; d++ {
			rows = append(rows, row("cus_renews", "", d, ledger.Dollars(2), 1), row("cus_hot", "", d, ledger.Dollars(12), 1))
		}
		rows = append(rows, row("cus_new", "", today-2, ledger.Dollars(40), 1), row("cus_new", "", today-1, ledger.Dollars(40), 1),
			row("cus_new", "", today, ledger.Dollars(20), 1))
		res := &Result{Window: ForecastWindow(today), Rows: rows, Customers: map[string]CustomerInfo{}}
		// Each pays $310 a month, renewing the day after today (or already invoiced through month end).
		var revenue []DailyRevenue
		var subs []Subscription
		for _, id := range []string{"cus_renews", "cus_hot", "cus_new"} {
			start := time.Unix(int64(today+1)*secondsPerDay, 0).AddDate(0, -1, 0).Unix()
			subs = append(subs, Subscription{ID: "sub_" + id, Customer: id, PeriodStart: start, PeriodEnd: int64(today+1) * secondsPerDay,
				Items: monthly(ledger.Dollars(310))})
			for d := max(dec(1), usage.DayOf(time.Unix(start, 0))); d <= today; d++ { // the invoiced current period
				revenue = append(revenue, DailyRevenue{Customer: id, Day: d, Amount: ledger.Dollars(10)})
			}
		}
		fc := forecast(res, revenue, subs, today)
		got := map[string]ForecastLine{}
		for _, l := range fc.Customers {
			got[l.CustomerID] = l
		}
		daysLeft := int64(fc.DaysLeft)
		runRate := ledger.Dollars(10 * daysLeft) // the renewal period has 31 days at $10
		if today == dec(31) {
			runRate = 0 // renews on January 1st
		}
		renews, hot, fresh := got["cus_renews"], got["cus_hot"], got["cus_new"]
		invoiced := ledger.Dollars(10 * int64(today-dec(1)+1))
		if today == dec(1) {
			invoiced = ledger.Dollars(10)
		}
		mtdRenews := ledger.Dollars(2 * int64(today-max(today-7, dec(1))))
		if renews.Underwater || renews.ProjectedRevenue != invoiced+runRate || renews.RunRateRevenue != runRate ||
			renews.TrendDays != 7 || renews.ShortHistory || renews.DailyCostTrend != ledger.Dollars(2) ||
			renews.ProjectedCost != mtdRenews+ledger.Dollars(2*daysLeft) || !slices.Equal(renews.Basis, []string{BasisRunRate}) {
			t.Errorf("%s renews = %+v", today, renews)
		}
		if hot.DailyCostTrend != ledger.Dollars(12) || hot.Underwater != (ledger.Dollars(12)*ledger.Money(daysLeft)+ledger.Dollars(12)*ledger.Money(today-max(today-7, dec(1))) > invoiced+runRate) {
			t.Errorf("%s hot = %+v", today, hot)
		}
		if today == dec(1) && !hot.Underwater {
			t.Errorf("on the 1st, $12 a day against $10 a day must be underwater: %+v", hot)
		}
		// Two complete days of history: marked, trend not extrapolated, cost so far only.
		mtdNew := ledger.Dollars(20)
		for _, d := range []usage.Day{today - 2, today - 1} {
			if d >= dec(1) {
				mtdNew += ledger.Dollars(40)
			}
		}
		if !fresh.ShortHistory || fresh.TrendDays != 2 || fresh.DailyCostTrend != 0 || fresh.ProjectedCost != mtdNew {
			t.Errorf("%s new = %+v", today, fresh)
		}
	}
}
