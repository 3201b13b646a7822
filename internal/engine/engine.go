// Package engine is the facade every front end (CLI, exporter, plugin) calls: it builds the
// provider and Stripe clients from Options, fetches them concurrently, and attributes, prices,
// reconciles and aggregates what they return. It imports neither Prometheus nor the Grafana SDK.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	stripebilling "github.com/marginhq/margin/internal/billing/stripe"
	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/anthropic"
	"github.com/marginhq/margin/internal/providers/openai"
	"github.com/marginhq/margin/internal/providers/openrouter"
	"github.com/marginhq/margin/internal/usage"
)

// SourceStripe names the revenue source beside the three providers.
const SourceStripe = "stripe"

// Engine holds the configured clients. It is safe for concurrent use.
type Engine struct {
	opts      Options
	providers []usage.Source
	stripe    *stripebilling.Client
	catalog   *catalog.Catalog
	log       *slog.Logger

	// With Options.StripeRefresh: the Stripe state held between polls, and the live
	// subscriptions last read with the generation of that state they were read at.
	incremental *stripebilling.Incremental
	subsMu      sync.Mutex
	subs        *stripebilling.SubscriptionSet
	subsGen     uint64
}

// New builds the clients for every configured source.
func New(opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReportingCurrency == "" {
		opts.ReportingCurrency = "usd"
	}
	if opts.BackfillDays == 0 {
		opts.BackfillDays = 31
	}
	cat, err := catalog.Default().With(opts.Prices)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	e := &Engine{opts: opts, catalog: cat, log: opts.Logger}
	var errs []error
	if o := opts.OpenAI; o != nil {
		c, err := openai.New(openai.Options{AdminKey: o.Key, BaseURL: o.BaseURL, HTTPClient: opts.HTTPClient, Logger: opts.Logger, Now: opts.Now, NamesRefresh: opts.NamesRefresh})
		errs = append(errs, err)
		if err == nil {
			e.providers = append(e.providers, c)
		}
	}
	if o := opts.Anthropic; o != nil {
		c, err := anthropic.New(anthropic.Options{AdminKey: o.Key, BaseURL: o.BaseURL, HTTPClient: opts.HTTPClient, Logger: opts.Logger, Now: opts.Now,
			NamesRefresh: opts.NamesRefresh})
		errs = append(errs, err)
		if err == nil {
			e.providers = append(e.providers, c)
		}
	}
	if o := opts.OpenRouter; o != nil {
		c, err := openrouter.New(openrouter.Options{ManagementKey: o.Key, BaseURL: o.BaseURL, HTTPClient: opts.HTTPClient, Logger: opts.Logger, Now: opts.Now})
		errs = append(errs, err)
		if err == nil {
			e.providers = append(e.providers, c)
		}
	}
	if o := opts.Stripe; o != nil {
		c, err := stripebilling.New(stripebilling.Options{
			APIKey: o.Key, BaseURL: o.BaseURL, HTTPClient: opts.HTTPClient,
			ReportingCurrency: opts.ReportingCurrency, FXRates: opts.FXRates, Logger: opts.Logger, Now: opts.Now,
		})
		errs = append(errs, err)
		e.stripe = c
		if err == nil && opts.StripeRefresh > 0 {
			e.incremental = stripebilling.NewIncremental(c, opts.StripeRefresh)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(e.providers) == 0 {
		return nil, errors.New("no provider configured: set providers.openai.admin_key, providers.anthropic.admin_key or providers.openrouter.management_key")
	}
	return e, nil
}

// Sources lists the configured sources in a fixed order: providers, then "stripe".
func (e *Engine) Sources() []string {
	var s []string
	for _, p := range e.providers {
		s = append(s, string(p.Provider()))
	}
	if e.stripe != nil {
		s = append(s, SourceStripe)
	}
	return s
}

// Catalog returns the price catalog in use.
func (e *Engine) Catalog() *catalog.Catalog { return e.catalog }

// Today is the current UTC day by the engine's clock.
func (e *Engine) Today() usage.Day { return usage.DayOf(e.opts.Now()) }

// Window returns the last n complete UTC days, capped at usage.MaxBackfillDays, or at the
// documented retention when every configured provider documents one (OpenRouter alone: 30). The
// note is non-empty when the window was capped or a provider documents fewer days than asked
// for; OpenAI and Anthropic document no retention, so what they served is only known after the
// fetch (their batches say which first day had data).
func (e *Engine) Window(n int) (usage.Window, string) {
	if n <= 0 {
		n = e.opts.BackfillDays
	}
	maxDays := 0
	for _, p := range e.providers {
		maxDays = max(maxDays, p.Provider().RetentionDays())
	}
	note := ""
	if n > maxDays {
		reason := fmt.Sprintf("Margin reads at most %d days", usage.MaxBackfillDays)
		if maxDays < usage.MaxBackfillDays {
			reason = "the configured providers document no older usage"
		}
		note = fmt.Sprintf("--days %d capped to %d: %s", n, maxDays, reason)
		n = maxDays
	}
	for _, p := range e.providers {
		if r := p.Provider().DocumentedRetentionDays(); r > 0 && n > r {
			note = joinNote(note, fmt.Sprintf("%s documents only its last %d completed days", p.Provider(), r))
		}
	}
	return usage.LastCompleteDays(e.opts.Now(), n), note
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Progress is told when each source starts and finishes fetching; err is nil on success.
type Progress func(source string, done bool, elapsed time.Duration, err error)

// SourceError is the failure of one source during a fetch.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Fetch reads every configured source concurrently. Sources that fail are left out of the
// facts and reported in the returned error (a join of *SourceError), so callers can keep the
// last good data of a failed source.
func (e *Engine) Fetch(ctx context.Context, w usage.Window, progress Progress) (*Facts, error) {
	f := &Facts{Window: w, Today: e.Today()}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	batches := make([]*usage.Batch, len(e.providers))
	report := func(name string, start time.Time, err error) {
		if progress != nil {
			progress(name, true, time.Since(start), err)
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, &SourceError{Source: name, Err: err})
			mu.Unlock()
		}
	}
	for i, p := range e.providers {
		wg.Go(func() {
			start := time.Now()
			if progress != nil {
				progress(string(p.Provider()), false, 0, nil)
			}
			b, err := p.Fetch(ctx, w)
			if err == nil {
				batches[i] = b
			}
			report(string(p.Provider()), start, err)
		})
	}
	if e.stripe != nil {
		wg.Go(func() {
			start := time.Now()
			if progress != nil {
				progress(SourceStripe, false, 0, nil)
			}
			// Revenue runs to month end: invoiced service periods are known ahead, and the
			// month-end forecast needs them.
			rw := w
			if end := usage.DayOf(timeMonthStart(e.Today().Time()).AddDate(0, 1, 0)); rw.To < end {
				rw.To = end
			}
			rv, err := e.FetchRevenue(ctx, rw)
			if err == nil {
				f.Revenue = rv
			}
			report(SourceStripe, start, err)
		})
	}
	wg.Wait()
	for _, b := range batches {
		if b != nil {
			f.Batches = append(f.Batches, b)
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].(*SourceError).Source < errs[j].(*SourceError).Source }) //nolint:errorlint // only *SourceError values, made above
	return f, errors.Join(errs...)
}

// FetchProvider reads one provider; the exporter polls sources independently.
func (e *Engine) FetchProvider(ctx context.Context, p usage.Provider, w usage.Window) (*usage.Batch, error) {
	for _, s := range e.providers {
		if s.Provider() == p {
			return s.Fetch(ctx, w)
		}
	}
	return nil, fmt.Errorf("%s is not configured", p)
}

// FetchRevenue reads Stripe's customers and recognised revenue for the window; with
// Options.StripeRefresh, only what changed since the last call (the revenue is the same).
func (e *Engine) FetchRevenue(ctx context.Context, w usage.Window) (*RevenueFacts, error) {
	if e.stripe == nil {
		return nil, errors.New("stripe is not configured")
	}
	fetch := e.stripe.Fetch
	if e.incremental != nil {
		fetch = e.incremental.Fetch
	}
	return fetch(ctx, w)
}

// Compute attributes, prices and reconciles fetched facts with the configured mapping.
func (e *Engine) Compute(f *Facts) *Result {
	return Compute(f, e.catalog, Mapping{Customers: e.opts.Customers, Features: e.opts.Features})
}

// Report fetches the window and summarizes it, with the month-end forecast of the current month
// (which needs this month's days, today's estimate included, and Stripe's live subscriptions). A
// failing source fails the report: a partial report would silently understate spend.
func (e *Engine) Report(ctx context.Context, w usage.Window, progress Progress) (*Report, error) {
	today := e.Today()
	forecastWindow := ForecastWindow(today)
	var subs *SubscriptionFacts
	var subsErr error
	var wg sync.WaitGroup
	if e.stripe != nil {
		wg.Go(func() { subs, subsErr = e.FetchSubscriptions(ctx) })
	}
	f, err := e.Fetch(ctx, usage.Window{From: min(w.From, forecastWindow.From), To: max(w.To, today+1)}, progress)
	wg.Wait()
	if err == nil && subsErr != nil {
		err = &SourceError{Source: SourceStripe, Err: subsErr}
	}
	if err != nil {
		return nil, err
	}
	reportFacts := *f
	reportFacts.Window = w
	rep := SummarizeFor(e.Compute(&reportFacts), e.opts.ReportingCurrency, e.targetMargin())
	monthFacts := *f
	monthFacts.Window = forecastWindow
	rep.Forecast = e.Forecast(e.Compute(&monthFacts), f.Revenue, subs)
	return rep, nil
}

// ForecastWindow is the window the month-end forecast reads: this month and the trend days before
// today, whichever reaches back further, through today. Its revenue runs on to MonthEnd(today).
func ForecastWindow(today usage.Day) usage.Window {
	monthStart := usage.DayOf(timeMonthStart(today.Time()))
	return usage.Window{From: min(monthStart, today-trendDays), To: today + 1}
}

// MonthEnd is the first day of the month after today's.
func MonthEnd(today usage.Day) usage.Day {
	return usage.DayOf(timeMonthStart(today.Time()).AddDate(0, 1, 0))
}

// Forecast projects month-end cost and revenue per customer from a result covering this month and
// the week before today (through today), Stripe's revenue, which runs to the end of the invoiced
// service periods, and its live subscriptions (nil: none known, revenue is invoiced only).
func (e *Engine) Forecast(month *Result, rv *RevenueFacts, subs *SubscriptionFacts) *Forecast {
	var daily []DailyRevenue
	if rv != nil {
		daily = rv.Daily
	}
	var live []Subscription
	var warnings []string
	if subs != nil {
		live = subs.Subscriptions
		for _, w := range subs.Warnings {
			warnings = append(warnings, "stripe: "+w)
		}
	}
	fc := forecast(month, daily, live, e.Today())
	fc.Warnings = warnings
	return fc
}

// TargetMargin is the gross margin the plans view prices for.
func (e *Engine) targetMargin() ledger.Rate {
	if e.opts.TargetMargin > 0 {
		return e.opts.TargetMargin
	}
	return DefaultTargetMargin
}

// CheckResult is the outcome of checking one source's credentials.
type CheckResult struct {
	Source string
	Err    error
}

// Check makes one cheap authenticated call per configured source, concurrently.
func (e *Engine) Check(ctx context.Context) []CheckResult {
	names := e.Sources()
	out := make([]CheckResult, len(names))
	var wg sync.WaitGroup
	for i, p := range e.providers {
		wg.Go(func() { out[i] = CheckResult{Source: string(p.Provider()), Err: p.Check(ctx)} })
	}
	if e.stripe != nil {
		i := len(e.providers)
		wg.Go(func() { out[i] = CheckResult{Source: SourceStripe, Err: e.stripe.Check(ctx)} })
	}
	wg.Wait()
	return out
}
