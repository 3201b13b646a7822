package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/views"
)

// TestQueryData_GoldenFrames checks every query type's frames against testdata/<name>.jsonc, at
// the pinned clock. Run with -update to rewrite them after an intended change.
func TestQueryData_GoldenFrames(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	ids := s.world.Customers()
	two := fmt.Sprintf(`[%q, %q]`, ids[0], ids[1])
	for _, tc := range []struct {
		name  string
		tr    backend.TimeRange
		query string
	}{
		{"customers", days(7), `{"queryType":"customers"}`},
		{"customers_filtered", days(7), `{"queryType":"customers","customerIds":` + two + `,"providers":["openai"]}`},
		{"costs_provider", days(7), `{"queryType":"costs"}`},
		{"costs_customer_filtered", days(7), `{"queryType":"costs","groupBy":"customer","customerIds":["` + ids[2] + `,unattributed"]}`},
		{"costs_model_openrouter", days(3), `{"queryType":"costs","groupBy":"model","providers":"openrouter"}`},
		{"margin_overall", days(7), `{"queryType":"margin"}`},
		{"margin_plan", days(7), `{"queryType":"margin","groupBy":"plan"}`},
		{"margin_customer_filtered", days(3), `{"queryType":"margin","groupBy":"customer","customerIds":` + two + `}`},
		{"unattributed", days(7), `{"queryType":"unattributed"}`},
		{"reconciliation_clamped", days(60), `{"queryType":"reconciliation"}`},
		{"plans", days(7), `{"queryType":"plans"}`},
		{"plans_filtered", days(7), `{"queryType":"plans","customerIds":` + two + `}`},
		{"customers_before_retention", backend.TimeRange{From: days(400).From, To: days(380).From}, `{"queryType":"customers"}`},
		{"costs_feature", days(7), `{"queryType":"costs","groupBy":"feature"}`},
		{"features", days(7), `{"queryType":"features"}`},
		{"features_filtered", days(7), `{"queryType":"features","customerIds":` + two + `}`},
		{"plans_target_80", days(7), `{"queryType":"plans","targetMargin":0.8}`},
		// The forecast reads this month whatever the dashboard's range.
		{"forecast", days(3), `{"queryType":"forecast"}`},
		{"forecast_filtered", days(30), `{"queryType":"forecast","customerIds":` + two + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := query(t, ds, tc.tr, tc.query)
			if resp.Error != nil {
				t.Fatalf("error: %v", resp.Error)
			}
			experimental.CheckGoldenJSONResponse(t, "testdata", tc.name, &resp, *update)
		})
	}
}

// TestQueryData_CustomersMatchTheEngine compares the customers frame with the engine's own report
// over the same days: the frame adds nothing and loses nothing.
func TestQueryData_CustomersMatchTheEngine(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	resp := query(t, ds, days(10), `{"queryType":"customers"}`)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	eng, err := engine.New(simengine.Options(s.world, s.srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	today := usage.DayOf(testNow)
	f, err := eng.Fetch(context.Background(), usage.Window{From: today - 10, To: today}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := engine.SummarizeFor(eng.Compute(f), "usd", engine.DefaultTargetMargin)
	frame := resp.Frames[0]
	if frame.Rows() != len(rep.Customers) || frame.Rows() == 0 {
		t.Fatalf("%d rows, the engine has %d customers", frame.Rows(), len(rep.Customers))
	}
	if frame.Meta.Type != data.FrameTypeNumericLong {
		t.Fatalf("frame type %q, want numeric-long", frame.Meta.Type)
	}
	for i, c := range rep.Customers {
		id := frame.Fields[0].At(i).(string)
		revenue := frame.Fields[3].At(i).(float64)
		cost := frame.Fields[4].At(i).(float64)
		if id != c.CustomerID || revenue != c.Revenue.Float64() || cost != c.Cost.Float64() {
			t.Errorf("row %d: %s revenue %v cost %v; engine: %s revenue %s cost %s", i, id, revenue, cost, c.CustomerID, c.Revenue, c.Cost)
		}
	}
}

// TestQueryData_ErrorsPerRefID checks that each bad query gets its own downstream error with a
// message a person can act on, and never fails its neighbours.
func TestQueryData_ErrorsPerRefID(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	queries := []backend.DataQuery{
		{RefID: "ok", QueryType: "unattributed", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"unattributed"}`)},
		{RefID: "badjson", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":`)},
		{RefID: "unknown", QueryType: "profit", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"profit"}`)},
		{RefID: "hourly", QueryType: "costs", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"costs","interval":"1h"}`)},
		{RefID: "group", QueryType: "costs", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"costs","groupBy":"plan"}`)},
		{RefID: "provider", QueryType: "costs", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"costs","providers":["azure"]}`)},
		{RefID: "target", QueryType: "plans", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"plans","targetMargin":1.5}`)},
		{RefID: "variable", QueryType: "customers", TimeRange: days(2), JSON: json.RawMessage(`{"queryType":"customers","customerIds":["$customer"]}`)},
	}
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Responses["ok"]; r.Error != nil || len(r.Frames) != 1 || r.Frames[0].Rows() == 0 {
		t.Fatalf("ok: error %v, %d frames", r.Error, len(r.Frames))
	}
	for ref, want := range map[string]string{
		"badjson":  "the query is not valid JSON",
		"unknown":  `unknown queryType "profit": want one of customers, costs, margin, unattributed, reconciliation, plans, features, forecast`,
		"target":   `targetMargin: want a gross margin between 0 and 1 such as 0.65, got 1.5`,
		"hourly":   "interval 1h is not available: the providers' usage and cost APIs are read in daily UTC buckets; use 1d",
		"group":    `groupBy "plan" does not apply to costs: want provider, model, customer, feature`,
		"provider": `providers: unknown provider "azure"`,
		"variable": `customerIds: "$customer" looks like a template variable that was not replaced`,
	} {
		r := resp.Responses[ref]
		if r.Error == nil || !strings.Contains(r.Error.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", ref, r.Error, want)
			continue
		}
		if r.ErrorSource != backend.ErrorSourceDownstream || r.Status != backend.StatusBadRequest {
			t.Errorf("%s: source %q status %d, want downstream 400", ref, r.ErrorSource, r.Status)
		}
	}
}

func TestQueryData_ProviderFaultIsDownstreamAndNamesTheSource(t *testing.T) {
	s := newSim(t, simulator.Config{})
	wrongKey := "sk-admin-wrong-00000000000000000000000000"
	ds := s.datasource(t, func(_ map[string]any, secure map[string]string) { secure["openaiAdminKey"] = wrongKey })
	resp := query(t, ds, days(3), `{"queryType":"customers"}`)
	if resp.Error == nil {
		t.Fatal("want an error for the rejected key")
	}
	msg := resp.Error.Error()
	if want := "openai: the key was rejected (HTTP 401)"; !strings.Contains(msg, want) {
		t.Fatalf("message %q, want it to contain %q", msg, want)
	}
	if strings.Contains(msg, wrongKey) || strings.Contains(msg, simulator.StripeAPIKey) {
		t.Fatalf("message %q echoes a key", msg)
	}
	if resp.ErrorSource != backend.ErrorSourceDownstream || resp.Status != backend.StatusBadGateway {
		t.Fatalf("source %q status %d, want downstream 502", resp.ErrorSource, resp.Status)
	}
}

func TestQueryData_InvalidSettingsAnswerEveryQuery(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, func(j map[string]any, _ map[string]string) { j["customerMapping"] = "acme: [openai:project:p]" })
	resp := query(t, ds, days(3), `{"queryType":"customers"}`)
	want := "the datasource settings need fixing: customerMapping.acme: want a Stripe customer id such as cus_ABC123 (line 1)"
	if resp.Error == nil || resp.Error.Error() != want {
		t.Fatalf("error %v, want %q", resp.Error, want)
	}
	if resp.ErrorSource != backend.ErrorSourceDownstream {
		t.Fatalf("source %q, want downstream", resp.ErrorSource)
	}
}

// TestQueryData_CachesClosedDaysAndRecomputesNothing runs the same query twice and a narrower
// one: only the first reaches the APIs.
func TestQueryData_CachesClosedDaysAndRecomputesNothing(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	first := query(t, ds, days(7), `{"queryType":"customers"}`)
	n := s.requests.Load()
	if first.Error != nil || n == 0 {
		t.Fatalf("first query: error %v after %d requests", first.Error, n)
	}
	again := query(t, ds, days(7), `{"queryType":"customers"}`)
	narrower := query(t, ds, days(3), `{"queryType":"costs"}`)
	if again.Error != nil || narrower.Error != nil {
		t.Fatal(again.Error, narrower.Error)
	}
	if got := s.requests.Load(); got != n {
		t.Fatalf("%d more requests for cached days, want none", got-n)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatal("the cached answer differs from the first")
	}
	ds.Dispose()
	if r := query(t, ds, days(7), `{"queryType":"customers"}`); r.Error != nil {
		t.Fatal(r.Error)
	}
	if got := s.requests.Load(); got == n {
		t.Fatal("no requests after Dispose: the cache was not released")
	}
}

func TestCallResource_PickerLists(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	get := func(path string, out any) int {
		t.Helper()
		var status int
		var body []byte
		err := ds.CallResource(context.Background(), &backend.CallResourceRequest{Method: http.MethodGet, Path: path, URL: path},
			backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
				if r.Status != 0 {
					status = r.Status
				}
				body = append(body, r.Body...)
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				t.Fatalf("%s: %v in %s", path, err, body)
			}
		}
		return status
	}
	var providers []string
	if st := get("providers", &providers); st != 200 || strings.Join(providers, ",") != "openai,anthropic,openrouter" {
		t.Fatalf("providers: %d %v", st, providers)
	}
	var customers []CustomerOption
	if st := get("customers", &customers); st != 200 || len(customers) < len(s.world.Customers()) {
		t.Fatalf("customers: %d, %d entries for %d customers", st, len(customers), len(s.world.Customers()))
	}
	for _, c := range customers {
		if !strings.HasPrefix(c.ID, "cus_") {
			t.Fatalf("customer option %+v has no Stripe id", c)
		}
	}
	var models []ModelOption
	if st := get("models", &models); st != 200 || len(models) == 0 {
		t.Fatalf("models: %d %v", st, models)
	}
	var plans []string
	if st := get("plans", &plans); st != 200 || strings.Join(plans, ",") != "Enterprise,Growth,Starter" {
		t.Fatalf("plans: %d %v", st, plans)
	}
	var features []string
	want := "agent,chat,search,summarizer,unassigned"
	if st := get("features", &features); st != 200 || strings.Join(features, ",") != want {
		t.Fatalf("features: %d %v, want %s", st, features, want)
	}
	if st := get("nothing", nil); st != http.StatusNotFound {
		t.Fatalf("unknown route: status %d, want 404", st)
	}
}

// TestQueryData_ForecastMatchesTheEngine compares the forecast frame with the forecast `margin
// report` prints (Engine.Report): same customers, same exact amounts, same underwater flags.
func TestQueryData_ForecastMatchesTheEngine(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	resp := query(t, ds, days(2), `{"queryType":"forecast"}`)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	eng, err := engine.New(simengine.Options(s.world, s.srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	today := usage.DayOf(testNow)
	rep, err := eng.Report(context.Background(), usage.Window{From: today - 1, To: today}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fc := rep.Forecast
	frame := resp.Frames[0]
	if fc == nil || frame.Rows() != len(fc.Customers) || frame.Rows() == 0 {
		t.Fatalf("%d rows, the engine forecasts %v", frame.Rows(), fc)
	}
	if fc.Underwater == 0 {
		t.Fatal("the simulated world has a customer projected underwater; the engine found none")
	}
	var runRate bool
	for _, l := range fc.Customers {
		runRate = runRate || l.RunRateRevenue > 0
	}
	if !runRate {
		t.Fatal("no customer's forecast carries a subscription run-rate: the frame comparison would prove little")
	}
	field := func(name string, i int) any {
		f, _ := frame.FieldByName(name)
		if f == nil {
			t.Fatalf("no field %s", name)
		}
		return f.At(i)
	}
	underwater := 0
	for i, l := range fc.Customers {
		got := []any{field("customer_id", i), field("cost_month_to_date_usd", i), field("revenue_month_to_date_usd", i),
			field("daily_cost_trend_usd", i), field("projected_cost_usd", i), field("projected_revenue_usd", i),
			field("projected_margin_usd", i), field("projected_underwater", i), field("run_rate_revenue_usd", i),
			field("basis", i), field("trend_days", i), field("short_history", i)}
		want := []any{l.CustomerID, l.CostMonthToDate.Float64(), l.RevenueMonthToDate.Float64(),
			l.DailyCostTrend.Float64(), l.ProjectedCost.Float64(), l.ProjectedRevenue.Float64(),
			l.ProjectedMargin.Float64(), l.Underwater, l.RunRateRevenue.Float64(),
			strings.Join(l.Basis, ","), int64(l.TrendDays), l.ShortHistory}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("row %d: %v, engine %v", i, got, want)
		}
		if l.Underwater {
			underwater++
		}
	}
	meta, ok := frame.Meta.Custom.(views.ForecastMeta)
	if !ok || meta.Month != fc.Month || meta.Through != fc.Through || meta.DaysLeft != fc.DaysLeft || meta.Underwater != underwater {
		t.Fatalf("meta %+v, engine month %s through %s days left %d underwater %d", frame.Meta.Custom, fc.Month, fc.Through, fc.DaysLeft, underwater)
	}
}

// TestQueryData_FeatureCostsAddUp checks that costs by feature split the same spend as costs by
// provider, day by day, and that unmapped sources fall under "unassigned".
func TestQueryData_FeatureCostsAddUp(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, nil)
	daily := func(q string) (map[string][]float64, []float64) {
		t.Helper()
		resp := query(t, ds, days(5), q)
		if resp.Error != nil {
			t.Fatal(resp.Error)
		}
		series := map[string][]float64{}
		total := make([]float64, 5)
		for _, f := range resp.Frames {
			v := f.Fields[1]
			label := v.Labels["feature"] + v.Labels["provider"]
			for i := range v.Len() {
				x := v.At(i).(float64)
				series[label] = append(series[label], x)
				total[i] += x
			}
		}
		return series, total
	}
	byFeature, featureTotal := daily(`{"queryType":"costs","groupBy":"feature"}`)
	_, providerTotal := daily(`{"queryType":"costs"}`)
	for _, f := range []string{simulator.FeatureChat, simulator.FeatureSummarizer, simulator.FeatureSearch, simulator.FeatureAgent, engine.UnassignedFeature} {
		if _, ok := byFeature[f]; !ok {
			t.Errorf("no series for feature %q (have %v)", f, len(byFeature))
		}
	}
	for i := range featureTotal {
		// Float sums of the same nano-dollar amounts in different groupings: a cent apart at most.
		if d := featureTotal[i] - providerTotal[i]; d > 0.01 || d < -0.01 {
			t.Errorf("day %d: features sum to %v, providers to %v", i, featureTotal[i], providerTotal[i])
		}
	}
}

// TestQueryData_PlansTargetFromSettings prices plans for the settings' targetMargin unless the
// query sets its own.
func TestQueryData_PlansTargetFromSettings(t *testing.T) {
	s := newSim(t, simulator.Config{})
	ds := s.datasource(t, func(j map[string]any, _ map[string]string) { j["targetMargin"] = 0.5 })
	for _, tc := range []struct {
		query string
		want  float64
	}{
		{`{"queryType":"plans"}`, 0.5},
		{`{"queryType":"plans","targetMargin":"0.9"}`, 0.9},
	} {
		resp := query(t, ds, days(7), tc.query)
		if resp.Error != nil {
			t.Fatal(resp.Error)
		}
		f := resp.Frames[0]
		target, _ := f.FieldByName("target_margin")
		perCost, _ := f.FieldByName("cost_per_customer_usd")
		price, _ := f.FieldByName("price_for_target_usd")
		for i := range f.Rows() {
			if target.At(i).(float64) != tc.want {
				t.Fatalf("%s: target %v, want %v", tc.query, target.At(i), tc.want)
			}
			// price × (1 − target) = cost per customer, to the nano-dollar's float rendering.
			if got, want := price.At(i).(float64)*(1-tc.want), perCost.At(i).(float64); got-want > 1e-6 || want-got > 1e-6 {
				t.Errorf("%s row %d: price %v at %v keeps %v, cost per customer %v", tc.query, i, price.At(i), tc.want, got, want)
			}
		}
	}
}
