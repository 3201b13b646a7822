package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestReport_DemoJSONFollowsTheContract(t *testing.T) {
	out, _, err := runCLI(t, "report", "--demo", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for _, k := range []string{"from", "to", "currency", "totals", "providers", "customers", "unattributed", "features", "plans", "forecast"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	totals := rep["totals"].(map[string]any)
	for _, k := range []string{"revenue_usd", "cost_usd", "attributed_cost_usd", "unattributed_cost_usd", "gross_margin_usd", "gross_margin_ratio"} {
		if _, ok := totals[k].(float64); !ok {
			t.Errorf("totals.%s = %v, want a number", k, totals[k])
		}
	}
	customers := rep["customers"].([]any)
	if len(customers) < 30 {
		t.Fatalf("%d customers, want the demo company's ~40", len(customers))
	}
	first := customers[0].(map[string]any)
	for _, k := range []string{"customer_id", "name", "plan", "revenue_usd", "cost_usd", "gross_margin_usd", "gross_margin_ratio", "cost_share", "tokens", "requests", "tokens_vs_average", "cost_vs_average", "rank"} {
		if _, ok := first[k]; !ok {
			t.Errorf("customer lacks %q", k)
		}
	}
	// Exact decimals: the JSON amounts add up like the engine's fixed-point sums.
	var typed engine.Report
	if err := json.Unmarshal([]byte(out), &typed); err != nil {
		t.Fatal(err)
	}
	if typed.Totals.Attributed+typed.Totals.Unattributed+typed.Totals.Estimated != typed.Totals.Cost {
		t.Errorf("totals do not add up: %+v", typed.Totals)
	}
}

func TestReport_DemoTableShowsEverySection(t *testing.T) {
	out, _, err := runCLI(t, "report", "--demo", "--days=7")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"7 complete UTC days", "Revenue", "Gross margin", "Spend by provider", "Spend by model",
		"Customers (by LLM cost)", "COST VS AVG", "Unattributed spend", "Reconciliation", "openrouter", "anthropic:workspace:default",
		"Cost by product feature", "agent", "unassigned", "Plans: price per customer for a 65% gross margin", "PRICE FOR TARGET",
		"Month-end forecast", "UNDERWATER"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q", want)
		}
	}
}

func TestReport_DemoCSV(t *testing.T) {
	out, _, err := runCLI(t, "report", "--demo", "--format=csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][1] != "customer_id" || len(rows) < 35 {
		t.Fatalf("csv header %v, %d rows", rows[0], len(rows))
	}
	kinds := map[string]int{}
	for _, r := range rows[1:] {
		kinds[r[0]]++
	}
	if kinds["customer"] == 0 || kinds["unattributed"] == 0 {
		t.Errorf("row kinds %v, want customers and unattributed sources", kinds)
	}
}

func TestReport_DaysCappedWithANote(t *testing.T) {
	_, errOut, err := runCLI(t, "report", "--demo", "--days=400", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "--days 400 capped to 365: Margin reads at most 365 days") ||
		!strings.Contains(errOut, "openrouter documents only its last 30 completed days") {
		t.Errorf("stderr %q does not say the window was capped and what OpenRouter documents", errOut)
	}
}

func TestCheck_Demo(t *testing.T) {
	out, _, err := runCLI(t, "check", "--demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"openai", "anthropic", "openrouter", "stripe"} {
		if !strings.Contains(out, src+" ") || strings.Contains(out, "FAILED") {
			t.Errorf("check output %q: want %s ok", out, src)
		}
	}
}

func TestCheck_BadKeySaysWhyWithoutTheKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "margin.yaml")
	// A closed port: unreachable, and the key must not be echoed.
	if err := os.WriteFile(cfg, []byte("providers:\n  openai:\n    admin_key: sk-admin-SECRETSECRET123\n    base_url: http://127.0.0.1:1/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration // the retries' backoff, recorded instead of waited
	retrySleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	t.Cleanup(func() { retrySleep = nil })
	out, errOut, err := runCLI(t, "check", "--config.file="+cfg)
	if err == nil {
		t.Fatal("check against an unreachable API succeeded")
	}
	if len(waits) == 0 {
		t.Error("check gave up on an unreachable API without retrying")
	}
	if !strings.Contains(out, "openai") || !strings.Contains(out, "unreachable") {
		t.Errorf("check output %q does not say openai is unreachable", out)
	}
	if strings.Contains(out+errOut+err.Error(), "SECRETSECRET") {
		t.Error("the key leaked into the output")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("providers:\n  openai:\n    admin_kye: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `"frobnicate"`},
		{[]string{"report"}, "--config.file is required"},
		{[]string{"report", "--demo", "--format=xml"}, `--format "xml"`},
		{[]string{"report", "--config.file=" + bad}, "providers.openai.admin_kye"},
		{[]string{"report", "--config.file=" + filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
	} {
		_, _, err := runCLI(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("margin %v: exit %d, error %v; want exit 2 mentioning %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

func TestMoneyFormatting(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "$0.00"}, {1_234_567_890_000, "$1,234.57"}, {-3_100_000_000, "-$3.10"}, {999_999_999, "$1.00"}, {5_000_000, "$0.01"},
	} {
		if got := money(engineMoney(tc.in)); got != tc.want {
			t.Errorf("money(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func engineMoney(n int64) ledger.Money { return ledger.Money(n) }
