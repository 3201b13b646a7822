package engine

import (
	"reflect"
	"testing"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/usage"
)

// Summing the rows in two halves and merging must give exactly the report of one pass: every
// line, every total, the daily lines (in and outside the window) and the feature lines.
func TestSummarize_HalvesEqualOnePass(t *testing.T) {
	f, m := benchFacts(60, 4, 9)
	f.Today = f.Window.To - 2 // the last two days are not settled: estimates
	m.Features = map[usage.SourceRef]string{}
	for i, b := range f.Batches {
		for j, s := range b.Sources {
			if j%3 == i%3 {
				m.Features[s.Ref] = []string{"search", "chat"}[j%2]
			}
		}
	}
	res := Compute(f, catalog.Default(), m)
	// A row outside the window, as a hand-built result may hold, and one of a model seen only there.
	extra := res.Rows[len(res.Rows)/3]
	extra.Day = f.Window.To + 2
	res.Rows = append(res.Rows, extra)
	extra.Model = usage.Intern("only-outside")
	res.Rows = append(res.Rows, extra)
	defer func(n int) { parallelRows = n }(parallelRows)
	parallelRows = len(res.Rows) + 1
	one := SummarizeFor(res, "usd", DefaultTargetMargin)
	parallelRows = 2
	halves := SummarizeFor(res, "usd", DefaultTargetMargin)
	if !reflect.DeepEqual(one, halves) {
		t.Fatalf("two halves differ from one pass:\none:    %+v\nhalves: %+v", one.Totals, halves.Totals)
	}
	if len(one.Daily) == 0 || len(one.Features) < 2 || len(one.Estimates) == 0 || len(one.Unattributed) == 0 {
		t.Fatalf("the case covers too little: %d daily, %d features, %d estimates, %d unattributed",
			len(one.Daily), len(one.Features), len(one.Estimates), len(one.Unattributed))
	}
}
