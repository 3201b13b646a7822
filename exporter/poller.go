package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

const sourceStripe = engine.SourceStripe

// Engine is what the poller needs from internal/engine; *engine.Engine implements it, and tests
// replace it with a fake.
type Engine interface {
	Sources() []string
	Today() usage.Day
	FetchProvider(ctx context.Context, p usage.Provider, w usage.Window) (*usage.Batch, error)
	FetchRevenue(ctx context.Context, w usage.Window) (*engine.RevenueFacts, error)
	Compute(f *engine.Facts) *engine.Result
}

// ErrPollSkipped is returned by Poll while the previous poll is still running.
var ErrPollSkipped = errors.New("previous poll still running: cycle skipped")

// sourceData is the last good answer of one source.
type sourceData struct {
	today   usage.Day    // the engine's today when it was fetched
	window  usage.Window // the days it covers
	batch   *usage.Batch // providers
	revenue *engine.RevenueFacts
	subs    *engine.SubscriptionFacts // stripe, when the engine reads subscriptions
}

// Poller polls the sources, keeps the counter state and publishes snapshots to its Collector.
type Poller struct {
	opts      Options
	log       *slog.Logger
	collector *Collector
	sources   []string

	running sync.Mutex // held for a whole poll: TryLock skips overlapping cycles

	// Owned by the goroutine holding running.
	state     *State
	recovered bool // the state came from the previous generation of the state file
	last      map[string]*sourceData
	health    map[string]*SourceStatus
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
		collector: NewCollector(Labels{DropModel: opts.DropModelLabel, Feature: opts.FeatureLabel}),
		sources:   opts.Engine.Sources(),
		last:      map[string]*sourceData{},
		health:    map[string]*SourceStatus{},
	}
	for _, s := range p.sources {
		p.health[s] = &SourceStatus{Source: s}
	}
	p.state = NewState()
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
	p.collector.Set(p.collector.fams.snapshot(p.state, p.view(&Fill{today: opts.Engine.Today()})))
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
	today := p.opts.Engine.Today()
	fetchErr := p.fetch(ctx, today)
	f := p.fill(today)
	p.account(f)
	if p.opts.StateFile != "" {
		if err := p.state.Save(p.opts.StateFile); err != nil {
			p.log.Error("saving state", "state_file", p.opts.StateFile, "err", err)
		}
	}
	snap := p.collector.fams.snapshot(p.state, p.view(f))
	snap.prepared(p.collector.format()) // rendered here, off the scrape path
	p.collector.Set(snap)
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

// window is the days source must re-read today: from the first day it may still see revised
// (Since, or the backfill window on the first run) through today, within what the provider keeps.
func (p *Poller) window(source string, today usage.Day) usage.Window {
	keep := p.opts.BackfillDays
	if source != sourceStripe {
		keep = min(keep, usage.Provider(source).RetentionDays())
	}
	from, ok := p.state.Since[source]
	if !ok {
		from = today - usage.Day(p.opts.BackfillDays) // #nosec G115 -- backfill_days is validated to a few hundred days
	}
	return usage.Window{From: max(from, today-usage.Day(keep)), To: today + 1} // #nosec G115 -- keep is backfill_days or a provider retention, a few hundred days at most
}

// fetch reads every source concurrently; a failure keeps the source's last good data.
func (p *Poller) fetch(ctx context.Context, today usage.Day) error {
	type result struct {
		data *sourceData
		err  error
		took time.Duration
	}
	results := make([]result, len(p.sources))
	var wg sync.WaitGroup
	for i, src := range p.sources {
		w := p.window(src, today)
		wg.Go(func() {
			start := p.opts.Now() // the poller's clock, so tests see fixed durations
			d := &sourceData{today: today, window: w}
			var err error
			if src == sourceStripe {
				d.revenue, d.subs, err = p.fetchStripe(ctx, w, today)
			} else {
				d.batch, err = p.opts.Engine.FetchProvider(ctx, usage.Provider(src), w)
			}
			results[i] = result{d, err, p.opts.Now().Sub(start)}
		})
	}
	wg.Wait()
	var errs []error
	now := p.opts.Now()
	for i, src := range p.sources {
		r, h := results[i], p.health[src]
		h.Duration = r.took.Seconds()
		if r.err != nil {
			h.Up = false
			errs = append(errs, fmt.Errorf("%s: %w", src, r.err))
			p.log.Warn("source failed: keeping its last good data", "source", src, "err", r.err)
			continue
		}
		h.Up, h.LastSuccess = true, float64(now.UnixMilli())/1000
		p.last[src] = r.data
	}
	return errors.Join(errs...)
}

// computed is the freshly computed value of every bucket the last good data covers.
type computed struct {
	cost      []*costValues
	revenue   *sourceData
	daily     map[revenueKey]ledger.Money
	customers []engine.CustomerInfo
}

// compute prices and attributes the last good batches. Batches fetched on different days are
// computed apart, each with its own today, so a stale batch yields exactly what it yielded when
// it was fresh. It returns nil while Stripe is configured but has never answered: without its
// customers, spend would move to unattributed and back, which the counters would show.
func (p *Poller) compute() *computed {
	c := &computed{revenue: p.last[sourceStripe]}
	var rv *engine.RevenueFacts
	if slices.Contains(p.sources, sourceStripe) {
		if c.revenue == nil {
			return nil
		}
		rv = c.revenue.revenue
		c.customers = rv.Customers
		c.daily = map[revenueKey]ledger.Money{}
		for _, d := range rv.Daily {
			c.daily[revenueKey{d.Day, d.Customer}] += d.Amount
		}
	}
	groups := map[usage.Day][]*sourceData{}
	for _, src := range p.sources {
		if d := p.last[src]; d != nil && src != sourceStripe {
			groups[d.today] = append(groups[d.today], d)
		}
	}
	for today, group := range groups {
		f := &engine.Facts{Today: today, Revenue: rv, Window: group[0].window}
		byProvider := map[string]*costValues{}
		for _, d := range group {
			f.Batches = append(f.Batches, d.batch)
			f.Window.From = min(f.Window.From, d.window.From)
			f.Window.To = max(f.Window.To, d.window.To)
			v := &costValues{Provider: string(d.batch.Provider), Window: d.window, Cost: map[costKey]costBucket{}, Unpriced: map[unpricedKey]tokenCounts{}}
			byProvider[v.Provider] = v
			c.cost = append(c.cost, v)
		}
		res := p.opts.Engine.Compute(f)
		for i := range res.Rows {
			r := &res.Rows[i]
			v := byProvider[string(r.Provider)]
			if v == nil || !v.Window.Contains(r.Day) {
				continue
			}
			k := costKey{Day: r.Day, Provider: string(r.Provider), Model: r.Model, Customer: r.Customer, Feature: r.Feature}
			b := v.Cost[k]
			b.Cost += r.Cost
			b.Requests += r.Requests
			t := tokensOf(r.Tokens)
			for j := range t {
				b.Tokens[j] += t[j]
			}
			v.Cost[k] = b
			if r.Unpriced != nil {
				uk := unpricedKey{Day: r.Day, Provider: string(r.Provider), Model: r.Model}
				u, ut := v.Unpriced[uk], tokensOf(*r.Unpriced)
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
func (p *Poller) fill(today usage.Day) *Fill {
	f := &Fill{today: today, now: p.opts.Now(), fams: p.collector.fams, computed: p.compute()}
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
			v.revenue, v.subs = c.revenue.revenue, c.revenue.subs
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
	monthStart := usage.DayOf(today.Time().AddDate(0, 0, 1-today.Time().Day()))
	k := usage.Day(p.opts.TrailingDays) // #nosec G115 -- trailing_days is validated to a few days
	for _, v := range c.cost {
		p.state.applyCost(v, route)
		p.advance(v.Provider, p.last[v.Provider].today-k, monthStart)
	}
	if c.revenue != nil {
		p.state.applyRevenue(c.revenue.window, today, c.daily, route)
		p.advance(sourceStripe, c.revenue.today-k, monthStart)
	}
}

func (p *Poller) advance(source string, since, monthStart usage.Day) {
	if old, ok := p.state.Since[source]; ok && old > since {
		since = old
	}
	p.state.Since[source] = since
	p.state.prune(source, since, monthStart)
}
