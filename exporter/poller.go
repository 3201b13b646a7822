package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/gcpolicy"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

const sourceStripe = engine.SourceStripe

// Engine is what the poller needs from internal/engine: the sources, the engine reading them
// through the poller's last-good store (its fan-out, plan of windows and clock), and the
// arithmetic. *engine.Engine implements it; tests script Compute and the sources.
type Engine interface {
	Names() []engine.SourceName
	Wrap(decorate func(engine.Source) engine.Source) *engine.Engine
	Compute(f *engine.Facts) *engine.Result
}

// ErrPollSkipped is returned by Poll while the previous poll is still running.
var ErrPollSkipped = errors.New("previous poll still running: cycle skipped")

// lastGood is the exporter's last-good store, a decorator of each source (Engine.Wrap): when the
// source fails, it serves the facts of its last success beside the error, so a poll keeps
// counting them while margin_source_up says the source is down. The facts keep the day they were
// read (SourceFacts.Today), so a stale batch computes exactly as it did when fresh.
type lastGood struct {
	engine.Source
	mu   sync.Mutex
	last *engine.SourceFacts
}

// keepSince lets go of the last good facts before day since: a later poll reads from there
// (Poller.window), and the first fill's whole window would otherwise be held until the next
// poll replaces it (634 MB of usage and cost records at 10,000 keys).
func (l *lastGood) keepSince(since map[string]usage.Day) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.last
	if f == nil || f.Batch == nil {
		return
	}
	d, ok := since[string(f.Name)]
	if !ok || d <= f.Window.From {
		return
	}
	kept := *f
	kept.Batch = f.Batch.Since(d)
	kept.Window.From = kept.Batch.Window.From
	l.last = &kept
}

func (l *lastGood) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	f, err := l.Source.Fetch(ctx, w)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return l.last, err
	}
	l.last = f
	return f, nil
}

// Unwrap is the source the store decorates.
func (l *lastGood) Unwrap() engine.Source { return l.Source }

// Poller polls the sources, keeps the counter state and publishes snapshots to its Collector.
type Poller struct {
	opts      Options
	log       *slog.Logger
	collector *Collector
	eng       *engine.Engine // opts.Engine reading through the last-good stores
	sources   []engine.SourceName

	running sync.Mutex // held for a whole poll: TryLock skips overlapping cycles

	// Owned by the goroutine holding running.
	state     *State
	recovered bool // the state came from the previous generation of the state file
	health    map[engine.SourceName]*SourceStatus
	stores    []*lastGood // every source's last-good store

	// The memory a poll or a scrape leaves is handed back once the exporter is at rest.
	polling atomic.Bool
	relMu   sync.Mutex
	release *time.Timer
}

// releaseDelay is how long after a poll or a scrape the memory it left is handed back to the
// operating system, unless a poll has started: polls minutes apart each release theirs, polls
// back to back (a slow provider, catching up) keep their pages instead of faulting them in
// again, and the scrapes between two polls (Prometheus every 15 s or so) do not leave their
// garbage resident. A release at rest collects a heap of the state, the snapshot and the
// trailing days' facts: milliseconds.
var releaseDelay = time.Second

// releaseAtRest hands memory back releaseDelay from now, unless a poll runs then.
func (p *Poller) releaseAtRest() {
	if p.polling.Load() {
		return
	}
	p.relMu.Lock()
	defer p.relMu.Unlock()
	p.release.Reset(releaseDelay)
}

// New builds a poller and opens the state file. A missing file starts the counters from zero;
// a missing or unusable one with a usable previous generation recovers from it (logged, and
// margin_state_recovered is 1); with neither usable New fails, naming the files, unless
// opts.StateReset allows starting from zero, which Prometheus sees as one counter reset.
func New(opts Options) (*Poller, error) {
	opts = opts.withDefaults()
	p := &Poller{
		opts:      opts,
		log:       opts.Logger,
		collector: newCollector(Labels{DropModel: opts.DropModelLabel, Feature: opts.FeatureLabel}),
		sources:   opts.Engine.Names(),
		health:    map[engine.SourceName]*SourceStatus{},
	}
	p.release = time.AfterFunc(time.Hour, func() {
		if !p.polling.Load() {
			gcpolicy.Release()
		}
	})
	p.release.Stop() // armed by releaseAtRest
	p.collector.afterScrape = p.releaseAtRest
	p.eng = opts.Engine.Wrap(func(s engine.Source) engine.Source {
		l := &lastGood{Source: s}
		p.stores = append(p.stores, l)
		return l
	})
	for _, s := range p.sources {
		p.health[s] = &SourceStatus{Source: string(s)}
	}
	p.state = newState()
	if f := opts.StateFile; f != "" {
		o, err := openState(f, opts.StateReset)
		if err != nil {
			return nil, err
		}
		p.state = o.state
		switch {
		case o.fresh:
			p.log.Info("no state file yet: counters start from zero", "state_file", f)
		case o.recovered:
			p.recovered = true
			p.log.Warn("state file unusable: recovered its previous generation; the first poll recounts the trailing days since",
				"state_file", f, "previous", f+prevSuffix, "set_aside", f+corruptSuffix, "err", o.problem)
		case o.reset:
			p.log.Warn("state file and its previous generation unusable: --state.reset given, counters start from zero (Prometheus sees one counter reset)",
				"state_file", f, "err", o.problem)
		default:
			p.log.Info("state loaded: counters continue", "state_file", f)
		}
	}
	p.collector.Set(p.collector.fams.snapshot(p.state, p.view(&Fill{today: p.eng.Today()})))
	return p, nil
}

// Collector is the collector that exposes the poller's snapshots.
func (p *Poller) Collector() *Collector { return p.collector }

// Poll runs one cycle: it re-reads each source's window, counts what changed, saves the state and
// swaps in a new snapshot. It returns ErrPollSkipped when the previous cycle is still running,
// and the failing sources' errors joined (the other sources are counted all the same).
func (p *Poller) Poll(ctx context.Context) error {
	if !p.running.TryLock() {
		p.log.Warn("poll skipped: the previous one is still running")
		return ErrPollSkipped
	}
	defer p.running.Unlock()
	p.polling.Store(true)
	defer p.polling.Store(false)
	if r := p.opts.RestGCPercent; r > 0 {
		// The runtime's default, followed through the whole poll as the engine's fetch and compute
		// follow it (internal/gcpolicy): lower for a small live heap, whose peak's metadata the
		// runtime would keep at rest, and for a large one, whose growth it bounds.
		debug.SetGCPercent(100)
		defer debug.SetGCPercent(r)
		defer gcpolicy.Scope()()
	}
	today := p.eng.Today()
	facts, fetchErr := p.fetch(ctx, today)
	f := p.fill(today, facts)
	p.account(f)
	for _, l := range p.stores {
		l.keepSince(p.state.Since)
	}
	if p.opts.StateFile != "" {
		if err := p.state.Save(p.opts.StateFile); err != nil {
			p.log.Error("saving state", "state_file", p.opts.StateFile, "err", err)
		}
	}
	snap := p.collector.fams.snapshot(p.state, p.view(f))
	snap.prepared(p.collector.format()) // rendered here, off the scrape path
	if !p.opts.keepSeries {
		// The prepared text is all a scrape or a push needs; the other format is converted from
		// it when asked for. At 1,000 customers the series are 47 MB, their gzip 2 MB.
		snap.business = nil
	}
	p.collector.Set(snap)
	// A poll's pages and computation are garbage now, and the next poll is minutes away: hand the
	// memory back rather than at the scavenger's pace, so the exporter at rest holds the snapshot
	// and the state and little else. It is done off the poll, once at rest (releaseDelay).
	p.polling.Store(false)
	p.releaseAtRest()
	return fetchErr
}

// Run polls every interval until ctx is done. The first fill is the caller's: call Poll once
// before serving. Each tick polls in its own goroutine, so a slow poll makes the next ticks skip
// instead of queueing.
func (p *Poller) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			go func() {
				if err := p.Poll(ctx); err != nil && !errors.Is(err, ErrPollSkipped) {
					p.log.Warn("poll: some sources failed; they keep their last good data", "err", err)
				}
			}()
		}
	}
}

// Flush waits for a running poll to finish and writes the state file.
func (p *Poller) Flush() error {
	p.running.Lock()
	defer p.running.Unlock()
	if p.opts.StateFile == "" {
		return nil
	}
	return p.state.Save(p.opts.StateFile)
}

// window is the days source n must re-read today: from the first day it may still see revised
// (Since, or the backfill window on the first run) through today. The engine's Plan clamps it to
// what the source serves, and runs Stripe's on to month end.
func (p *Poller) window(n engine.SourceName, today usage.Day) usage.Window {
	first := today - usage.Day(p.opts.BackfillDays) // #nosec G115 -- backfill_days is validated to a few hundred days
	from, ok := p.state.Since[string(n)]
	if !ok {
		from = first
	}
	return usage.Window{From: max(from, first), To: today + 1}
}

// fetch reads every source through the engine's fan-out. A source that fails is down, and its
// last-good store serves its last good facts beside the error; the facts returned are those of
// every source that has ever answered.
func (p *Poller) fetch(ctx context.Context, today usage.Day) ([]*engine.SourceFacts, error) {
	results := p.eng.FetchEach(ctx, func(n engine.SourceName) usage.Window { return p.window(n, today) }, nil)
	var facts []*engine.SourceFacts
	var errs []error
	now := p.opts.Now()
	for _, r := range results {
		if r.Facts != nil {
			facts = append(facts, r.Facts)
		}
		h := p.health[r.Name]
		h.Duration = r.Took.Seconds()
		if r.Err != nil {
			h.Up = false
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, r.Err))
			p.log.Warn("source failed: keeping its last good data", "source", r.Name, "err", r.Err)
			continue
		}
		h.Up, h.LastSuccess = true, float64(now.UnixMilli())/1000
	}
	return facts, errors.Join(errs...)
}

// computed is the freshly computed value of every bucket the last good data covers.
type computed struct {
	cost      []*costValues
	revenue   *engine.SourceFacts // Stripe's
	daily     map[revenueKey]ledger.Money
	customers []engine.CustomerInfo
}

// compute prices and attributes the last good batches. Batches fetched on different days are
// computed apart, each with its own today, so a stale batch yields exactly what it yielded when
// it was fresh. It returns nil while Stripe is configured but has never answered: without its
// customers, spend would move to unattributed and back, which the counters would show.
func (p *Poller) compute(facts []*engine.SourceFacts) *computed {
	c := &computed{}
	groups := map[usage.Day][]*engine.SourceFacts{}
	for _, f := range facts {
		switch {
		case f.Name == sourceStripe:
			c.revenue = f
		case f.Batch != nil:
			groups[f.Today] = append(groups[f.Today], f)
		}
	}
	var rv *engine.RevenueFacts
	if slices.Contains(p.sources, sourceStripe) {
		if c.revenue == nil {
			return nil
		}
		rv = c.revenue.Revenue
		c.customers = rv.Customers
		c.daily = map[revenueKey]ledger.Money{}
		for _, d := range rv.Daily {
			c.daily[revenueKey{d.Day, d.Customer}] += d.Amount
		}
	}
	for today, group := range groups {
		f := &engine.Facts{Today: today, Revenue: rv, Window: group[0].Window}
		byProvider := map[string]*costValues{}
		for _, d := range group {
			f.Batches = append(f.Batches, d.Batch)
			f.Window.From = min(f.Window.From, d.Window.From)
			f.Window.To = max(f.Window.To, d.Window.To)
			v := &costValues{Provider: string(d.Batch.Provider), Window: d.Window, Today: d.Today, Cost: map[costKey]costBucket{}, Unpriced: map[unpricedKey]tokenCounts{}}
			byProvider[v.Provider] = v
			c.cost = append(c.cost, v)
		}
		res := p.opts.Engine.Compute(f)
		for i := range res.Rows {
			r := &res.Rows[i]
			v := byProvider[r.Provider.String()]
			if v == nil || !v.Window.Contains(r.Day) {
				continue
			}
			k := costKey{Day: r.Day, Provider: v.Provider, Model: r.Model.String(), Customer: r.Customer.String(), Feature: r.Feature.String()}
			b := v.Cost[k]
			b.Cost += r.Cost
			b.Requests += r.Requests
			t := tokensOf(r.Tokens)
			for j := range t {
				b.Tokens[j] += t[j]
			}
			v.Cost[k] = b
			if t := res.UnpricedOf(r); t != nil {
				uk := unpricedKey{Day: r.Day, Provider: v.Provider, Model: r.Model.String()}
				u, ut := v.Unpriced[uk], tokensOf(*t)
				for j := range ut {
					u[j] += ut[j]
				}
				v.Unpriced[uk] = u
			}
		}
	}
	slices.SortFunc(c.cost, func(a, b *costValues) int { return cmp.Compare(a.Provider, b.Provider) })
	return c
}

// topCustomers ranks customers by spend over the computed window and keeps the first max; nil
// means every customer keeps its own series.
func topCustomers(c *computed, max int) map[string]bool {
	if max <= 0 {
		return nil
	}
	spend := map[string]ledger.Money{}
	for _, v := range c.cost {
		for k, b := range v.Cost {
			if k.Customer != "" {
				spend[k.Customer] += b.Cost
			}
		}
	}
	ids := make([]string, 0, len(spend))
	for id := range spend {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(spend[b], spend[a]), cmp.Compare(a, b)) })
	top := map[string]bool{}
	for _, id := range ids[:min(max, len(ids))] {
		top[id] = true
	}
	return top
}

// Fill is the sources' last good data, computed: the fresh value of every bucket it covers, and
// the customers that keep their own series. A poll counts it into the state; FirstFill returns
// the first one for a backfill, which counts it day by day into an empty state (WriteBackfill).
type Fill struct {
	today     usage.Day
	now       time.Time
	fams      *families
	*computed                 // nil while Stripe is configured but has never answered
	top       map[string]bool // nil: every customer keeps its own series
}

// fill computes the last good data as of today.
func (p *Poller) fill(today usage.Day, facts []*engine.SourceFacts) *Fill {
	f := &Fill{today: today, now: p.opts.Now(), fams: p.collector.fams, computed: p.compute(facts)}
	if f.computed != nil {
		f.top = topCustomers(f.computed, p.opts.MaxCustomers)
	}
	return f
}

// view is what the snapshot of day d shows besides the counters.
func (f *Fill) view(d usage.Day) view {
	v := view{today: d}
	if c := f.computed; c != nil {
		v.top, v.customers = f.top, c.customers
		if c.revenue != nil {
			v.revenue, v.subs = c.revenue.Revenue, c.revenue.Subscriptions
		}
	}
	return v
}

// view is what the poller's snapshot after f shows besides the counters: f's day and the
// sources' health.
func (p *Poller) view(f *Fill) view {
	v := f.view(f.today)
	v.recovered = p.recovered
	for _, src := range p.sources {
		v.sources = append(v.sources, *p.health[src])
	}
	return v
}

// account counts f into the state and freezes what can no longer change.
func (p *Poller) account(f *Fill) {
	c, today := f.computed, f.today
	if c == nil {
		p.log.Warn("stripe has not answered yet: spend is counted once customers are known")
		return
	}
	route := router(f.top)
	monthStart := today.MonthStart()
	k := usage.Day(p.opts.TrailingDays) // #nosec G115 -- trailing_days is validated to a few days
	for _, v := range c.cost {
		p.state.applyCost(v, route)
		p.advance(v.Provider, v.Today-k, monthStart)
	}
	if c.revenue != nil {
		p.state.applyRevenue(c.revenue.Window, today, c.daily, route)
		p.advance(sourceStripe, c.revenue.Today-k, monthStart)
	}
}

func (p *Poller) advance(source string, since, monthStart usage.Day) {
	if old, ok := p.state.Since[source]; ok && old > since {
		since = old
	}
	p.state.Since[source] = since
	p.state.prune(source, since, monthStart)
}
