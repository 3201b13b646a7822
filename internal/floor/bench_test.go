package floor_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/floor"
	"github.com/marginhq/margin/internal/simengine"
)

// BenchmarkFirstFill is the engine's first fill of a 31-day window (Fetch of every source, then
// Compute), beside the floor client reading the same pages.
func BenchmarkFirstFill(b *testing.B) {
	for _, n := range floor.Scales() {
		b.Run(strconv.Itoa(n)+"keys", func(b *testing.B) {
			w, rec, client := floor.World(n)
			eng, err := engine.New(simengine.Options(w, "http://sim.invalid", client))
			if err != nil {
				b.Fatal(err)
			}
			win, _ := eng.Window(0)
			fill := func() error {
				f, err := eng.Fetch(context.Background(), win, nil)
				if err != nil {
					return err
				}
				if res := eng.Compute(f); len(res.Customers) == 0 {
					b.Fatal("no customers")
				}
				return nil
			}
			b.Run("margin", func(b *testing.B) {
				floor.Measure(b, rec, func() {
					if err := fill(); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("floor", func(b *testing.B) {
				rec.Reset()
				_ = fill() // records the pages; a failing source still shows which pages it asked for
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
