package engine

import (
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func row(customer, feature string, d usage.Day, cost ledger.Money, tokens int64) CostRow {
	return CostRow{Day: d, Provider: usage.OpenAI.ID(), Source: usage.Intern("openai:api_key:" + customer + feature),
		Customer: usage.Intern(customer), Feature: usage.Intern(feature), Model: usage.Intern("m"), Cost: cost, Tokens: usage.Tokens{Input: tokens}}
}

func TestFeatureLines(t *testing.T) {
	res := &Result{
		Window: usage.Window{From: day0, To: day0 + 1},
		Rows: []CostRow{
			row("cus_a", "chat", day0, ledger.Dollars(3), 10),
			row("cus_a", "agent", day0, ledger.Dollars(1), 10),
			row("cus_b", "agent", day0, ledger.Dollars(6), 10),
			row("", "evals", day0, ledger.Dollars(2), 10), // a feature with no mapped customer
			row("cus_b", "", day0, ledger.Dollars(2), 10), // unassigned
		},
		Revenue:   []DailyRevenue{{Customer: "cus_a", Day: day0, Amount: ledger.Dollars(8)}, {Customer: "cus_b", Day: day0, Amount: ledger.Dollars(4)}},
		Customers: map[string]CustomerInfo{"cus_a": {ID: "cus_a"}, "cus_b": {ID: "cus_b"}},
	}
	rep := SummarizeFor(res, "usd", DefaultTargetMargin)
	got := map[string]FeatureLine{}
	for _, f := range rep.Features {
		got[f.Feature] = f
	}
	for _, tc := range []struct {
		feature         string
		cost, revenue   ledger.Money
		customers       int
		undefinedMargin bool
	}{
		// cus_a's $8 splits 3:1 over chat and agent; cus_b's $4 splits 6:2 over agent and unassigned.
		{"chat", ledger.Dollars(3), ledger.Dollars(6), 1, false},
		{"agent", ledger.Dollars(7), ledger.Dollars(5), 2, false},
		{"evals", ledger.Dollars(2), 0, 0, true},
		{UnassignedFeature, ledger.Dollars(2), ledger.Dollars(1), 1, false},
	} {
		f, ok := got[tc.feature]
		if !ok {
			t.Fatalf("no line for %s in %+v", tc.feature, rep.Features)
		}
		if f.Cost != tc.cost || f.Revenue != tc.revenue || f.Customers != tc.customers || f.GrossMargin != tc.revenue-tc.cost {
			t.Errorf("%s = %+v, want cost %s revenue %s customers %d", tc.feature, f, tc.cost, tc.revenue, tc.customers)
		}
		if (f.GrossMarginRatio == nil) != tc.undefinedMargin {
			t.Errorf("%s margin ratio %v, undefined want %v", tc.feature, f.GrossMarginRatio, tc.undefinedMargin)
		}
	}
	if rep.Features[0].Feature != "agent" {
		t.Errorf("features not sorted by cost: %+v", rep.Features)
	}
}

func TestPlanLines(t *testing.T) {
	res := &Result{
		Window: usage.Window{From: day0, To: day0 + 1},
		Rows: []CostRow{
			row("cus_1", "", day0, ledger.Dollars(10), 1),
			row("cus_2", "", day0, ledger.Dollars(20), 1),
			row("cus_3", "", day0, ledger.Dollars(60), 1),
			row("cus_solo", "", day0, 7*ledger.Dollar, 1),
			row("cus_free", "", day0, ledger.Dollars(1), 1),
		},
		Revenue: []DailyRevenue{
			{Customer: "cus_1", Day: day0, Amount: ledger.Dollars(100)},
			{Customer: "cus_2", Day: day0, Amount: ledger.Dollars(100)},
			{Customer: "cus_3", Day: day0, Amount: ledger.Dollars(100)},
			{Customer: "cus_solo", Day: day0, Amount: ledger.Dollars(10)},
		},
		Customers: map[string]CustomerInfo{
			"cus_1": {ID: "cus_1", Plan: "growth"}, "cus_2": {ID: "cus_2", Plan: "growth"}, "cus_3": {ID: "cus_3", Plan: "growth"},
			"cus_solo": {ID: "cus_solo", Plan: "enterprise"}, "cus_free": {ID: "cus_free", Plan: "free"},
		},
	}
	rep := SummarizeFor(res, "usd", 600_000_000) // target 0.60
	got := map[string]PlanLine{}
	for _, p := range rep.Plans {
		got[p.Plan] = p
	}
	g := got["growth"]
	// mean cost $30, p90 (nearest rank of 3) $60, price for 60% = 30 / 0.4 = $75, 0.75 of $100.
	if g.Customers != 3 || g.CostPerCustomer != ledger.Dollars(30) || g.CostPerCustomerP90 != ledger.Dollars(60) ||
		g.RevenuePerCustomer != ledger.Dollars(100) || g.PriceForTarget != ledger.Dollars(75) || *g.PriceForTargetRatio != 0.75 || g.TargetMargin != 0.6 {
		t.Errorf("growth = %+v", g)
	}
	// A plan with one customer: its own numbers; $7 / 0.4 = $17.50, 1.75× today's $10.
	s := got["enterprise"]
	if s.Customers != 1 || s.CostPerCustomerP90 != 7*ledger.Dollar || s.PriceForTarget != 17*ledger.Dollar+50*ledger.Cent || *s.PriceForTargetRatio != 1.75 {
		t.Errorf("enterprise = %+v", s)
	}
	// Zero revenue: margin ratio and multiple undefined, never a division by zero.
	f := got["free"]
	if f.GrossMarginRatio != nil || f.PriceForTargetRatio != nil || f.PriceForTarget != ledger.Dollars(1)*10/4 {
		t.Errorf("free = %+v", f)
	}
}

func TestAverages(t *testing.T) {
	res := &Result{
		Window: usage.Window{From: day0, To: day0 + 1},
		Rows: []CostRow{
			row("cus_big", "", day0, ledger.Dollars(30), 300),
			row("cus_small", "", day0, ledger.Dollars(10), 100),
			row("cus_trial", "", day0, ledger.Dollars(5), 1000), // not paying: not in the average
		},
		Revenue: []DailyRevenue{{Customer: "cus_big", Day: day0, Amount: ledger.Dollars(50)}, {Customer: "cus_small", Day: day0, Amount: ledger.Dollars(50)}},
	}
	rep := SummarizeFor(res, "usd", DefaultTargetMargin)
	want := map[string]struct {
		tokens, cost float64
		rank         int
	}{
		"cus_big":   {1.5, 1.5, 1},
		"cus_small": {0.5, 0.5, 2},
		"cus_trial": {5, 0.25, 3},
	}
	for _, c := range rep.Customers {
		w := want[c.CustomerID]
		if c.TokensVsAverage == nil || *c.TokensVsAverage != w.tokens || *c.CostVsAverage != w.cost || c.Rank != w.rank {
			t.Errorf("%s: tokens×%v cost×%v rank %d, want %+v", c.CustomerID, deref(c.TokensVsAverage), deref(c.CostVsAverage), c.Rank, w)
		}
	}
	// No paying customer: multiples are undefined.
	res.Revenue = nil
	for _, c := range SummarizeFor(res, "usd", DefaultTargetMargin).Customers {
		if c.TokensVsAverage != nil || c.CostVsAverage != nil {
			t.Errorf("%s has multiples without paying customers", c.CustomerID)
		}
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return -1
	}
	return *f
}

func TestForecast(t *testing.T) {
	// 2026-11-27 is day 20419; the month has 3 days left after it.
	today, _ := usage.ParseDay("2026-11-27")
	monthStart, _ := usage.ParseDay("2026-11-01")
	var rows []CostRow
	for d := today - 7; d < today; d++ {
		rows = append(rows, row("cus_hot", "", d, ledger.Dollars(4), 1), row("cus_ok", "", d, ledger.Dollars(1), 1))
	}
	rows = append(rows, row("cus_hot", "", today, ledger.Dollars(2), 1)) // today's partial estimate
	res := &Result{Window: usage.Window{From: monthStart, To: today + 1}, Rows: rows,
		Customers: map[string]CustomerInfo{"cus_hot": {ID: "cus_hot", Name: "Hot", Plan: "starter"}}}
	var revenue []DailyRevenue
	for d := monthStart; d < monthStart+30; d++ {
		revenue = append(revenue, DailyRevenue{Customer: "cus_hot", Day: d, Amount: ledger.Dollars(1)}, DailyRevenue{Customer: "cus_ok", Day: d, Amount: ledger.Dollars(2)})
	}
	revenue = append(revenue, DailyRevenue{Customer: "cus_hot", Day: monthStart + 30, Amount: ledger.Dollars(99)}) // next month
	fc := forecast(res, revenue, nil, today)
	if fc.Month != "2026-11" || fc.DaysLeft != 3 || fc.TrendDays != 7 || fc.Underwater != 1 {
		t.Fatalf("forecast = %+v", fc)
	}
	hot := fc.Customers[0]
	// cost: 7 × $4 + $2 today = $30 so far, trend $4/day × 3 days = $42; revenue $30 for the month.
	if hot.CustomerID != "cus_hot" || hot.CostMonthToDate != ledger.Dollars(30) || hot.DailyCostTrend != ledger.Dollars(4) ||
		hot.ProjectedCost != ledger.Dollars(42) || hot.RevenueMonthToDate != ledger.Dollars(27) || hot.ProjectedRevenue != ledger.Dollars(30) ||
		hot.ProjectedMargin != -ledger.Dollars(12) || !hot.Underwater || hot.Name != "Hot" {
		t.Errorf("hot = %+v", hot)
	}
	if ok := fc.Customers[1]; ok.Underwater || ok.ProjectedCost != ledger.Dollars(10) || ok.ProjectedRevenue != ledger.Dollars(60) {
		t.Errorf("ok = %+v", ok)
	}
}

func TestForecast_OneDayOfData(t *testing.T) {
	today, _ := usage.ParseDay("2026-12-01") // the first of the month: no complete day yet
	res := &Result{Window: usage.Window{From: today, To: today + 1},
		Rows: []CostRow{row("cus_new", "", today, ledger.Dollars(5), 1)}}
	fc := forecast(res, nil, nil, today)
	c := fc.Customers[0]
	if fc.TrendDays != 0 || fc.DaysLeft != 30 || c.DailyCostTrend != 0 || c.ProjectedCost != ledger.Dollars(5) || !c.Underwater ||
		!c.ShortHistory || c.TrendDays != 0 || len(c.Basis) != 1 || c.Basis[0] != BasisInvoicedOnly {
		t.Errorf("forecast = %+v, customer %+v", fc, c)
	}
}
