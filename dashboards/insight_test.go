package dashboards

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
)

// findDashboard returns the dashboard in file.
func findDashboard(t *testing.T, file string) dashboard {
	t.Helper()
	for _, d := range loadDashboards(t) {
		if d.file == file {
			return d
		}
	}
	t.Fatalf("%s not found", file)
	return dashboard{}
}

// panelTargets returns the query of each refId of the panel titled title.
func (d dashboard) panelTargets(t *testing.T, title string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tg := range d.targets() {
		if tg.panel == title {
			out[str(tg.q["refId"])] = str(tg.q["expr"])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no panel %q with targets", d.file, title)
	}
	return out
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// The overview's forecast panels compute exactly what the recording rules behind
// MarginCustomerProjectedUnderwater record (whose values the promtool tests pin), so the panel and
// the alert never disagree.
func TestOverview_ForecastPanelsUseTheRecordingRulesExpressions(t *testing.T) {
	records := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			records[r.Record] = normalizeSpace(r.Expr)
		}
	}
	cost := records["customer_id:margin_llm_net_cost_usd:projected_month_end"]
	revenue := records["customer_id:margin_revenue_usd:projected_month_end"]
	if cost == "" || revenue == "" || !strings.Contains(cost, "predict_linear") {
		t.Fatalf("the projected month-end recording rules are missing or not built on predict_linear")
	}
	// Revenue steps at invoices: it is projected from the subscriptions (the exporter's gauge), never
	// extrapolated from the revenue counter.
	if !strings.Contains(revenue, "margin_customer_revenue_projected_month_end_usd") || strings.Contains(revenue, "predict_linear") {
		t.Errorf("projected revenue must be the subscription run-rate gauge, not a trend: %s", revenue)
	}
	d := findDashboard(t, "margin-overview.json")
	forecast := d.panelTargets(t, "Month-end forecast")
	if normalizeSpace(forecast["C"]) != cost {
		t.Errorf("Month-end forecast C (projected cost) differs from the recording rule:\n%s\n%s", forecast["C"], cost)
	}
	if normalizeSpace(forecast["D"]) != revenue {
		t.Errorf("Month-end forecast D (projected revenue) differs from the recording rule:\n%s\n%s", forecast["D"], revenue)
	}
	for ref, expr := range map[string]string{
		"Month-end forecast E":             forecast["E"],
		"Customers projected underwater A": d.panelTargets(t, "Customers projected underwater")["A"],
	} {
		if e := normalizeSpace(expr); !strings.Contains(e, "("+cost+")") || !strings.Contains(e, "("+revenue+")") {
			t.Errorf("%s does not use both recording rules' expressions:\n%s", ref, expr)
		}
	}
}

// target_margin defaults to the engine's default, so the dashboard and `margin report` price for the
// same margin unless someone picks another.
func TestOverview_TargetMarginVariableDefaultsToTheEnginesDefault(t *testing.T) {
	d := findDashboard(t, "margin-overview.json")
	got, ok := d.constantValues()["target_margin"]
	if !ok {
		t.Fatal("no custom/constant variable target_margin")
	}
	want := strconv.FormatFloat(float64(engine.DefaultTargetMargin)/float64(ledger.RateOne), 'f', -1, 64)
	if got != want {
		t.Errorf("target_margin defaults to %s, the engine to %s", got, want)
	}
	if e := d.panelTargets(t, "Price for a target margin")["E"]; !strings.Contains(e, "/ (1 - $target_margin)") {
		t.Errorf("the price does not divide by (1 - $target_margin):\n%s", e)
	}
}

// insightWorld is one day (hourly points) of two plans, in promtool's series notation. Per day:
//
//	customer plan     revenue  cost (gross − adjustments)  tokens (input + output; reasoning)
//	cus_a    starter  24       12                          2400 + 2400; 1200
//	cus_b    starter  24       30 − 3 = 27                 4800
//	cus_c    starter  —        —                           —
//	cus_d    pro      96       9                           9600
//	unattributed      —        6                           —
//
// Starter: 3 customers, revenue 48/3 = 16 and cost 39/3 = 13 per customer, p90 of [0, 12, 27] = 24
// (Prometheus interpolates: 12 + 0.8 × 15); at a 0.75 target the price is 13 / 0.25 = 52, 3.25×
// today's. Pro: 96, 9, p90 9, price 36, 0.375×. Paying customers (a, b, d) average 48/3 = 16 of cost
// and 19200/3 = 6400 tokens (counting reasoning, which output already includes, would make it 6800).
const insightWorld = `
      - series: 'margin_customer_info{customer_id="cus_a",name="A",plan="starter"}'
        values: '1x24'
      - series: 'margin_customer_info{customer_id="cus_b",name="B",plan="starter"}'
        values: '1x24'
      - series: 'margin_customer_info{customer_id="cus_c",name="C",plan="starter"}'
        values: '1x24'
      - series: 'margin_customer_info{customer_id="cus_d",name="D",plan="pro"}'
        values: '1x24'
      - series: 'margin_revenue_usd_total{customer_id="cus_a"}'
        values: '0+1x24'
      - series: 'margin_revenue_usd_total{customer_id="cus_b"}'
        values: '0+1x24'
      - series: 'margin_revenue_usd_total{customer_id="cus_d"}'
        values: '0+4x24'
      - series: 'margin_llm_cost_usd_total{provider="openai",model="gpt-4.1",customer_id="cus_a"}'
        values: '0+0.5x24'
      - series: 'margin_llm_cost_usd_total{provider="openai",model="gpt-4.1",customer_id="cus_b"}'
        values: '0+1x24'
      - series: 'margin_llm_cost_usd_total{provider="anthropic",model="claude-sonnet-4-5",customer_id="cus_b"}'
        values: '0+0.25x24'
      - series: 'margin_llm_cost_adjustments_usd_total{provider="openai",customer_id="cus_b"}'
        values: '0+0.125x24'
      - series: 'margin_llm_cost_usd_total{provider="openai",model="gpt-4.1-mini",customer_id="cus_d"}'
        values: '0+0.375x24'
      - series: 'margin_llm_cost_usd_total{provider="openai",model="gpt-4.1",customer_id="unattributed"}'
        values: '0+0.25x24'
      - series: 'margin_llm_tokens_total{provider="openai",model="gpt-4.1",customer_id="cus_a",token_type="input"}'
        values: '0+100x24'
      - series: 'margin_llm_tokens_total{provider="openai",model="gpt-4.1",customer_id="cus_a",token_type="output"}'
        values: '0+100x24'
      - series: 'margin_llm_tokens_total{provider="openai",model="gpt-4.1",customer_id="cus_a",token_type="reasoning"}'
        values: '0+50x24'
      - series: 'margin_llm_tokens_total{provider="openai",model="gpt-4.1",customer_id="cus_b",token_type="input"}'
        values: '0+200x24'
      - series: 'margin_llm_tokens_total{provider="openai",model="gpt-4.1-mini",customer_id="cus_d",token_type="input"}'
        values: '0+400x24'
`

// The pricing and customer-vs-average panels' PromQL, evaluated by promtool on insightWorld over a
// one-day range, gives the exact numbers worked out above.
func TestInsightPanels_PromQLGivesTheExpectedNumbers(t *testing.T) {
	overview := findDashboard(t, "margin-overview.json")
	customer := findDashboard(t, "customer.json")
	price := overview.panelTargets(t, "Price for a target margin")
	vsAverage := customer.panelTargets(t, "This customer vs the average paying customer")
	subst := func(expr, customerID string) string {
		return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
			sub := grafanaVar.FindStringSubmatch(m)
			switch name := sub[1] + sub[2]; name {
			case "__range":
				return "1d"
			case "target_margin":
				return "0.75"
			case "customer_id":
				return customerID
			default:
				t.Fatalf("unexpected variable %s in %s", name, expr)
				return ""
			}
		})
	}
	type sample struct {
		labels string
		value  float64
	}
	cases := []struct {
		name, expr string
		want       []sample
	}{
		{"customers per plan", price["A"], []sample{{`{plan="starter"}`, 3}, {`{plan="pro"}`, 1}}},
		{"revenue per customer", price["B"], []sample{{`{plan="starter"}`, 16}, {`{plan="pro"}`, 96}}},
		{"cost per customer", price["C"], []sample{{`{plan="starter"}`, 13}, {`{plan="pro"}`, 9}}},
		{"cost per customer p90", price["D"], []sample{{`{plan="starter"}`, 24}, {`{plan="pro"}`, 9}}},
		{"price for the target margin", price["E"], []sample{{`{plan="starter"}`, 52}, {`{plan="pro"}`, 36}}},
		{"multiple of today's price", price["F"], []sample{{`{plan="starter"}`, 3.25}, {`{plan="pro"}`, 0.375}}},
		{"cus_b cost vs average", subst(vsAverage["A"], "cus_b"), []sample{{`{}`, 27.0 / 16}}},
		{"cus_a cost vs average", subst(vsAverage["A"], "cus_a"), []sample{{`{}`, 0.75}}},
		{"cus_b tokens vs average", subst(vsAverage["B"], "cus_b"), []sample{{`{}`, 0.75}}},
		{"cus_d tokens vs average", subst(vsAverage["B"], "cus_d"), []sample{{`{}`, 1.5}}},
		{"cus_b rank", subst(vsAverage["C"], "cus_b"), []sample{{`{}`, 1}}},
		{"cus_a rank", subst(vsAverage["C"], "cus_a"), []sample{{`{}`, 2}}},
		{"cus_d rank", subst(vsAverage["C"], "cus_d"), []sample{{`{}`, 3}}},
	}
	var b strings.Builder
	b.WriteString("rule_files: [empty.yml]\nevaluation_interval: 1h\ntests:\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "  - name: %q\n    interval: 1h\n    input_series:%s    promql_expr_test:\n", c.name, insightWorld)
		fmt.Fprintf(&b, "      - expr: %q\n        eval_time: 24h\n        exp_samples:\n", subst(c.expr, ""))
		for _, s := range c.want {
			fmt.Fprintf(&b, "          - labels: '%s'\n            value: %s\n", s.labels, strconv.FormatFloat(s.value, 'g', -1, 64))
		}
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "empty.yml"), "groups: []\n")
	write(t, filepath.Join(dir, "insight_test.yml"), b.String())
	cmd := exec.Command(promtool(t), "test", "rules", "insight_test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool: %v\n%s", err, out)
	}
}
