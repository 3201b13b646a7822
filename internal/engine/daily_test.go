package engine_test

import (
	"context"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func TestReport_DailyLinesAddUpToEachProviderAndModel(t *testing.T) {
	_, eng := demoWorld(t)
	win, _ := eng.Window(31)
	rep, err := eng.Report(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	byProvider := map[usage.Provider]ledger.Money{}
	byModel := map[string]ledger.Money{}
	days := map[string]bool{}
	var total ledger.Money
	for i, d := range rep.Daily {
		if i > 0 && d.Day < rep.Daily[i-1].Day {
			t.Fatalf("daily lines out of order at %d: %s after %s", i, d.Day, rep.Daily[i-1].Day)
		}
		if d.Day < rep.From || d.Day >= rep.To {
			t.Errorf("daily line %s outside the window %s to %s", d.Day, rep.From, rep.To)
		}
		byProvider[d.Provider] += d.Cost
		byModel[string(d.Provider)+"/"+d.Model] += d.Cost
		days[d.Day] = true
		total += d.Cost
	}
	if total != rep.Totals.Cost {
		t.Errorf("daily lines sum to %s, total cost %s", total, rep.Totals.Cost)
	}
	for _, p := range rep.Providers {
		if byProvider[p.Provider] != p.Cost {
			t.Errorf("%s: daily lines sum to %s, provider line %s", p.Provider, byProvider[p.Provider], p.Cost)
		}
	}
	for _, m := range rep.Models {
		if got := byModel[string(m.Provider)+"/"+m.Model]; got != m.Cost {
			t.Errorf("%s %s: daily lines sum to %s, model line %s", m.Provider, m.Model, got, m.Cost)
		}
	}
	if len(days) < 30 {
		t.Errorf("daily lines cover %d days, want the 31-day window", len(days))
	}
}
