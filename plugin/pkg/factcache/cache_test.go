package factcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// fakeFetcher serves one usage row, one cost row and one revenue row per day, and records the
// windows it was asked for.
type fakeFetcher struct {
	mu      sync.Mutex
	asked   []usage.Window
	fail    error
	release chan struct{} // when set, fetches wait for it
	name    string
}

func (f *fakeFetcher) record(w usage.Window) error {
	if f.release != nil {
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, w)
	return f.fail
}

func (f *fakeFetcher) FetchProvider(_ context.Context, p usage.Provider, w usage.Window) (*usage.Batch, error) {
	if err := f.record(w); err != nil {
		return nil, err
	}
	key := usage.Ref(p, usage.KindAPIKey, "key_a")
	b := &usage.Batch{Provider: p, Window: w, Sources: []usage.SourceInfo{{Ref: key, Name: f.name}}, Warnings: []string{"partial"}}
	for d := w.From; d < w.To; d++ {
		b.Usage = append(b.Usage, usage.UsageRecord{Provider: p.ID(), Day: d, Key: usage.InternRef(key), Model: usage.Intern("m"), Requests: int64(d)})
		b.Costs = append(b.Costs, usage.CostRecord{Provider: p.ID(), Day: d, Source: usage.InternRef(key), Amount: ledger.Money(d)})
	}
	// A row outside the window must not be stored against a day nobody asked for.
	b.Usage = append(b.Usage, usage.UsageRecord{Provider: p.ID(), Day: w.To + 5, Key: usage.InternRef(key)})
	return b, nil
}

func (f *fakeFetcher) FetchRevenue(_ context.Context, w usage.Window) (*engine.RevenueFacts, error) {
	if err := f.record(w); err != nil {
		return nil, err
	}
	rv := &engine.RevenueFacts{Customers: []engine.CustomerInfo{{ID: "cus_A", Name: f.name}}}
	for d := w.From; d < w.To; d++ {
		rv.Daily = append(rv.Daily, engine.DailyRevenue{Customer: "cus_A", Day: d, Amount: ledger.Dollars(1)})
	}
	return rv, nil
}

func (f *fakeFetcher) windows() []usage.Window {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]usage.Window(nil), f.asked...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) (*Cache, *fakeFetcher, *clock, usage.Day) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}
	f := &fakeFetcher{name: "first"}
	return New(f, Options{RecentTTL: time.Minute, Now: clk.now}), f, clk, usage.DayOf(clk.t)
}

func TestBatch_ServesClosedDaysFromCacheAndRereadsRecentDaysAfterTTL(t *testing.T) {
	c, f, clk, today := setup(t)
	ctx := context.Background()
	w := usage.Window{From: today - 10, To: today + 1}
	b, stamp1, err := c.Batch(ctx, usage.OpenAI, w)
	if err != nil {
		t.Fatal(err)
	}
	// The fetch's own warning (about the range it fetched) must not outlive it into later queries.
	if len(b.Usage) != 11 || len(b.Costs) != 11 || len(b.Sources) != 1 || len(b.Warnings) != 0 {
		t.Fatalf("batch has %d usage, %d costs, %d sources, %d warnings; want 11, 11, 1, 0", len(b.Usage), len(b.Costs), len(b.Sources), len(b.Warnings))
	}
	if _, _, err := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 5, To: today}); err != nil {
		t.Fatal(err)
	}
	if got := f.windows(); len(got) != 1 {
		t.Fatalf("fetched %v, want only the first window", got)
	}
	if s, ok := c.Stamp([]string{"openai"}, w); !ok || s != stamp1 {
		t.Fatalf("stamp %d, %v; want %d, true", s, ok, stamp1)
	}

	clk.add(2 * time.Minute)
	if _, ok := c.Stamp([]string{"openai"}, w); ok {
		t.Fatal("stamp ok after the TTL: yesterday and today should be stale")
	}
	f.name = "renamed"
	b, stamp2, err := c.Batch(ctx, usage.OpenAI, w)
	if err != nil {
		t.Fatal(err)
	}
	got := f.windows()
	if want := (usage.Window{From: today - 1, To: today + 1}); len(got) != 2 || got[1] != want {
		t.Fatalf("fetched %v, want the second fetch to be %v", got, want)
	}
	if stamp2 <= stamp1 {
		t.Fatalf("stamp %d after a refresh, want more than %d", stamp2, stamp1)
	}
	if len(b.Usage) != 11 || b.Sources[0].Name != "renamed" {
		t.Fatalf("after refresh: %d usage rows, source name %q; want 11, the newest name", len(b.Usage), b.Sources[0].Name)
	}
	var requests int64
	for _, r := range b.Usage {
		requests += r.Requests
	}
	var want int64
	for d := w.From; d < w.To; d++ {
		want += int64(d)
	}
	if requests != want {
		t.Fatalf("requests %d, want %d: a day is missing or counted twice", requests, want)
	}
}

func TestBatch_FetchesOnlyTheMissingRange(t *testing.T) {
	c, f, _, today := setup(t)
	ctx := context.Background()
	if _, _, err := c.Batch(ctx, usage.Anthropic, usage.Window{From: today - 5, To: today}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Batch(ctx, usage.Anthropic, usage.Window{From: today - 20, To: today}); err != nil {
		t.Fatal(err)
	}
	got := f.windows()
	if want := (usage.Window{From: today - 20, To: today - 5}); len(got) != 2 || got[1] != want {
		t.Fatalf("fetched %v, want second fetch %v", got, want)
	}
}

func TestBatch_NeverCachesErrors(t *testing.T) {
	c, f, _, today := setup(t)
	ctx := context.Background()
	w := usage.Window{From: today - 3, To: today}
	f.fail = errors.New("boom")
	if _, _, err := c.Batch(ctx, usage.OpenRouter, w); err == nil {
		t.Fatal("want the fetch error")
	}
	f.fail = nil
	if _, _, err := c.Batch(ctx, usage.OpenRouter, w); err != nil {
		t.Fatal(err)
	}
	if got := f.windows(); len(got) != 2 {
		t.Fatalf("fetched %d times, want 2: the failure must not be cached", len(got))
	}
}

func TestBatch_CollapsesConcurrentIdenticalFetches(t *testing.T) {
	// In a synctest bubble, synctest.Wait returns once every caller is blocked (in the fetch or
	// waiting to join it), so the count below holds without sleeping for the scheduler.
	synctest.Test(t, func(t *testing.T) {
		c, f, _, today := setup(t)
		f.release = make(chan struct{})
		w := usage.Window{From: today - 31, To: today}
		const callers = 8
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				b, _, err := c.Batch(context.Background(), usage.OpenAI, w)
				if err == nil && len(b.Usage) != 31 {
					err = errors.New("incomplete batch")
				}
				errs <- err
			})
		}
		synctest.Wait()
		close(f.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := c.Fetches(); n != 1 {
			t.Fatalf("%d fetches, want 1", n)
		}
	})
}

func TestRevenue_CachedPerDayAndReleased(t *testing.T) {
	c, f, _, today := setup(t)
	ctx := context.Background()
	w := usage.Window{From: today - 7, To: today}
	rv, _, err := c.Revenue(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	var total ledger.Money
	for _, d := range rv.Daily {
		total += d.Amount
	}
	if total != ledger.Dollars(7) || len(rv.Customers) != 1 {
		t.Fatalf("revenue %s for %d customers, want $7 for 1", total, len(rv.Customers))
	}
	if _, _, err := c.Revenue(ctx, w); err != nil {
		t.Fatal(err)
	}
	if n := len(f.windows()); n != 1 {
		t.Fatalf("%d fetches before Release, want 1", n)
	}
	c.Release()
	if _, ok := c.Stamp([]string{engine.SourceStripe}, w); ok {
		t.Fatal("stamp ok after Release")
	}
	if _, _, err := c.Revenue(ctx, w); err != nil {
		t.Fatal(err)
	}
	if n := len(f.windows()); n != 2 {
		t.Fatalf("%d fetches after Release, want 2", n)
	}
}

func TestBatch_CallerCancellationDoesNotCancelTheSharedFetch(t *testing.T) {
	c, f, _, today := setup(t)
	f.release = make(chan struct{})
	w := usage.Window{From: today - 2, To: today}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, _, err := c.Batch(ctx, usage.OpenAI, w); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(f.release)
	// The abandoned fetch still completes and fills the cache for the next caller.
	if _, _, err := c.Batch(context.Background(), usage.OpenAI, w); err != nil {
		t.Fatal(err)
	}
	if n := c.Fetches(); n != 1 {
		t.Fatalf("%d fetches, want 1: the second call should join or reuse the first", n)
	}
}

// The cache holds at most MaxBytes of records: a fetch larger than the bound is still answered
// whole, the least recently used days are dropped, and a dropped day is read again when asked.
func TestBatch_SizeBoundDropsLeastRecentlyUsedDays(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}
	today := usage.DayOf(clk.t)
	f := &fakeFetcher{name: "first"}
	perDay := (&entry{usage: make([]usage.UsageRecord, 1), costs: make([]usage.CostRecord, 1)}).size()
	c := New(f, Options{RecentTTL: time.Hour, Now: clk.now, MaxBytes: 10 * perDay})
	ctx := context.Background()
	if New(f, Options{}).maxBytes != DefaultMaxBytes {
		t.Fatal("no default bound")
	}

	b, _, err := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 20, To: today})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Usage) != 20 || len(b.Costs) != 20 {
		t.Fatalf("first answer has %d usage and %d cost rows, want the 20 days fetched", len(b.Usage), len(b.Costs))
	}
	if got := c.Bytes(); got > 10*perDay || got == 0 {
		t.Fatalf("holds %d bytes, bound %d", got, 10*perDay)
	}
	// Of days stored together, the oldest went first: the last ten are still cached.
	if _, _, err := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 10, To: today}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.windows()); n != 1 {
		t.Fatalf("%d fetches, want the last ten days served from the cache", n)
	}
	// Use the last five, then read five old days: the five least recently used go (today-10..-6).
	if _, _, err := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 5, To: today}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 20, To: today - 15}); err != nil {
		t.Fatal(err)
	}
	if got := f.windows(); len(got) != 2 || got[1] != (usage.Window{From: today - 20, To: today - 15}) {
		t.Fatalf("fetched %v, want the dropped old days read again", got)
	}
	if _, ok := c.Stamp([]string{"openai"}, usage.Window{From: today - 5, To: today}); !ok {
		t.Error("the recently used days were dropped")
	}
	if _, ok := c.Stamp([]string{"openai"}, usage.Window{From: today - 10, To: today - 5}); ok {
		t.Error("the least recently used days are still held")
	}
	if got := c.Bytes(); got > 10*perDay {
		t.Fatalf("holds %d bytes, bound %d", got, 10*perDay)
	}
	c.Release()
	if c.Bytes() != 0 {
		t.Fatal("Release keeps bytes")
	}
}
