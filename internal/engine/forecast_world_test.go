package engine_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
)

// TestSimulatedWorld_ForecastOverEveryDayOfAMonth runs the report on the simulated world for every
// day of December 2026: only the world's underwater customer is ever flagged (no healthy customer
// whose renewal falls later in the month, and none on the 1st), and each subscription case rests
// on what it should.
func TestSimulatedWorld_ForecastOverEveryDayOfAMonth(t *testing.T) {
	bases := map[string]int{}
	for day := 1; day <= 31; day++ {
		now := time.Date(2026, 12, day, 9, 30, 0, 0, time.UTC)
		w := simulator.New(simulator.Config{Now: now})
		eng, err := engine.New(simengine.Options(w, "http://sim.invalid", &http.Client{Transport: w.Transport()}))
		if err != nil {
			t.Fatal(err)
		}
		win, _ := eng.Window(1)
		rep, err := eng.Report(context.Background(), win, nil)
		if err != nil {
			t.Fatalf("%s: %v", now, err)
		}
		fc := rep.Forecast
		lines := map[string]engine.ForecastLine{}
		for _, l := range fc.Customers {
			lines[l.CustomerID] = l
			if l.ShortHistory || l.TrendDays != 7 {
				t.Errorf("%s: %s has %d trend days (short %v), the world has months of history", now.Format(time.DateOnly), l.CustomerID, l.TrendDays, l.ShortHistory)
			}
		}
		cases := w.ForecastCases()
		// A void or uncollectible invoice is revenue the customer really does not pay: those may be
		// underwater in a month, every other customer but the world's underwater one is healthy.
		under := w.UnderwaterCustomer()
		if !lines[under].Underwater {
			t.Errorf("%s: the underwater customer %s is not flagged", now.Format(time.DateOnly), under)
		}
		for _, l := range fc.Customers {
			if l.Underwater && l.CustomerID != under && !slices.Contains(cases["unpaid_invoice"], l.CustomerID) {
				t.Errorf("%s: healthy customer %s (%s) flagged underwater: %+v", now.Format(time.DateOnly), l.CustomerID, l.Name, l)
			}
		}
		for _, id := range cases["draft_invoice"] {
			if l := lines[id]; l.Underwater || !slices.Contains(l.Basis, engine.BasisUpcomingInvoice) {
				t.Errorf("%s: customer %s with a draft invoice: %+v", now.Format(time.DateOnly), id, l)
			}
		}
		has := func(id, basis string) bool { return slices.Contains(lines[id].Basis, basis) }
		// The metered price is projected from its usage so far once 3 days of its period have passed,
		// and says it is not projected before.
		for _, id := range cases["metered"] {
			if !has(id, engine.BasisRunRate) || has(id, engine.BasisMeteredNotProjected) == has(id, engine.BasisMeteredUsageSoFar) {
				t.Errorf("%s: metered customer %s has basis %v", now.Format(time.DateOnly), id, lines[id].Basis)
			}
		}
		for _, l := range fc.Customers {
			for _, b := range l.Basis {
				bases[b]++
			}
		}
		for _, id := range cases["trial"] {
			l := lines[id]
			if day < 15 && (l.RevenueMonthToDate != 0 || l.RunRateRevenue <= 0) {
				t.Errorf("%s: trial customer before its trial ends: %+v", now.Format(time.DateOnly), l)
			}
			if day > 15 && l.RunRateRevenue != 0 {
				t.Errorf("%s: trial customer after its trial ended renews in January, run-rate %s", now.Format(time.DateOnly), l.RunRateRevenue)
			}
		}
		for _, id := range append(cases["cancel_at_period_end"], cases["yearly"]...) {
			if l := lines[id]; l.RunRateRevenue != 0 || l.ProjectedRevenue <= 0 {
				t.Errorf("%s: %s (cancelling or yearly) adds no run-rate to its invoices: %+v", now.Format(time.DateOnly), id, l)
			}
		}
		for _, id := range cases["renews_after_today"] {
			if l := lines[id]; day < 28 && l.RunRateRevenue <= 0 {
				t.Errorf("%s: %s renews tomorrow but has no run-rate: %+v", now.Format(time.DateOnly), id, l)
			}
		}
	}
	for _, b := range []string{engine.BasisRunRate, engine.BasisUpcomingInvoice, engine.BasisMeteredUsageSoFar, engine.BasisMeteredNotProjected} {
		if bases[b] == 0 {
			t.Errorf("no customer line rested on %s during the month (%v)", b, bases)
		}
	}
}
