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
	now     func() time.Time
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

// fakeSource is one of the fake's sources as the engine sees it.
type fakeSource struct {
	f    *fakeFetcher
	name engine.SourceName
}

func (s fakeSource) Name() engine.SourceName     { return s.name }
func (s fakeSource) Check(context.Context) error { return nil }
func (s fakeSource) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	if p, ok := s.name.Provider(); ok {
		b, err := s.f.FetchProvider(ctx, p, w)
		if err != nil {
			return nil, err
		}
		return &engine.SourceFacts{Name: s.name, Window: w, Batch: b}, nil
	}
	rv, err := s.f.FetchRevenue(ctx, w)
	if err != nil {
		return nil, err
	}
	out := &engine.SourceFacts{Name: s.name, Window: w, Revenue: rv}
	if today := usage.DayOf(s.f.now()); w.To > today {
		// Like the engine's Stripe source: live subscriptions when the window reaches today.
		out.Subscriptions = &engine.SubscriptionFacts{Warnings: []string{"subscriptions read by " + s.f.name}}
	}
	return out, nil
}

// through is the cache in front of the fake's sources, fetched as the engine does (through
// Wrap), returning each fetch's facts with the stamp WithServed reports for them.
type through struct {
	*Cache
	f *fakeFetcher
}

func (c through) Batch(ctx context.Context, p usage.Provider, w usage.Window) (*usage.Batch, uint64, error) {
	ctx, served := WithServed(ctx)
	sf, err := c.Wrap(fakeSource{c.f, engine.SourceName(p)}).Fetch(ctx, w)
	if err != nil {
		return nil, 0, err
	}
	return sf.Batch, served.Stamp(), nil
}

func (c through) Revenue(ctx context.Context, w usage.Window) (*engine.RevenueFacts, uint64, error) {
	sf, stamp, err := c.stripe(ctx, w)
	if err != nil {
		return nil, 0, err
	}
	return sf.Revenue, stamp, nil
}

func (c through) stripe(ctx context.Context, w usage.Window) (*engine.SourceFacts, uint64, error) {
	ctx, served := WithServed(ctx)
	sf, err := c.Wrap(fakeSource{c.f, engine.SourceStripe}).Fetch(ctx, w)
	return sf, served.Stamp(), err
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

func setup(t *testing.T) (through, *fakeFetcher, *clock, usage.Day) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}
	f := &fakeFetcher{name: "first", now: clk.now}
	return through{New(Options{RecentTTL: time.Minute, Now: clk.now}), f}, f, clk, usage.DayOf(clk.t)
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
	if s, ok := c.Stamp("openai", w); !ok || s != stamp1 {
		t.Fatalf("stamp %d, %v; want %d, true", s, ok, stamp1)
	}

	clk.add(2 * time.Minute)
	if _, ok := c.Stamp("openai", w); ok {
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
	if _, ok := c.Stamp(engine.SourceStripe, w); ok {
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
	f := &fakeFetcher{name: "first", now: clk.now}
	perDay := (&entry{usage: make([]usage.UsageRecord, 1), costs: make([]usage.CostRecord, 1)}).size()
	c := through{New(Options{RecentTTL: time.Hour, Now: clk.now, MaxBytes: 10 * perDay}), f}
	ctx := context.Background()
	if New(Options{}).maxBytes != defaultMaxBytes {
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
	if _, ok := c.Stamp("openai", usage.Window{From: today - 5, To: today}); !ok {
		t.Error("the recently used days were dropped")
	}
	if _, ok := c.Stamp("openai", usage.Window{From: today - 10, To: today - 5}); ok {
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

// Stripe's live subscriptions are kept with the day they were read on: a window reaching today
// gets those read with today's facts, until today's facts expire; a window before today gets
// none. The cache passes the source's name, check and undecorated source through.
func TestStripe_SubscriptionsKeptWithTodaysFacts(t *testing.T) {
	c, f, clk, today := setup(t)
	ctx := context.Background()
	w := usage.Window{From: today - 3, To: today.NextMonthStart()}
	sf, _, err := c.stripe(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Subscriptions == nil || sf.Subscriptions.Warnings[0] != "subscriptions read by first" || sf.Today != today || sf.Name != engine.SourceStripe {
		t.Fatalf("facts %+v, want first's subscriptions, read today", sf)
	}
	again, _, err := c.stripe(ctx, usage.Window{From: today, To: today + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.windows()) != 1 || again.Subscriptions != sf.Subscriptions {
		t.Fatalf("fetched %v; subscriptions %+v, want the cached ones", f.windows(), again.Subscriptions)
	}
	past, _, err := c.stripe(ctx, usage.Window{From: today - 3, To: today})
	if err != nil || past.Subscriptions != nil {
		t.Fatalf("a window before today: subscriptions %+v, error %v; want none", past.Subscriptions, err)
	}
	clk.add(2 * time.Minute)
	f.name = "second"
	sf, _, err = c.stripe(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Subscriptions == nil || sf.Subscriptions.Warnings[0] != "subscriptions read by second" {
		t.Fatalf("after the TTL: subscriptions %+v, want those read again", sf.Subscriptions)
	}
	src := fakeSource{f, engine.SourceStripe}
	wrapped := c.Wrap(src)
	if wrapped.Name() != engine.SourceStripe || wrapped.Check(ctx) != nil || wrapped.(interface{ Unwrap() engine.Source }).Unwrap() != src {
		t.Fatal("the decorator does not pass the source through")
	}
}

// WithServed reports the stamp of the days a fetch served, not a newer one stored after.
func TestWithServed_StampsTheFactsServed(t *testing.T) {
	c, _, clk, today := setup(t)
	ctx := context.Background()
	w := usage.Window{From: today - 3, To: today + 1}
	_, first, err := c.Batch(ctx, usage.OpenAI, w)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Stamp(engine.SourceOpenAI, w); !ok || s != first || first == 0 {
		t.Fatalf("stamp %d %v, served %d", s, ok, first)
	}
	// A narrower window of closed days was served by the same fetch.
	if _, s, _ := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 3, To: today - 1}); s != first {
		t.Fatalf("closed days served at %d, want %d", s, first)
	}
	clk.add(2 * time.Minute)
	_, second, err := c.Batch(ctx, usage.OpenAI, w)
	if err != nil || second <= first {
		t.Fatalf("after the TTL: served %d (error %v), want above %d", second, err, first)
	}
	if _, s, _ := c.Batch(ctx, usage.OpenAI, usage.Window{From: today - 3, To: today - 1}); s != first {
		t.Fatalf("closed days served at %d after the recent days were replaced, want still %d", s, first)
	}
}
