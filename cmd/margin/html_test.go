package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
)

// pinnedReport is the simulated world's 31-day report at a fixed clock, computed once per call.
func pinnedReport(t *testing.T) (*engine.Report, int) {
	t.Helper()
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)})
	eng, err := engine.New(simengine.Options(w, "http://simulator.margin.invalid", &http.Client{Transport: w.Transport()}))
	if err != nil {
		t.Fatal(err)
	}
	win, _ := eng.Window(31)
	rep, err := eng.Report(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep, win.Days()
}

func renderHTML(t *testing.T, rep *engine.Report, days int) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeHTML(&b, rep, days); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var customerBar = regexp.MustCompile(`<g data-customer="([^"]+)" data-margin="([^"]+)">\s*<title>[^<]*</title>\s*<text[^>]*>[^<]*</text>\s*<rect [^>]*fill="([^"]+)"`)

func TestReportHTML_ShowsTheJSONReportsNumbers(t *testing.T) {
	rep, days := pinnedReport(t)
	// The page is rendered from the report as the JSON output decodes it: the same data.
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var decoded engine.Report
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	page := renderHTML(t, &decoded, days)

	for _, want := range []string{money(rep.Totals.Revenue), money(rep.Totals.Cost), money(rep.Totals.GrossMargin),
		percent(rep.Totals.GrossMarginRatio) + " of revenue", share(rep.Totals.Cost, rep.Totals.Revenue), money(rep.Totals.Unattributed)} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks the headline number %q", want)
		}
	}

	// Gross margin per customer: every customer with revenue or cost, with the JSON's exact
	// margin, worst first, underwater (and only underwater) in the warning colour.
	want := map[string]ledger.Money{}
	for _, c := range rep.Customers {
		if c.Revenue != 0 || c.Cost != 0 {
			want[c.CustomerID] = c.GrossMargin
		}
	}
	bars := customerBar.FindAllStringSubmatch(page, -1)
	if len(bars) != len(want) || len(bars) < 30 {
		t.Fatalf("%d customer bars, want the %d customers with activity", len(bars), len(want))
	}
	underwater := 0
	prev := ledger.Money(-1 << 62)
	for _, b := range bars {
		m, err := ledger.ParseDollars(b[2])
		if err != nil {
			t.Fatalf("bar %s: margin %q: %v", b[1], b[2], err)
		}
		if m != want[b[1]] {
			t.Errorf("customer %s: bar says %s, JSON says %s", b[1], m, want[b[1]])
		}
		if m < prev {
			t.Errorf("customer %s (%s) after one with %s: not worst first", b[1], m, prev)
		}
		prev = m
		if (m < 0) != (b[3] == colourUnderwater) {
			t.Errorf("customer %s with margin %s drawn in %s", b[1], m, b[3])
		}
		if m < 0 {
			underwater++
		}
	}
	if underwater == 0 {
		t.Error("the simulated world has underwater customers; none drawn as such")
	}

	// Plans: the price for the target margin of each.
	for _, p := range rep.Plans {
		if !strings.Contains(page, `data-plan="`+p.Plan+`"`) || !strings.Contains(page, `data-amount="`+p.PriceForTarget.String()+`"`) {
			t.Errorf("plan %s: no bar with its price for the target, %s", p.Plan, p.PriceForTarget)
		}
	}
	// Unattributed sources with their provider-side names.
	if len(rep.Unattributed) == 0 {
		t.Fatal("the simulated world has unattributed spend")
	}
	for _, u := range rep.Unattributed {
		row := regexp.MustCompile(`<tr data-source="` + regexp.QuoteMeta(string(u.Source)) + `"><td><code>[^<]+</code></td><td class="text">` + regexp.QuoteMeta(u.Name) + `</td>`)
		if !row.MatchString(page) {
			t.Errorf("unattributed source %s (%q) not listed with its name", u.Source, u.Name)
		}
	}
	// The forecast, the Pareto statement and the daily chart.
	fc := rep.Forecast
	if fc == nil || !strings.Contains(page, "Month-end forecast, "+fc.Month) || !regexp.MustCompile(`>\s*\d+ of \d+</strong> customers are projected underwater`).MatchString(page) {
		t.Error("the page lacks the month-end forecast")
	}
	if !regexp.MustCompile(`The top 20% of customers by LLM cost \(\d+ of \d+\) account for <strong>\d+\.\d%</strong>`).MatchString(page) {
		t.Error("the page lacks the Pareto statement")
	}
	if n := strings.Count(page, "<rect data-day="); n < 30 {
		t.Errorf("%d daily spend rectangles, want a stack per day", n)
	}
}

func TestReportHTML_IsSelfContained(t *testing.T) {
	rep, days := pinnedReport(t)
	page := renderHTML(t, rep, days)
	// Nothing that makes the browser fetch or run anything: no script, no external reference.
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "http://", "https://", "<link", "<img", "<iframe", "NaN", "+Inf", "-Inf"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	for _, chart := range []string{"customer-margin", "pareto", "daily-spend", "plans"} {
		if !strings.Contains(page, `<svg data-chart="`+chart+`"`) {
			t.Errorf("no %s chart", chart)
		}
	}
}

func TestReportHTML_EscapesNamesAndSurvivesAnEmptyReport(t *testing.T) {
	r := 0.5
	rep := &engine.Report{From: "2026-11-01", To: "2026-11-02", Currency: "usd",
		Customers:    []engine.CustomerLine{{CustomerID: "cus_1", Name: `<script>alert("x")</script>`, Revenue: ledger.Dollars(2), Cost: ledger.Dollars(1), GrossMargin: ledger.Dollars(1), GrossMarginRatio: &r}},
		Unattributed: []engine.UnattributedLine{{Source: "openai:project:proj_1", Name: `"><img src=x>`, Cost: ledger.Dollars(1)}},
	}
	page := renderHTML(t, rep, 1)
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") {
		t.Error("a customer or source name went into the page unescaped")
	}
	empty := renderHTML(t, &engine.Report{From: "2026-11-01", To: "2026-11-02", Currency: "usd"}, 1)
	for _, bad := range []string{"NaN", "+Inf", "-Inf"} {
		if strings.Contains(page+empty, bad) {
			t.Errorf("a page contains %q", bad)
		}
	}
	if !strings.Contains(empty, "None: every source is mapped") {
		t.Error("an empty report does not say there is nothing to map")
	}
}

func TestReport_HTMLFormatWritesOnePageToStdout(t *testing.T) {
	out, _, err := runCLI(t, "report", "--demo", "--format=html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "<!DOCTYPE html>") || strings.Count(out, "</html>") != 1 {
		t.Fatalf("stdout is not one HTML page: %.200q", out)
	}
}
