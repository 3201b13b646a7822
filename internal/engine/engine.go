// Package engine is the facade every front end (CLI, exporter, plugin) calls: it builds the
// provider and Stripe clients from Options, fetches them concurrently, and attributes, prices,
// reconciles and aggregates what they return. It imports neither Prometheus nor the Grafana SDK.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/gcpolicy"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// Engine holds the configured sources. It is safe for concurrent use.
type Engine struct {
	opts    Options
	sources []Source // in the source table's order: providers, then Stripe
	catalog *catalog.Catalog
	log     *slog.Logger
}

// New builds a source for every configured row of the source table.
func New(opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReportingCurrency == "" {
		opts.ReportingCurrency = DefaultCurrency
	}
	if opts.BackfillDays == 0 {
		opts.BackfillDays = DefaultBackfillDays
	}
	cat, err := catalog.Default().With(opts.Prices)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	e := &Engine{opts: opts, catalog: cat, log: opts.Logger}
	var errs []error
	providers := 0
	for _, k := range sourceTable {
		so := k.configured(opts)
		if so == nil {
			continue
		}
		s, err := k.build(opts, so)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.sources = append(e.sources, s)
		if _, ok := k.name.Provider(); ok {
			providers++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if providers == 0 {
		return nil, errors.New("no provider configured: set providers.openai.admin_key, providers.anthropic.admin_key or providers.openrouter.management_key")
	}
	return e, nil
}

// SourceList names the configured sources for people: "openai, anthropic, stripe".
func (e *Engine) SourceList() string {
	s := make([]string, len(e.sources))
	for i, src := range e.sources {
		s[i] = string(src.Name())
	}
	return strings.Join(s, ", ")
}

// providers lists the configured providers.
func (e *Engine) providers() []usage.Provider {
	var out []usage.Provider
	for _, s := range e.sources {
		if p, ok := s.Name().Provider(); ok {
			out = append(out, p)
		}
	}
	return out
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
	for _, p := range e.providers() {
		maxDays = max(maxDays, p.RetentionDays())
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
	for _, p := range e.providers() {
		if r := p.DocumentedRetentionDays(); r > 0 && n > r {
			note = joinNote(note, fmt.Sprintf("%s documents only its last %d completed days", p, r))
		}
	}
	return usage.LastCompleteDays(e.opts.Now(), n), note
}

// RangeWindow turns a time range (a dashboard's) into whole UTC days, clamped to what Margin
// reads (at most usage.MaxBackfillDays complete days before today, or the documented retention
// when every provider documents one, plus today's partial day) and to today. The notice says when
// the range was clamped, and when a provider documents fewer days than the range covers
// (OpenRouter's 30); OpenAI and Anthropic document no limit, and their batches say which first
// day had data.
func (e *Engine) RangeWindow(from, to time.Time) (usage.Window, string) {
	today := e.Today()
	w := usage.Window{From: usage.DayOf(from), To: usage.DayOf(to.Add(-time.Nanosecond)) + 1} // a range ending at midnight ends with the day before
	if !to.After(from) {
		w.To = w.From
	}
	retention := 0
	for _, p := range e.providers() {
		retention = max(retention, p.RetentionDays())
	}
	oldest := today - usage.Day(retention) // #nosec G115 -- a retention is at most MaxBackfillDays
	limit := fmt.Sprintf("Margin reads at most %d days of usage", retention)
	if retention < usage.MaxBackfillDays {
		limit = fmt.Sprintf("The providers document %d days of usage", retention)
	}
	notice := ""
	if w.From < oldest {
		notice = fmt.Sprintf("%s: the range starts at %s, not %s.", limit, oldest, w.From)
		w.From = oldest
	}
	w.To = min(w.To, today+1) // no usage exists after today
	for _, p := range e.providers() {
		r := p.DocumentedRetentionDays()
		if kept := today - usage.Day(r); r > 0 && kept > w.From && kept < w.To { // #nosec G115 -- documented retention is at most 365 days
			notice = joinSentence(notice, fmt.Sprintf("%s documents its last %d completed days: its spend before %s is not in this range.", p, r, kept))
		}
	}
	if w.To <= w.From {
		if notice != "" {
			notice = fmt.Sprintf("The range lies before the %d days Margin reads: nothing to show.", retention)
		}
		return usage.Window{From: w.From, To: w.From}, notice
	}
	return w, notice
}

func joinSentence(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
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

// Compute attributes, prices and reconciles fetched facts with the configured mapping.
func (e *Engine) Compute(f *Facts) *Result {
	defer gcpolicy.Scope()() // as in FetchEach
	return Compute(f, e.catalog, Mapping{Customers: e.opts.Customers, Features: e.opts.Features})
}

// Report fetches the window and summarizes it, with the month-end forecast of the current month
// (which needs this month's days, today's estimate included, and Stripe's live subscriptions). A
// failing source fails the report: a partial report would silently understate spend.
func (e *Engine) Report(ctx context.Context, w usage.Window, progress Progress) (*Report, error) {
	defer gcpolicy.Scope()() // one scope from the fetch through Compute
	today := e.Today()
	forecastWindow := ForecastWindow(today)
	fetched := usage.Window{From: min(w.From, forecastWindow.From), To: max(w.To, today+1)}
	facts, err := e.fetchAll(ctx, fetched, e.providers(), progress)
	if err != nil {
		return nil, err
	}
	// One Compute over both windows: the report's days and the forecast's month are views of it.
	all := FactsOf(fetched, today, facts...)
	all.consumable = e.fresh(facts)
	days, month := e.Compute(all).within(w, forecastWindow)
	rep := SummarizeFor(days, e.opts.ReportingCurrency, e.targetMargin())
	rep.Forecast = e.Forecast(month, all.Revenue, subscriptionsOf(facts...))
	return rep, nil
}

// ForecastWindow is the window the month-end forecast reads: this month and the trend days before
// today, whichever reaches back further, through today. Its revenue runs on to the month's end (Plan).
func ForecastWindow(today usage.Day) usage.Window {
	return usage.Window{From: min(today.MonthStart(), today-trendDays), To: today + 1}
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
	out := make([]CheckResult, len(e.sources))
	var wg sync.WaitGroup
	for i, s := range e.sources {
		wg.Go(func() { out[i] = CheckResult{Source: string(s.Name()), Err: s.Check(ctx)} })
	}
	wg.Wait()
	return out
}

// HistoryNotice is the observed side of retention, for a result over a window reaching further
// back than one page of daily buckets: which first day had data for each of the providers listed
// that documents no retention (OpenAI, Anthropic). It is stated from the result, against its own
// window, so a result assembled from cached days (the plugin's) says it as a fresh fetch would.
func (res *Result) HistoryNotice(today usage.Day, providers []usage.Provider) string {
	w := res.Window
	if w.From >= today-usage.DailyBucketsPerPage {
		return ""
	}
	first := map[usage.Provider]usage.Day{}
	for i := range res.Rows {
		r := &res.Rows[i]
		if d, ok := first[r.Provider.Name()]; !ok || r.Day < d {
			first[r.Provider.Name()] = r.Day
		}
	}
	notice := ""
	for _, p := range providers {
		if p.DocumentedRetentionDays() > 0 {
			continue
		}
		d, ok := first[p]
		if n := usage.FirstDataNotice(p, w, d, ok); n != "" {
			notice = joinSentence(notice, n+".")
		}
	}
	return notice
}
