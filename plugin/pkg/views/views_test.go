package views

import (
	"math"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/models"
)

const d0 = usage.Day(20000)

var window = usage.Window{From: d0, To: d0 + 3}

func usd(s string) ledger.Money {
	m, err := ledger.ParseDollars(s)
	if err != nil {
		panic(err)
	}
	return m
}

var sym = usage.Intern

// world is three days of two customers' spend and revenue, unattributed spend, and rows outside
// the window that every view must leave out.
func world() Input {
	res := &engine.Result{
		Window: window,
		Rows: []engine.CostRow{
			{Day: d0, Provider: usage.OpenAI.ID(), Model: sym("gpt-4o"), Customer: sym("cus_A"), Feature: sym("chat"), Cost: usd("2.00"), Requests: 2},
			{Day: d0 + 1, Provider: usage.OpenAI.ID(), Model: sym("gpt-4o"), Customer: sym("cus_B"), Cost: usd("1.00")},
			{Day: d0 + 1, Provider: usage.Anthropic.ID(), Model: sym("claude"), Customer: sym("cus_A"), Feature: sym("search"), Cost: usd("3.00")},
			{Day: d0 + 2, Provider: usage.OpenRouter.ID(), Model: sym("m"), Source: sym("openrouter:key:abc"), Cost: usd("0.50")},
			{Day: d0 + 5, Provider: usage.OpenAI.ID(), Model: sym("gpt-4o"), Customer: sym("cus_A"), Cost: usd("100.00")},
		},
		Revenue: []engine.DailyRevenue{
			{Customer: "cus_A", Day: d0, Amount: usd("10.00")},
			{Customer: "cus_B", Day: d0 + 1, Amount: usd("0.50")},
			{Customer: "cus_A", Day: d0 - 1, Amount: usd("1000.00")},
		},
		Customers: map[string]engine.CustomerInfo{
			"cus_A": {ID: "cus_A", Name: "Acme", Plan: "pro"},
			"cus_B": {ID: "cus_B", Name: "", Plan: ""},
		},
		Reconciliation: []engine.Reconciliation{
			{Provider: usage.OpenAI, Day: d0, Billed: usd("2.00"), Attributed: usd("2.00")},
			{Provider: usage.OpenRouter, Day: d0 + 2, Billed: usd("0.50"), Unattributed: usd("0.50")},
			{Provider: usage.OpenAI, Day: d0 + 5, Billed: usd("100.00")},
		},
	}
	inWindow := &engine.Result{Window: res.Window, Customers: res.Customers, Reconciliation: res.Reconciliation}
	for _, r := range res.Rows {
		if window.Contains(r.Day) {
			inWindow.Rows = append(inWindow.Rows, r)
		}
	}
	for _, d := range res.Revenue {
		if window.Contains(d.Day) {
			inWindow.Revenue = append(inWindow.Revenue, d)
		}
	}
	target := ledger.Rate(650_000_000)
	return Input{Window: window, Result: res, Report: engine.SummarizeFor(inWindow, "usd", target), Query: &models.Query{}, TargetMargin: target}
}

func with(in Input, q models.Query) Input {
	in.Query = &q
	return in
}

func field(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl
		}
	}
	t.Fatalf("frame %s has no field %s", f.Name, name)
	return nil
}

func floatsOf(t *testing.T, f *data.Field) []float64 {
	t.Helper()
	out := make([]float64, f.Len())
	for i := range out {
		switch v := f.At(i).(type) {
		case float64:
			out[i] = v
		case *float64:
			out[i] = math.NaN()
			if v != nil {
				out[i] = *v
			}
		default:
			t.Fatalf("%s[%d] is %T", f.Name, i, v)
		}
	}
	return out
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCosts_GroupsSumToTheWindowsSpend(t *testing.T) {
	in := world()
	for _, g := range []models.GroupBy{models.GroupNone, models.GroupProvider, models.GroupModel, models.GroupCustomer, models.GroupFeature} {
		frames := Costs(with(in, models.Query{GroupBy: g}))
		var total float64
		for _, f := range frames {
			if f.Meta.Type != data.FrameTypeTimeSeriesMulti || f.Fields[0].Len() != window.Days() {
				t.Fatalf("%s: frame type %s with %d points", g, f.Meta.Type, f.Fields[0].Len())
			}
			v := field(t, f, "cost_usd")
			if v.Config.Unit != unitUSD || v.Config.DisplayNameFromDS == "" || len(v.Labels) == 0 {
				t.Fatalf("%s: cost field unit %q display %q labels %v", g, v.Config.Unit, v.Config.DisplayNameFromDS, v.Labels)
			}
			total += sum(floatsOf(t, v))
		}
		if !near(total, 6.50) {
			t.Errorf("%s: series sum to %v, want the window's 6.50 (the day outside left out)", g, total)
		}
	}
	byCustomer := Costs(with(in, models.Query{GroupBy: models.GroupCustomer}))
	want := map[string]string{"cus_A": "Acme", "cus_B": "cus_B", models.UnattributedID: models.UnattributedID}
	if len(byCustomer) != len(want) {
		t.Fatalf("%d customer series, want %d", len(byCustomer), len(want))
	}
	for _, f := range byCustomer {
		v := field(t, f, "cost_usd")
		if id := v.Labels["customer_id"]; v.Config.DisplayNameFromDS != want[id] {
			t.Errorf("customer %s displayed as %q, want %q", id, v.Config.DisplayNameFromDS, want[id])
		}
	}
	features := Costs(with(in, models.Query{GroupBy: models.GroupFeature}))
	if got := field(t, features[len(features)-1], "cost_usd").Labels["feature"]; got != engine.UnassignedFeature {
		t.Errorf("last feature series %q, want %q for rows without a feature", got, engine.UnassignedFeature)
	}
}

func TestCosts_FiltersAndTheEmptyResponse(t *testing.T) {
	in := world()
	frames := Costs(with(in, models.Query{Providers: models.StringList{"openai"}, CustomerIDs: models.StringList{"cus_A"}}))
	if len(frames) != 1 {
		t.Fatalf("%d frames, want openai alone", len(frames))
	}
	if got := floatsOf(t, field(t, frames[0], "cost_usd")); !near(got[0], 2) || !near(got[1], 0) || !near(got[2], 0) {
		t.Fatalf("openai for cus_A %v, want [2 0 0]", got)
	}
	unattributed := Costs(with(in, models.Query{CustomerIDs: models.StringList{models.UnattributedID}}))
	if len(unattributed) != 1 || !near(sum(floatsOf(t, field(t, unattributed[0], "cost_usd"))), 0.5) {
		t.Fatal("the unattributed filter does not select unattributed spend")
	}
	empty := Costs(with(in, models.Query{Providers: models.StringList{"nobody"}}))
	if len(empty) != 1 || len(empty[0].Fields) != 0 || empty[0].Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Fatalf("empty costs: %d frames, want one typed frame without fields", len(empty))
	}
}

func TestMargin_OverallGroupedAndFiltered(t *testing.T) {
	in := world()
	f := Margin(in)[0]
	if f.Meta.Type != data.FrameTypeTimeSeriesWide {
		t.Fatalf("type %s", f.Meta.Type)
	}
	rev, cost := floatsOf(t, field(t, f, "revenue_usd")), floatsOf(t, field(t, f, "cost_usd"))
	if !near(sum(rev), 10.5) || !near(sum(cost), 6.5) {
		t.Fatalf("overall revenue %v cost %v, want 10.50 and 6.50 (unattributed spend in the company's cost)", rev, cost)
	}
	ratio := floatsOf(t, field(t, f, "gross_margin_ratio"))
	if !near(ratio[0], 0.8) || !near(ratio[1], (0.5-4)/0.5) || !math.IsNaN(ratio[2]) {
		t.Fatalf("ratios %v, want 0.8, -7 and null where there is no revenue", ratio)
	}
	byCustomer := Margin(with(in, models.Query{GroupBy: models.GroupCustomer}))[0]
	if n := len(byCustomer.Fields); n != 1+2*4 {
		t.Fatalf("%d fields by customer, want time and four per paying customer (no unattributed)", n)
	}
	for _, fl := range byCustomer.Fields[1:] {
		if fl.Labels["customer_id"] == "cus_A" && fl.Name == "revenue_usd" && fl.Config.DisplayNameFromDS != "Acme revenue" {
			t.Errorf("display %q", fl.Config.DisplayNameFromDS)
		}
	}
	byPlan := Margin(with(in, models.Query{GroupBy: models.GroupPlan}))[0]
	plans := map[string]bool{}
	for _, fl := range byPlan.Fields[1:] {
		plans[fl.Labels["plan"]] = true
	}
	if !plans["pro"] || !plans[noPlan] || len(plans) != 2 {
		t.Fatalf("plans %v, want pro and %s", plans, noPlan)
	}
	onlyB := Margin(with(in, models.Query{CustomerIDs: models.StringList{"cus_B"}}))[0]
	if got := sum(floatsOf(t, field(t, onlyB, "cost_usd"))); !near(got, 1) {
		t.Fatalf("cus_B's cost %v, want 1 (no unattributed spend under a customer filter)", got)
	}
	none := Margin(Input{Window: window, Result: &engine.Result{Window: window}, Query: &models.Query{}})[0]
	if len(none.Fields) != 5 || sum(floatsOf(t, field(t, none, "cost_usd"))) != 0 {
		t.Fatal("an empty company has no zero margin line")
	}
}

func TestTables_FollowTheReportAndTheFilters(t *testing.T) {
	in := world()
	// engine.Compute's Result holds only its window's rows, as the plugin computes it; the time
	// series views also guard against others, the tables need not.
	res := *in.Result
	res.Rows = nil
	for _, r := range in.Result.Rows {
		if window.Contains(r.Day) {
			res.Rows = append(res.Rows, r)
		}
	}
	in.Result = &res
	customers := Customers(with(in, models.Query{CustomerIDs: models.StringList{"cus_A"}}))[0]
	if customers.Rows() != 1 || field(t, customers, "customer_id").At(0) != "cus_A" || field(t, customers, "revenue_usd").Config.Unit != unitUSD {
		t.Fatalf("customers for cus_A: %d rows", customers.Rows())
	}
	if got := floatsOf(t, field(t, customers, "cost_usd")); !near(got[0], 5) {
		t.Fatalf("cus_A cost %v, want 5", got)
	}
	if all := Customers(in)[0]; all.Rows() != len(in.Report.Customers) {
		t.Fatalf("%d customer rows, report has %d", all.Rows(), len(in.Report.Customers))
	}
	empty := Customers(with(in, models.Query{CustomerIDs: models.StringList{"cus_nobody"}}))[0]
	if empty.Rows() != 0 || len(empty.Fields) != 13 || empty.Fields[4].Type() != data.FieldTypeFloat64 {
		t.Fatalf("an empty table must keep typed fields: %d rows %d fields", empty.Rows(), len(empty.Fields))
	}

	un := Unattributed(in)[0]
	if un.Rows() != 1 || field(t, un, "source").At(0) != "openrouter:key:abc" {
		t.Fatalf("unattributed: %d rows", un.Rows())
	}
	if Unattributed(with(in, models.Query{Providers: models.StringList{"openai"}}))[0].Rows() != 0 {
		t.Fatal("the provider filter does not apply to unattributed spend")
	}

	rc := Reconciliation(in)[0]
	if rc.Rows() != 2 || rc.Meta.Type != data.FrameTypeTimeSeriesLong {
		t.Fatalf("reconciliation: %d rows, want the window's 2", rc.Rows())
	}
	if Reconciliation(with(in, models.Query{Providers: models.StringList{"openrouter"}}))[0].Rows() != 1 {
		t.Fatal("the provider filter does not apply to reconciliation")
	}

	plans := Plans(in)[0]
	if plans.Rows() != len(in.Report.Plans) || plans.Rows() == 0 {
		t.Fatalf("%d plan rows, report has %d", plans.Rows(), len(in.Report.Plans))
	}
	onlyA := Plans(with(in, models.Query{CustomerIDs: models.StringList{"cus_A"}}))[0]
	if onlyA.Rows() != 1 || field(t, onlyA, "plan").At(0) != "pro" || !near(floatsOf(t, field(t, onlyA, "target_margin"))[0], 0.65) {
		t.Fatalf("plans for cus_A: %d rows", onlyA.Rows())
	}

	features := Features(in)[0]
	var cost float64
	for _, c := range floatsOf(t, field(t, features, "cost_usd")) {
		cost += c
	}
	if !near(cost, 6.5) {
		t.Fatalf("feature costs sum to %v, want 6.50", cost)
	}
	fa := Features(with(in, models.Query{CustomerIDs: models.StringList{"cus_A"}}))[0]
	if got := sum(floatsOf(t, field(t, fa, "cost_usd"))); !near(got, 5) {
		t.Fatalf("cus_A's features cost %v, want 5", got)
	}
}

func TestForecast_RowsAndMeta(t *testing.T) {
	in := world()
	if f := Forecast(in)[0]; f.Rows() != 0 || f.Meta.Custom.(ForecastMeta) != (ForecastMeta{}) {
		t.Fatalf("no forecast: %d rows, meta %+v", f.Rows(), f.Meta.Custom)
	}
	in.Forecast = &engine.Forecast{Month: "2024-10", Through: "2024-10-06", DaysLeft: 25, TrendDays: 3, Customers: []engine.ForecastLine{
		{CustomerID: "cus_B", Plan: "", CostMonthToDate: usd("1"), ProjectedCost: usd("10"), ProjectedRevenue: usd("5"), ProjectedMargin: usd("-5"), Underwater: true},
		{CustomerID: "cus_A", Name: "Acme", Plan: "pro", ProjectedMargin: usd("50")},
	}}
	f := Forecast(in)[0]
	meta := f.Meta.Custom.(ForecastMeta)
	if f.Rows() != 2 || meta.Underwater != 1 || meta.Month != "2024-10" || meta.DaysLeft != 25 || meta.TrendDays != 3 {
		t.Fatalf("forecast: %d rows, meta %+v", f.Rows(), meta)
	}
	if name := field(t, f, "name").At(0); name != "cus_B" {
		t.Fatalf("a customer without a name shows %q, want its id", name)
	}
	if got := floatsOf(t, field(t, f, "projected_margin_usd")); !near(got[0], -5) {
		t.Fatalf("projected margin %v", got)
	}
	if only := Forecast(with(in, models.Query{CustomerIDs: models.StringList{"cus_A"}}))[0]; only.Rows() != 1 || field(t, only, "projected_underwater").At(0) != false {
		t.Fatal("the customer filter does not apply to the forecast")
	}
}
