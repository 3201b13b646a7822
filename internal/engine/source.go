package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	stripebilling "github.com/marginhq/margin/internal/billing/stripe"
	"github.com/marginhq/margin/internal/gcpolicy"
	"github.com/marginhq/margin/internal/providers/anthropic"
	"github.com/marginhq/margin/internal/providers/openai"
	"github.com/marginhq/margin/internal/providers/openrouter"
	"github.com/marginhq/margin/internal/usage"
)

// SourceName names a source the engine reads: one of the three providers, or Stripe.
type SourceName string

// The sources, in the order the engine lists them.
const (
	SourceOpenAI     = SourceName(usage.OpenAI)
	SourceAnthropic  = SourceName(usage.Anthropic)
	SourceOpenRouter = SourceName(usage.OpenRouter)
	// SourceStripe is untyped so it compares with source labels held as strings.
	SourceStripe = "stripe"
)

// Provider returns the provider the source is, and false for Stripe.
func (n SourceName) Provider() (usage.Provider, bool) {
	if n == SourceStripe {
		return "", false
	}
	return usage.Provider(n), true
}

// Source is one API the engine reads. The engine's own sources wrap the provider and Stripe
// clients; front ends decorate them with Engine.Wrap (the exporter's last-good store, the
// plugin's fact cache), so every fetch goes through the same fan-out whatever sits in between.
type Source interface {
	Name() SourceName
	// Fetch returns what the source holds for the window Engine.Plan chose.
	Fetch(ctx context.Context, w usage.Window) (*SourceFacts, error)
	// Check makes one cheap authenticated call and returns why it fails, if it does.
	Check(ctx context.Context) error
}

// SourceFacts is what one source returned for a window.
type SourceFacts struct {
	Name   SourceName
	Window usage.Window
	// Today is the engine's day when the facts were read: billed cost from then on was not yet
	// settled, so facts read on different days are computed apart (Facts.Today).
	Today         usage.Day
	Batch         *usage.Batch       // a provider's usage, billed cost and source names
	Revenue       *RevenueFacts      // Stripe's customers and recognised revenue
	Subscriptions *SubscriptionFacts // Stripe's live subscriptions, read when the window reaches today
}

// SourceResult is the outcome of one source in a fan-out. Facts is nil when Err is set, except
// that a decorator may serve older facts beside the error (the exporter's last good data): the
// source is down and its numbers are those facts.
type SourceResult struct {
	Name  SourceName
	Facts *SourceFacts
	Err   error
	Took  time.Duration
}

// sourceKind is a row of the source table: how to build a source from Options, and what it
// serves.
type sourceKind struct {
	name SourceName
	// configured returns the source's options, nil when it is off.
	configured func(Options) *SourceOptions
	build      func(Options, *SourceOptions) (Source, error)
}

// sourceTable lists every source Margin reads, in display order: the engine builds, plans and
// fetches by looping over it.
var sourceTable = []sourceKind{
	{SourceOpenAI, func(o Options) *SourceOptions { return o.OpenAI }, func(o Options, s *SourceOptions) (Source, error) {
		c, err := openai.New(openai.Options{AdminKey: s.Key, BaseURL: s.BaseURL, HTTPClient: o.HTTPClient, Logger: o.Logger, Now: o.Now, Sleep: o.Sleep, NamesRefresh: o.NamesRefresh})
		return providerSource{c}, err
	}},
	{SourceAnthropic, func(o Options) *SourceOptions { return o.Anthropic }, func(o Options, s *SourceOptions) (Source, error) {
		c, err := anthropic.New(anthropic.Options{AdminKey: s.Key, BaseURL: s.BaseURL, HTTPClient: o.HTTPClient, Logger: o.Logger, Now: o.Now, Sleep: o.Sleep, NamesRefresh: o.NamesRefresh})
		return providerSource{c}, err
	}},
	{SourceOpenRouter, func(o Options) *SourceOptions { return o.OpenRouter }, func(o Options, s *SourceOptions) (Source, error) {
		c, err := openrouter.New(openrouter.Options{ManagementKey: s.Key, BaseURL: s.BaseURL, HTTPClient: o.HTTPClient, Logger: o.Logger, Now: o.Now, Sleep: o.Sleep})
		return providerSource{c}, err
	}},
	{SourceStripe, func(o Options) *SourceOptions { return o.Stripe }, func(o Options, s *SourceOptions) (Source, error) {
		c, err := stripebilling.New(stripebilling.Options{
			APIKey: s.Key, BaseURL: s.BaseURL, HTTPClient: o.HTTPClient,
			ReportingCurrency: o.ReportingCurrency, FXRates: o.FXRates, Logger: o.Logger, Now: o.Now, Sleep: o.Sleep,
		})
		if err != nil {
			return nil, err
		}
		src := &stripeSource{client: c, now: o.Now}
		if o.StripeRefresh > 0 {
			src.incremental = stripebilling.NewIncremental(c, o.StripeRefresh)
		}
		return src, nil
	}},
}

// providerSource is a provider client as a Source.
type providerSource struct{ client usage.Source }

func (p providerSource) Name() SourceName                { return SourceName(p.client.Provider()) }
func (p providerSource) Check(ctx context.Context) error { return p.client.Check(ctx) }
func (p providerSource) Fetch(ctx context.Context, w usage.Window) (*SourceFacts, error) {
	b, err := p.client.Fetch(ctx, w)
	if err != nil {
		return nil, err
	}
	return &SourceFacts{Name: p.Name(), Window: w, Batch: b}, nil
}

// stripeSource is Stripe's client as a Source: recognised revenue for the window and, when the
// window reaches today, the live subscriptions the month-end forecast projects.
type stripeSource struct {
	client *stripebilling.Client
	now    func() time.Time
	// With Options.StripeRefresh: the Stripe state held between fetches, and the live
	// subscriptions last read with the generation of that state they were read at.
	incremental *stripebilling.Incremental
	subsMu      sync.Mutex
	subs        *stripebilling.SubscriptionSet
	subsGen     uint64
}

func (s *stripeSource) Name() SourceName                { return SourceStripe }
func (s *stripeSource) Check(ctx context.Context) error { return s.client.Check(ctx) }

func (s *stripeSource) Fetch(ctx context.Context, w usage.Window) (*SourceFacts, error) {
	out := &SourceFacts{Name: SourceStripe, Window: w}
	var subsErr error
	var wg sync.WaitGroup
	if w.To > usage.DayOf(s.now()) {
		wg.Go(func() { out.Subscriptions, subsErr = s.subscriptions(ctx) })
	}
	rv, err := s.revenue(ctx, w)
	wg.Wait()
	if err = errors.Join(err, subsErr); err != nil {
		return nil, err
	}
	out.Revenue = rv
	return out, nil
}

// revenue reads the customers and recognised revenue for w; incrementally, only what changed
// since the last call (the revenue is the same).
func (s *stripeSource) revenue(ctx context.Context, w usage.Window) (*RevenueFacts, error) {
	if s.incremental != nil {
		return s.incremental.Fetch(ctx, w)
	}
	return s.client.Fetch(ctx, w)
}

// subscriptions reads the live subscriptions. Incrementally, it keeps them between calls: all are
// read again when the incremental Stripe state re-read customers and subscriptions (every
// StripeRefresh), and in between only those that changed or whose invoices did, one request each
// (so metered usage so far is at most StripeRefresh old for the others).
func (s *stripeSource) subscriptions(ctx context.Context) (*SubscriptionFacts, error) {
	if s.incremental == nil {
		subs, warnings, err := s.client.Subscriptions(ctx)
		if err != nil {
			return nil, err
		}
		return &SubscriptionFacts{Subscriptions: subs, Warnings: warnings}, nil
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	gen, touched := s.incremental.Generation(), s.incremental.Touched()
	var set *stripebilling.SubscriptionSet
	var err error
	if s.subs == nil || s.subsGen != gen {
		set, err = s.client.ReadSubscriptionSet(ctx)
	} else {
		set, err = s.client.Update(ctx, s.subs, touched)
	}
	if err != nil {
		return nil, err
	}
	s.incremental.Forget(touched)
	s.subs, s.subsGen = set, gen
	subs, warnings := set.List()
	return &SubscriptionFacts{Subscriptions: subs, Warnings: warnings}, nil
}

// Names lists the configured sources in the source table's order.
func (e *Engine) Names() []SourceName {
	out := make([]SourceName, len(e.sources))
	for i, s := range e.sources {
		out[i] = s.Name()
	}
	return out
}

// Wrap returns an engine that reads every source through decorate(source). It shares the
// configuration and the undecorated sources' state (Stripe's incremental cursor) with e.
func (e *Engine) Wrap(decorate func(Source) Source) *Engine {
	w := *e
	w.sources = make([]Source, len(e.sources))
	for i, s := range e.sources {
		w.sources[i] = decorate(s)
	}
	return &w
}

// Plan is the window the engine asks source n for when a caller wants w. A provider is asked
// for no more than it serves (usage.ClampWindow: its RetentionDays before today through today). Stripe is asked
// on to the end of today's month, since invoices already issued recognise service days ahead and
// the month-end forecast needs them (the counters still count only days through today).
func (e *Engine) Plan(n SourceName, w usage.Window) usage.Window {
	w, _ = e.plan(n, w)
	return w
}

// plan is Plan with what the clamp cut, in words.
func (e *Engine) plan(n SourceName, w usage.Window) (usage.Window, []string) {
	today := e.Today()
	if p, ok := n.Provider(); ok {
		return usage.ClampWindow(p, w, today)
	}
	w.To = max(w.To, today.NextMonthStart())
	return w, nil
}

// FetchEach reads every configured source concurrently, source n over Plan(n, window(n)); a
// source whose window(n) is empty is not read and has no result. Results are in Names() order.
func (e *Engine) FetchEach(ctx context.Context, window func(SourceName) usage.Window, progress Progress) []SourceResult {
	defer gcpolicy.Scope()() // a large fetch's heap stays near its facts (internal/gcpolicy)
	today := e.Today()
	results := make([]SourceResult, len(e.sources))
	var wg sync.WaitGroup
	for i, s := range e.sources {
		name := s.Name()
		results[i].Name = name
		asked := window(name)
		if asked.Days() == 0 {
			continue
		}
		w, cut := e.plan(name, asked)
		wg.Go(func() {
			if progress != nil {
				progress(string(name), false, 0, nil)
			}
			start := e.opts.Now()
			f, err := s.Fetch(ctx, w)
			if f != nil && f.Today == 0 {
				f.Today = today
				if f.Batch != nil {
					// What the plan cut never reached the client, which would have said so.
					f.Batch.Warnings = append(cut, f.Batch.Warnings...)
				}
			}
			took := e.opts.Now().Sub(start)
			results[i] = SourceResult{Name: name, Facts: f, Err: err, Took: took}
			if progress != nil {
				progress(string(name), true, took, err)
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(results, func(r SourceResult) bool { return r.Facts == nil && r.Err == nil })
}

// Fetch reads every configured source over w concurrently. Sources that fail are left out of the
// facts and reported in the returned error (a join of *SourceError, in source order), so callers
// can tell which source is missing.
func (e *Engine) Fetch(ctx context.Context, w usage.Window, progress Progress) (*Facts, error) {
	return e.FetchFor(ctx, w, e.providers(), progress)
}

// FetchFor is Fetch for exactly the providers listed (none when the list is empty), and Stripe.
func (e *Engine) FetchFor(ctx context.Context, w usage.Window, providers []usage.Provider, progress Progress) (*Facts, error) {
	facts, err := e.fetchAll(ctx, w, providers, progress)
	return FactsOf(w, e.Today(), facts...), err
}

// fetchAll reads exactly the providers listed and Stripe, when configured, over w. It returns
// the facts of the sources that answered and the failures joined as *SourceError.
func (e *Engine) fetchAll(ctx context.Context, w usage.Window, providers []usage.Provider, progress Progress) ([]*SourceFacts, error) {
	results := e.FetchEach(ctx, func(n SourceName) usage.Window {
		if p, ok := n.Provider(); ok && !slices.Contains(providers, p) {
			return usage.Window{}
		}
		return w
	}, progress)
	var errs []error
	var facts []*SourceFacts
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, &SourceError{Source: string(r.Name), Err: r.Err})
			continue
		}
		facts = append(facts, r.Facts)
	}
	return facts, errors.Join(errs...)
}

// FactsOf assembles sources' facts into the engine's input for window w.
func FactsOf(w usage.Window, today usage.Day, facts ...*SourceFacts) *Facts {
	f := &Facts{Window: w, Today: today}
	for _, sf := range facts {
		if sf.Batch != nil {
			f.Batches = append(f.Batches, sf.Batch)
		}
		if sf.Revenue != nil {
			f.Revenue = sf.Revenue
		}
	}
	return f
}

// fresh returns the batches among facts that came straight from a provider's client, which
// makes a new batch for every fetch: nothing else holds them. A decorated source (Wrap) may
// keep what it hands out, so its batches are never among them.
func (e *Engine) fresh(facts []*SourceFacts) map[*usage.Batch]bool {
	plain := map[SourceName]bool{}
	for _, s := range e.sources {
		if _, ok := s.(providerSource); ok {
			plain[s.Name()] = true
		}
	}
	out := map[*usage.Batch]bool{}
	for _, sf := range facts {
		if sf != nil && sf.Batch != nil && plain[sf.Name] {
			out[sf.Batch] = true
		}
	}
	return out
}

// subscriptionsOf returns the live subscriptions among the facts, nil when none were read.
func subscriptionsOf(facts ...*SourceFacts) *SubscriptionFacts {
	for _, sf := range facts {
		if sf != nil && sf.Subscriptions != nil {
			return sf.Subscriptions
		}
	}
	return nil
}

// ForecastMonth reads what the month-end forecast needs, through the engine's (decorated)
// sources: exactly the providers listed over ForecastWindow, Stripe's revenue through month
// end and its live subscriptions. It returns the forecast and the result it was computed from.
func (e *Engine) ForecastMonth(ctx context.Context, providers []usage.Provider) (*Forecast, *Result, error) {
	w := ForecastWindow(e.Today())
	facts, err := e.fetchAll(ctx, w, providers, nil)
	if err != nil {
		return nil, nil, err
	}
	f := FactsOf(w, e.Today(), facts...)
	res := e.Compute(f)
	return e.Forecast(res, f.Revenue, subscriptionsOf(facts...)), res, nil
}
