// Package factcache keeps what the providers and Stripe returned, per source and UTC day, for one
// datasource instance, so dashboards re-read only what may have changed. It is a decorator of the
// engine's sources (Cache.Wrap, installed with engine.Engine.Wrap), so the engine's own fan-out,
// forecast and window plan read through it. Closed days are kept; recent days (today and
// yesterday, which providers still revise) expire after a TTL, and the least recently used days
// are dropped when the facts outgrow a size bound. Stripe's live subscriptions are kept with the
// day they were read on. Concurrent fetches of the same range are collapsed into one, and errors
// are never cached. It knows the engine's facts, not Grafana.
package factcache

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/usage"
)

// defaultRecentTTL is how long today's and yesterday's facts are served before they are read again.
const defaultRecentTTL = 5 * time.Minute

// keepDays bounds memory: days older than this are dropped, since Margin reads no older ones
// (usage.MaxBackfillDays complete days and today).
const keepDays = usage.MaxBackfillDays + 1

// defaultMaxBytes bounds the facts a cache holds: about 31 days of 1,000 keys × 10 models with
// their billed costs. Beyond it, the least recently used days are dropped and read again when asked.
const defaultMaxBytes = 512 << 20

// Options configures a Cache. Zero values take the defaults.
type Options struct {
	RecentTTL time.Duration    // default defaultRecentTTL
	Now       func() time.Time // default time.Now
	// MaxBytes bounds the records held, counted as their in-memory size (the strings they share
	// with every other record, ids and model names, are not counted); default defaultMaxBytes.
	MaxBytes int64
}

// Cache holds facts per source and day. It is safe for concurrent use.
type Cache struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	maxBytes int64

	mu      sync.Mutex
	days    map[dayKey]*entry
	gen     uint64 // incremented per stored fetch; entries carry the generation that stored them
	fetches int    // fetches made, for tests and stats
	bytes   int64  // the size of every entry held
	clock   uint64 // incremented per use, for least-recently-used eviction
}

type dayKey struct {
	source engine.SourceName
	day    usage.Day
}

// entry is one source's facts for one day.
type entry struct {
	day       usage.Day
	fetchedAt time.Time
	settled   bool // the day was closed when fetched: it is kept for good
	gen       uint64
	usage     []usage.UsageRecord
	costs     []usage.CostRecord
	revenue   []engine.DailyRevenue
	fetch     *perFetch
	used      uint64 // the cache clock when the entry was last stored or served
}

// size is what the entry's records take in memory.
func (e *entry) size() int64 {
	return int64(len(e.usage))*int64(unsafe.Sizeof(usage.UsageRecord{})) +
		int64(len(e.costs))*int64(unsafe.Sizeof(usage.CostRecord{})) +
		int64(len(e.revenue))*int64(unsafe.Sizeof(engine.DailyRevenue{}))
}

// perFetch is what a fetch returns for its whole window rather than per day.
type perFetch struct {
	sources   []usage.SourceInfo
	warnings  []string
	customers []engine.CustomerInfo
	subs      *engine.SubscriptionFacts // Stripe's, read because the fetch reached today
}

// New returns an empty cache; Wrap puts it in front of a source.
func New(opts Options) *Cache {
	if opts.RecentTTL <= 0 {
		opts.RecentTTL = defaultRecentTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	return &Cache{ttl: opts.RecentTTL, now: opts.Now, maxBytes: opts.MaxBytes, days: map[dayKey]*entry{}}
}

// Bytes returns the size of the records held (see Options.MaxBytes).
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// fresh reports whether e may still be served at now.
func (c *Cache) fresh(e *entry, now time.Time) bool {
	return e.settled || now.Sub(e.fetchedAt) < c.ttl
}

// Stamp returns a version of the facts cached for the source over w: it changes whenever any of
// those days is fetched again. ok is false when a day is missing or stale, so a fetch is due.
func (c *Cache) Stamp(source engine.SourceName, w usage.Window) (stamp uint64, ok bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := w.From; d < w.To; d++ {
		e := c.days[dayKey{source, d}]
		if e == nil || !c.fresh(e, now) {
			return 0, false
		}
		// Generations only grow, so a replaced day always raises the maximum.
		stamp = max(stamp, e.gen)
	}
	return stamp, true
}

// Served is the newest generation among the days the fetches under one context served (see
// WithServed): the Stamp of exactly the facts they returned, even when a concurrent fetch
// replaces a day right after.
type Served struct {
	mu    sync.Mutex
	stamp uint64
}

// Stamp returns the newest generation served so far.
func (s *Served) Stamp() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stamp
}

func (s *Served) raise(stamp uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp = max(s.stamp, stamp)
}

type servedKey struct{}

// WithServed returns ctx carrying a Served that every fetch through the cache under ctx raises,
// so a result computed from those facts can be keyed by the facts' own stamp.
func WithServed(ctx context.Context) (context.Context, *Served) {
	s := &Served{}
	return context.WithValue(ctx, servedKey{}, s), s
}

// Wrap returns src read through the cache; engine.Engine.Wrap installs it on every source.
func (c *Cache) Wrap(src engine.Source) engine.Source { return &source{c: c, inner: src} }

// source is one engine source read through the cache.
type source struct {
	c     *Cache
	inner engine.Source
}

func (s *source) Name() engine.SourceName         { return s.inner.Name() }
func (s *source) Check(ctx context.Context) error { return s.inner.Check(ctx) }
func (s *source) Unwrap() engine.Source           { return s.inner }

// Fetch serves the source's facts for w from the days held, fetching only those missing or
// stale. Today is the day they are served: the engine adds no note of its own about the
// window's clamping, since the datasource states retention against each query's own range.
func (s *source) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	out := &engine.SourceFacts{Name: s.Name(), Window: w, Today: usage.DayOf(s.c.now())}
	var stamp uint64
	var err error
	if p, ok := s.Name().Provider(); ok {
		out.Batch, stamp, err = s.c.batch(ctx, s.inner, p, w)
	} else {
		out.Revenue, out.Subscriptions, stamp, err = s.c.revenue(ctx, s.inner, w)
	}
	if err != nil {
		return nil, err
	}
	if served, _ := ctx.Value(servedKey{}).(*Served); served != nil {
		served.raise(stamp)
	}
	return out, nil
}

// Fetches returns how many fetches reached the sources under the cache.
func (c *Cache) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// Release drops everything; the instance calls it on Dispose.
func (c *Cache) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = map[dayKey]*entry{}
	c.bytes = 0
}

// batch returns the provider's facts for w, fetching only the days that are missing or stale
// from src, and the stamp of the days it returns.
func (c *Cache) batch(ctx context.Context, src engine.Source, p usage.Provider, w usage.Window) (*usage.Batch, uint64, error) {
	source := src.Name()
	got, err := c.ensure(ctx, source, w, func(ctx context.Context, rng usage.Window) (map[usage.Day]*entry, error) {
		f, err := src.Fetch(ctx, rng)
		if err != nil {
			return nil, err
		}
		b := f.Batch
		if b == nil {
			return nil, fmt.Errorf("%s returned no usage batch", source)
		}
		// The batch's warnings describe this fetch's range (a provider clamping it), not the range
		// a later query asks for; the datasource states retention against each query's own range.
		pf := &perFetch{sources: b.Sources}
		days := emptyDays(rng, pf)
		// One backing array per fetch, cut into per-day slices: appending row by row into 31
		// growing slices copied a large batch several times over.
		usageByDay := byDay(rng, b.Usage, func(r *usage.UsageRecord) usage.Day { return r.Day })
		costsByDay := byDay(rng, b.Costs, func(r *usage.CostRecord) usage.Day { return r.Day })
		for d, e := range days {
			e.usage, e.costs = usageByDay[d-rng.From], costsByDay[d-rng.From]
		}
		return days, nil
	})
	if err != nil {
		return nil, 0, err
	}
	entries, stamp := c.collect(source, w, got)
	out := &usage.Batch{Provider: p, Window: w}
	nUsage, nCosts := 0, 0
	for _, e := range entries {
		nUsage += len(e.usage)
		nCosts += len(e.costs)
	}
	out.Usage = make([]usage.UsageRecord, 0, nUsage)
	out.Costs = make([]usage.CostRecord, 0, nCosts)
	for _, e := range entries {
		out.Usage = append(out.Usage, e.usage...)
		out.Costs = append(out.Costs, e.costs...)
	}
	fetches := distinctFetches(entries)
	names := map[usage.SourceRef]usage.SourceInfo{}
	for _, pf := range fetches { // oldest first, so the newest name wins
		for _, s := range pf.sources {
			names[s.Ref] = s
		}
	}
	out.Sources = make([]usage.SourceInfo, 0, len(names))
	for _, s := range names {
		out.Sources = append(out.Sources, s)
	}
	sort.Slice(out.Sources, func(i, j int) bool { return out.Sources[i].Ref < out.Sources[j].Ref })
	return out, stamp, nil
}

// revenue returns Stripe's customers and recognised revenue for w, like batch, and when w
// reaches today the live subscriptions read with today's facts (so at most the TTL old).
func (c *Cache) revenue(ctx context.Context, src engine.Source, w usage.Window) (*engine.RevenueFacts, *engine.SubscriptionFacts, uint64, error) {
	source := src.Name()
	got, err := c.ensure(ctx, source, w, func(ctx context.Context, rng usage.Window) (map[usage.Day]*entry, error) {
		f, err := src.Fetch(ctx, rng)
		if err != nil {
			return nil, err
		}
		rv := f.Revenue
		if rv == nil {
			rv = &engine.RevenueFacts{}
		}
		days := emptyDays(rng, &perFetch{customers: rv.Customers, warnings: rv.Warnings, subs: f.Subscriptions})
		for _, d := range rv.Daily {
			if e := days[d.Day]; e != nil {
				e.revenue = append(e.revenue, d)
			}
		}
		return days, nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	entries, stamp := c.collect(source, w, got)
	out := &engine.RevenueFacts{}
	var subs *engine.SubscriptionFacts
	today := usage.DayOf(c.now())
	for _, e := range entries {
		out.Daily = append(out.Daily, e.revenue...)
		if e.day == today {
			subs = e.fetch.subs
		}
	}
	customers := map[string]engine.CustomerInfo{}
	for _, pf := range distinctFetches(entries) {
		for _, cu := range pf.customers {
			customers[cu.ID] = cu
		}
		out.Warnings = appendNew(out.Warnings, pf.warnings...)
	}
	for _, cu := range customers {
		out.Customers = append(out.Customers, cu)
	}
	sort.Slice(out.Customers, func(i, j int) bool { return out.Customers[i].ID < out.Customers[j].ID })
	return out, subs, stamp, nil
}

// byDay groups rows by day, keeping their order within a day, as full-capacity slices of one
// array (cap = len, so an append to one day can never overwrite the next). Rows outside w are
// dropped.
func byDay[T any](w usage.Window, rows []T, day func(*T) usage.Day) [][]T {
	n := w.Days()
	counts := make([]int, n)
	total := 0
	for i := range rows {
		if d := day(&rows[i]); w.Contains(d) {
			counts[d-w.From]++
			total++
		}
	}
	all := make([]T, total)
	next := make([]int, n)
	out := make([][]T, n)
	at := 0
	for i, c := range counts {
		if c > 0 {
			out[i] = all[at : at+c : at+c]
		}
		next[i] = at
		at += c
	}
	for i := range rows {
		if d := day(&rows[i]); w.Contains(d) {
			all[next[d-w.From]] = rows[i]
			next[d-w.From]++
		}
	}
	return out
}

func emptyDays(w usage.Window, pf *perFetch) map[usage.Day]*entry {
	days := make(map[usage.Day]*entry, w.Days())
	for d := w.From; d < w.To; d++ {
		days[d] = &entry{day: d, fetch: pf}
	}
	return days
}

// ensure fetches the smallest range covering every missing or stale day of w, once for all
// concurrent callers asking for the same range, and stores it. It returns the fetched days (nil
// when everything was cached) so the caller can assemble even if a day is replaced meanwhile.
func (c *Cache) ensure(ctx context.Context, source engine.SourceName, w usage.Window, fetch func(context.Context, usage.Window) (map[usage.Day]*entry, error)) (map[usage.Day]*entry, error) {
	now := c.now()
	var rng usage.Window
	c.mu.Lock()
	for d := w.From; d < w.To; d++ {
		if e := c.days[dayKey{source, d}]; e == nil || !c.fresh(e, now) {
			if rng.Days() == 0 {
				rng.From = d
			}
			rng.To = d + 1
		}
	}
	c.mu.Unlock()
	if rng.Days() == 0 {
		return nil, nil
	}
	ch := c.group.DoChan(fmt.Sprintf("%s:%d-%d", source, rng.From, rng.To), func() (any, error) {
		// The fetch outlives a caller that gives up: the other callers and the next refresh of
		// the dashboard still want it. Each request stays bounded by the HTTP client's timeout.
		fetchedAt := c.now()
		c.mu.Lock()
		c.fetches++
		c.mu.Unlock()
		days, err := fetch(context.WithoutCancel(ctx), rng)
		if err != nil {
			return nil, err
		}
		c.store(source, days, fetchedAt)
		return days, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(map[usage.Day]*entry), nil
	}
}

func (c *Cache) store(source engine.SourceName, days map[usage.Day]*entry, fetchedAt time.Time) {
	fetchDay := usage.DayOf(fetchedAt)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.clock++
	for d, e := range days {
		e.fetchedAt, e.gen, e.used = fetchedAt, c.gen, c.clock
		e.settled = d < fetchDay-1 // older than yesterday when read: providers no longer revise it
		k := dayKey{source, d}
		if old := c.days[k]; old != nil {
			c.bytes -= old.size()
		}
		c.days[k] = e
		c.bytes += e.size()
	}
	horizon := usage.DayOf(c.now()) - keepDays
	for k, e := range c.days {
		if k.day < horizon {
			c.bytes -= e.size()
			delete(c.days, k)
		}
	}
	c.evict()
}

// evict drops the least recently used days until the records fit in maxBytes. The days just
// stored may go too when they alone exceed it: the query that fetched them still gets them (ensure
// returns them), and the next one reads them again.
func (c *Cache) evict() {
	for c.bytes > c.maxBytes && len(c.days) > 0 {
		var oldest dayKey
		var e *entry
		for k, x := range c.days {
			if e == nil || x.used < e.used || x.used == e.used && (k.day < oldest.day || k.day == oldest.day && k.source < oldest.source) {
				oldest, e = k, x
			}
		}
		c.bytes -= e.size()
		delete(c.days, oldest)
	}
}

// collect returns the entries for every day of w, preferring the cache and falling back to what
// this call fetched, and the highest generation among them.
func (c *Cache) collect(source engine.SourceName, w usage.Window, fetched map[usage.Day]*entry) ([]*entry, uint64) {
	out := make([]*entry, 0, w.Days())
	var stamp uint64
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	for d := w.From; d < w.To; d++ {
		e := c.days[dayKey{source, d}]
		if e == nil {
			e = fetched[d]
		}
		if e == nil {
			continue
		}
		e.used = c.clock
		out = append(out, e)
		stamp = max(stamp, e.gen)
	}
	return out, stamp
}

// distinctFetches returns the fetches the entries came from, oldest first.
func distinctFetches(entries []*entry) []*perFetch {
	seen := map[*perFetch]uint64{}
	for _, e := range entries {
		if g, ok := seen[e.fetch]; !ok || e.gen < g {
			seen[e.fetch] = e.gen
		}
	}
	out := make([]*perFetch, 0, len(seen))
	for pf := range seen {
		out = append(out, pf)
	}
	sort.Slice(out, func(i, j int) bool { return seen[out[i]] < seen[out[j]] })
	return out
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		dup := false
		for _, have := range list {
			if have == it {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, it)
		}
	}
	return list
}
