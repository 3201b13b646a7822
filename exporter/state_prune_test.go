package exporter

import (
	"fmt"
	"maps"
	"runtime"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// A prune that forgets most of the buckets (the first fill's backfill window once its days are
// final, or last month's at the turn of the month) gives their room back: the state keeps the
// buckets it should, unchanged, and the live heap it holds shrinks with them. Without the copy a
// Go map keeps the room of its largest size.
func TestState_PruneGivesBackTheRoomOfForgottenDays(t *testing.T) {
	const days, perDay = 31, 3000
	first := usage.Day(20_000)
	bucket := func(i int) costBucket {
		return costBucket{Cost: ledger.Money(i + 1), Requests: int64(i), Tokens: tokenCounts{int64(i), 1, 2, 3, 4}}
	}
	key := func(provider string, d usage.Day, i int) costKey {
		return costKey{Day: d, Provider: provider, Model: fmt.Sprintf("model-%d", i%10), Customer: fmt.Sprintf("cus_%d", i), Feature: "chat"}
	}
	since := first + days - 2 // the last two days stay revisable
	want := map[costKey]costBucket{}
	for d := first; d < first+days; d++ {
		for i := range perDay {
			if d >= since {
				want[key("openai", d, i)] = bucket(i)
			}
		}
	}
	for i := range 100 {
		want[key("anthropic", first, i)] = bucket(i) // another source's buckets are not its to prune
	}
	revenueWant := map[revenueKey]revenueBucket{{Day: since, Customer: "cus_1"}: {Counted: 5, Current: 4}}

	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc) // #nosec G115 -- a heap size
	}
	// The heap is the process's: what an earlier test still held (a poller its release timer
	// keeps for releaseDelay) may be let go in the middle, so a measurement that shrank below
	// where it began is taken again once that has passed.
	var s *State
	var full, left int64
	for attempt := 0; ; attempt++ {
		base := heap()
		s = newState()
		for d := first; d < first+days; d++ {
			for i := range perDay {
				s.cost[key("openai", d, i)] = bucket(i)
			}
		}
		for i := range 100 {
			s.cost[key("anthropic", first, i)] = bucket(i)
		}
		for d := first; d <= since; d++ {
			s.revenue[revenueKey{Day: d, Customer: "cus_1"}] = revenueBucket{Counted: 5, Current: 4}
		}
		full = heap() - base

		s.prune("openai", since, since)
		s.prune(sourceStripe, since, since)
		left = heap() - base
		if full > 0 && left > 0 || attempt == 3 {
			break
		}
		time.Sleep(releaseDelay)
	}
	if !maps.Equal(s.cost, want) {
		t.Fatalf("prune kept %d cost buckets, want %d (or changed them)", len(s.cost), len(want))
	}
	if !maps.Equal(s.revenue, revenueWant) {
		t.Fatalf("prune kept revenue buckets %v, want %v", s.revenue, revenueWant)
	}
	// Two days of 31 are kept: the state's heap must fall well below its full size (it would stay
	// at it if the map kept its room). The strings of the kept keys are included in left.
	if left <= 0 || left*4 > full {
		t.Errorf("state holds %d KB after the prune, %d KB before: the forgotten buckets' room was kept", left>>10, full>>10)
	}
	runtime.KeepAlive(s)
}
