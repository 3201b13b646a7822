package engine_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// demoWorld runs the real clients against the simulated world in-process, at a pinned clock.
func demoWorld(t *testing.T) (*simulator.World, *engine.Engine) {
	t.Helper()
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)})
	eng, err := engine.New(simengine.Options(w, "http://sim.invalid", &http.Client{Transport: w.Transport()}))
	if err != nil {
		t.Fatal(err)
	}
	return w, eng
}

func TestSimulatedWorld_AttributedPlusUnattributedEqualsBilled(t *testing.T) {
	w, eng := demoWorld(t)
	win, _ := eng.Window(31)
	f, err := eng.Fetch(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := eng.Compute(f)
	for _, warn := range res.Warnings {
		t.Logf("warning: %s", warn)
	}
	// The only estimates on settled days: Anthropic Priority Tier usage, which the cost report
	// never contains. The new shapes are all billed: the model no catalog knows, on priority
	// processing with long-context line items, and the cost report's undated alias.
	priorityEstimate := map[[2]any]ledger.Money{}
	var unknownModel, aliasModel ledger.Money
	for _, r := range res.Rows {
		if r.Estimated {
			if r.Provider.Name() != usage.Anthropic || r.ServiceTier() != usage.TierPriority || r.PriceSource != engine.PriceCatalog || r.Cost <= 0 {
				t.Errorf("settled row %+v is estimated", r)
			}
			priorityEstimate[[2]any{r.Provider.Name(), r.Day}] += r.Cost
			continue
		}
		if res.UnpricedOf(&r) != nil {
			t.Errorf("billed row %+v has unpriced tokens", r)
		}
		switch r.Model.String() {
		case "gpt-5.6-sol":
			unknownModel += r.Cost
			if r.ServiceTier() != usage.TierPriority {
				t.Errorf("gpt-5.6-sol row %+v: want priority tier", r)
			}
		case "claude-haiku-4-5-20251001":
			aliasModel += r.Cost
		case "claude-haiku-4-5":
			t.Errorf("the cost report's alias became a row of its own: %+v", r)
		}
	}
	if len(priorityEstimate) == 0 || unknownModel <= 0 || aliasModel <= 0 {
		t.Errorf("priority estimates on %d days, unknown model billed %s, aliased model billed %s: want all present", len(priorityEstimate), unknownModel, aliasModel)
	}
	var sawOpenRouter bool
	for _, rc := range res.Reconciliation {
		if rc.Attributed+rc.Unattributed != rc.Billed {
			t.Errorf("%s %s: attributed %s + unattributed %s != billed %s", rc.Provider, rc.Day, rc.Attributed, rc.Unattributed, rc.Billed)
		}
		if want := w.BilledTotal(rc.Provider, rc.Day); rc.Billed != want {
			t.Errorf("%s %s: billed %s, the world billed %s", rc.Provider, rc.Day, rc.Billed, want)
		}
		if rc.Estimated != priorityEstimate[[2]any{rc.Provider, rc.Day}] {
			t.Errorf("%s %s: %s estimated on a settled day, beyond Anthropic's Priority Tier", rc.Provider, rc.Day, rc.Estimated)
		}
		sawOpenRouter = sawOpenRouter || rc.Provider == usage.OpenRouter
	}
	if !sawOpenRouter || len(res.Reconciliation) < 3*30 {
		t.Fatalf("reconciliation covers %d provider-days, want every provider on every day", len(res.Reconciliation))
	}

	rep := engine.SummarizeFor(res, "usd", engine.DefaultTargetMargin)
	var billed ledger.Money
	for _, p := range usage.Providers {
		for d := kept(win, p); d < win.To; d++ {
			billed += w.BilledTotal(p, d)
		}
	}
	if got := rep.Totals.Attributed + rep.Totals.Unattributed; got != billed {
		t.Fatalf("attributed + unattributed = %s, the providers billed %s", got, billed)
	}
	if share, _ := ledger.Ratio(rep.Totals.Unattributed, rep.Totals.Cost); share < 0.15 || share > 0.25 {
		t.Errorf("unattributed share %.3f, want the world's ~20%%", share)
	}
}

func TestSimulatedWorld_CustomersMatchTheWorldsTruth(t *testing.T) {
	w, eng := demoWorld(t)
	win, _ := eng.Window(31)
	rep, err := eng.Report(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The world's own bill per true owner. Anthropic bills per workspace, so Margin's per-key split
	// is priced from the catalog; it matches the world's per-key truth to within rounding.
	truth := map[string]ledger.Money{}
	for _, src := range w.Sources() {
		c := w.CustomerOf(src)
		if c == "" {
			continue
		}
		for d := kept(win, src.Provider()); d < win.To; d++ {
			truth[c] += w.SourceBilled(src, d)
		}
	}
	byID := map[string]engine.CustomerLine{}
	for _, c := range rep.Customers {
		byID[c.CustomerID] = c
	}
	if len(byID) != len(w.Customers()) {
		t.Errorf("report has %d customers, the world %d", len(byID), len(w.Customers()))
	}
	for id, want := range truth {
		got := byID[id].Cost
		if diff := got - want; diff > ledger.Cent || diff < -ledger.Cent {
			t.Errorf("%s (%s): cost %s, the world billed %s", id, byID[id].Name, got, want)
		}
	}
	under := byID[w.UnderwaterCustomer()]
	if under.GrossMargin >= 0 {
		t.Errorf("underwater customer %s has margin %s, want negative", under.CustomerID, under.GrossMargin)
	}
	for _, c := range rep.Customers {
		if c.Name == "" || c.Plan == "" {
			t.Errorf("customer %s lacks name or plan: %+v", c.CustomerID, c)
		}
	}
	if len(rep.Unattributed) == 0 {
		t.Fatal("no unattributed sources listed")
	}
	for _, u := range rep.Unattributed {
		if u.Name == "" {
			t.Errorf("unattributed source %s has no provider-side name", u.Source)
		}
	}
}

func TestSimulatedWorld_TodayIsEstimated(t *testing.T) {
	w, eng := demoWorld(t)
	today := eng.Today()
	f, err := eng.Fetch(context.Background(), usage.Window{From: today - 1, To: today + 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := eng.Compute(f)
	var estimated, billedYesterday ledger.Money
	for _, r := range res.Rows {
		switch {
		case r.Day == today && !r.Estimated && r.Provider.Name() != usage.OpenRouter:
			t.Errorf("today's row %+v is not marked estimated", r)
		case r.Day == today:
			estimated += r.Cost
		case !r.Estimated:
			billedYesterday += r.Cost
		}
	}
	if estimated <= 0 || billedYesterday <= 0 {
		t.Fatalf("estimated today %s, billed yesterday %s: want both positive", estimated, billedYesterday)
	}
	// Today's OpenAI usage is priced at the rates of yesterday's bills, which carry the world's
	// negotiated, priority and long-context prices the catalog does not know; OpenAI's partial
	// bill for today's tokens (which Margin does not count before the day settles) is the check.
	var openaiToday ledger.Money
	for _, r := range res.Rows {
		if r.Day == today && r.Provider.Name() == usage.OpenAI {
			openaiToday += r.Cost
			if r.PriceSource != engine.PriceLearned {
				t.Errorf("today's row %+v: price source %q, want learned", r, r.PriceSource)
			}
		}
	}
	if want := w.BilledModelTotal(usage.OpenAI, today); openaiToday-want > ledger.Cent || want-openaiToday > ledger.Cent {
		t.Errorf("today's OpenAI estimate %s, the world bills %s so far", openaiToday, want)
	}
}

func TestSimulatedWorld_FailingSourceIsNamed(t *testing.T) {
	w, eng := demoWorld(t)
	w.SetFailing("anthropic", http.StatusForbidden)
	win, _ := eng.Window(3)
	f, err := eng.Fetch(context.Background(), win, nil)
	if err == nil {
		t.Fatal("fetch with a failing source returned no error")
	}
	var names []string
	for _, b := range f.Batches {
		names = append(names, string(b.Provider))
	}
	if len(f.Batches) != 2 || f.Revenue == nil {
		t.Fatalf("the other sources must still deliver; got %v", names)
	}
	if got := err.Error(); !strings.Contains(got, "anthropic") || !strings.Contains(got, "403") {
		t.Errorf("error %q does not name the source and status", got)
	}
}

// kept is the first day of the window the provider still serves (OpenRouter keeps 30 days).
func kept(win usage.Window, p usage.Provider) usage.Day {
	return max(win.From, win.To-usage.Day(p.RetentionDays()))
}

func TestSimulatedWorld_InsightsHaveSomethingToShow(t *testing.T) {
	w, eng := demoWorld(t)
	win, _ := eng.Window(31)
	rep, err := eng.Report(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	losing, mapped := 0, 0
	for _, f := range rep.Features {
		if f.Feature != engine.UnassignedFeature {
			mapped++
		}
		if f.Customers > 0 && f.GrossMargin < 0 {
			losing++
		}
	}
	if mapped < 3 || losing < 1 {
		t.Errorf("features %+v: want at least three, one losing money", rep.Features)
	}
	if len(rep.Plans) != 3 {
		t.Errorf("plans = %+v, want the world's three", rep.Plans)
	}
	for _, p := range rep.Plans {
		if p.PriceForTarget <= 0 || p.PriceForTargetRatio == nil || p.CostPerCustomerP90 <= 0 {
			t.Errorf("plan %s has no price for the target: %+v", p.Plan, p)
		}
	}
	if rep.Forecast == nil || rep.Forecast.Underwater < 1 {
		t.Fatalf("forecast = %+v, want a customer projected underwater", rep.Forecast)
	}
	var underwater bool
	for _, c := range rep.Forecast.Customers {
		underwater = underwater || (c.CustomerID == w.UnderwaterCustomer() && c.Underwater)
	}
	if !underwater {
		t.Errorf("the world's underwater customer %s is not projected underwater", w.UnderwaterCustomer())
	}
	spike := rep.Customers[0]
	if spike.CostVsAverage == nil || *spike.CostVsAverage < 2 || spike.Rank != 1 {
		t.Errorf("the top customer %+v is not several times the average", spike)
	}
}
