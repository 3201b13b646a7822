package main

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/floor"
	"github.com/marginhq/margin/internal/simengine"
)

// BenchmarkReport is `margin report` (31 days, table output) over the simulated world at 1,000
// keys (and 10,000 with MARGIN_BENCH_10K=1), served with indented JSON, beside the floor client
// reading the same pages.
func BenchmarkReport(b *testing.B) {
	for _, n := range floor.Scales() {
		b.Run(strconv.Itoa(n)+"keys", func(b *testing.B) {
			w, rec, client := floor.World(n)
			report := func() error {
				eng, err := engine.New(simengine.Options(w, "http://sim.invalid", client))
				if err != nil {
					return err
				}
				win, _ := eng.Window(0)
				rep, err := eng.Report(context.Background(), win, nil)
				if err != nil {
					return err
				}
				return writeTable(io.Discard, rep, win.Days())
			}
			b.Run("margin", func(b *testing.B) {
				floor.Measure(b, rec, func() {
					if err := report(); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("floor", func(b *testing.B) {
				rec.Reset()
				_ = report() // records the pages; a failing source still shows which pages it asked for
				reqs := rec.Recorded()
				floor.Measure(b, rec, func() {
					if _, err := floor.Replay(context.Background(), rec, reqs); err != nil {
						b.Fatal(err)
					}
				})
			})
		})
	}
}
