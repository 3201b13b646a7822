// Package plugin is the Grafana SDK glue of the Margin datasource: the instance built from the
// datasource settings, and one file per handler (queries, health check, resources). Everything it
// computes comes from internal/engine, whose sources it reads through the per-instance fact
// cache (a decorator installed with Engine.Wrap); frames come from views.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/fault"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/factcache"
	"github.com/marginhq/margin/plugin/pkg/models"
)

// PluginID is the datasource's plugin id (plugin.json).
const PluginID = "marginhq-margin-datasource"

// memoSize bounds the computed windows kept per instance: each holds a full result. A
// dashboard asks for a few windows (its range, the forecast's month, the pickers' 31 days).
const memoSize = 4

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Margin datasource. The instance manager builds a new one whenever
// the settings change and disposes of the old one.
type Datasource struct {
	opts        engine.Options
	eng         *engine.Engine // reads every source through facts
	settingsErr error          // invalid settings: the instance still answers, with this error
	keys        []secret.String
	facts       *factcache.Cache
	mux         *datasource.QueryTypeMux
	handlers    map[models.QueryType]queryFunc // the mux's, for queries it cannot route by type
	resources   backend.CallResourceHandler
	log         log.Logger

	// memo keeps computed results by the fact cache's stamp of the days they were computed from,
	// so a repeated query skips assembling and computing while no underlying day changed. A new
	// stamp is a new key, so nothing in it is ever stale; it is emptied when full.
	mu   sync.Mutex
	memo map[memoKey]*computed
}

// memoKey names a computed window: the fact cache's stamp, the providers fetched, the days, and
// whether it is the month-end forecast (ForecastMonth's result over engine.ForecastWindow).
type memoKey struct {
	stamp     uint64
	providers string
	w         usage.Window
	forecast  bool
}

// computed is the engine's result for one window, with the forecast for a forecast key.
type computed struct {
	res      *engine.Result
	forecast *engine.Forecast

	mu      sync.Mutex
	reports map[ledger.Rate]*engine.Report
}

// report summarizes the result at the default target margin.
func (c *computed) report() *engine.Report { return c.reportFor(engine.DefaultTargetMargin) }

// reportFor summarizes the result once per target margin (only the plans view depends on it).
func (c *computed) reportFor(target ledger.Rate) *engine.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rep := c.reports[target]; rep != nil {
		return rep
	}
	if c.reports == nil {
		c.reports = map[ledger.Rate]*engine.Report{}
	}
	rep := engine.SummarizeFor(c.res, engine.DefaultCurrency, target)
	c.reports[target] = rep
	return rep
}

// deps are what tests replace: the clock, the cache TTL and the SDK logger. Production passes
// the zero value.
type deps struct {
	now       func() time.Time
	recentTTL time.Duration
	log       log.Logger
}

// NewDatasource is the instance factory datasource.Manage calls with the decrypted settings.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	return newDatasource(ctx, s, deps{})
}

func newDatasource(ctx context.Context, s backend.DataSourceInstanceSettings, d deps) (*Datasource, error) {
	base := d.log
	if base == nil {
		base = backend.Logger
	}
	ds := &Datasource{log: base.With("datasource", s.UID), memo: map[memoKey]*computed{}}
	ds.mux = ds.newMux()
	ds.resources = ds.newResources()
	opts, err := models.ParseSettings(s.JSONData, s.DecryptedSecureJSONData)
	if err != nil {
		// Keep the instance: CheckHealth and every query then say what to fix.
		ds.settingsErr = err
		return ds, nil
	}
	httpOpts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("http client options: %w", err)
	}
	client, err := httpclient.New(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	opts.HTTPClient = client
	opts.Now = d.now
	ds.opts, ds.keys = opts, models.Keys(opts)
	// The engine and its clients log through the SDK, masked with this instance's keys.
	opts.Logger = slog.New(newSDKHandler(ds.log, ds.scrub))
	eng, err := engine.New(opts)
	if err != nil {
		ds.settingsErr = err
		return ds, nil
	}
	ds.facts = factcache.New(factcache.Options{RecentTTL: d.recentTTL, Now: d.now})
	ds.eng = eng.Wrap(ds.facts.Wrap)
	return ds, nil
}

// Dispose releases the cached facts and the memo; the instance manager calls it when the settings
// change or the datasource is deleted.
func (d *Datasource) Dispose() {
	if d.facts != nil {
		d.facts.Release()
	}
	d.mu.Lock()
	d.memo = map[memoKey]*computed{}
	d.mu.Unlock()
}

// now is the engine's clock.
func (d *Datasource) now() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now()
	}
	return time.Now()
}

// providers returns the configured providers the filter admits.
func (d *Datasource) providers(q *models.Query) []usage.Provider {
	var out []usage.Provider
	for _, n := range d.eng.Names() {
		if p, ok := n.Provider(); ok && (q == nil || q.HasProvider(p)) {
			out = append(out, p)
		}
	}
	return out
}

// compute returns the engine's result for the providers over w, or with forecast the month-end
// forecast (w is then engine.ForecastWindow): from the memo when the fact cache holds every day
// the engine would read fresh and unchanged, otherwise read through the fact cache and computed.
func (d *Datasource) compute(ctx context.Context, providers []usage.Provider, w usage.Window, forecast bool) (*computed, error) {
	names := make([]string, len(providers))
	for i, p := range providers {
		names[i] = string(p)
	}
	key := memoKey{providers: strings.Join(names, ","), w: w, forecast: forecast}
	if stamp, ok := d.stamp(providers, w); ok {
		key.stamp = stamp
		d.mu.Lock()
		c := d.memo[key]
		d.mu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	fctx, served := factcache.WithServed(ctx)
	var c *computed
	var err error
	if forecast {
		c = &computed{}
		c.forecast, c.res, err = d.eng.ForecastMonth(fctx, providers)
	} else {
		c, err = d.fetchAndCompute(fctx, providers, w)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // the caller gave up; the query says so
		}
		d.log.FromContext(ctx).Warn("fetch failed", "window", w.String(), "error", d.explain(err))
		return nil, err
	}
	for _, warn := range c.res.Warnings {
		d.log.FromContext(ctx).Warn("engine warning", "window", w.String(), "warning", d.scrub(warn))
	}
	key.stamp = served.Stamp()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.memo) >= memoSize {
		clear(d.memo)
	}
	d.memo[key] = c
	return c, nil
}

// stamp is the fact cache's stamp of every day the engine reads for the providers over w (each
// source over its Engine.Plan window); ok is false when one is missing or stale.
func (d *Datasource) stamp(providers []usage.Provider, w usage.Window) (stamp uint64, ok bool) {
	for _, n := range d.eng.Names() {
		if p, isProvider := n.Provider(); isProvider && !slices.Contains(providers, p) {
			continue
		}
		s, ok := d.facts.Stamp(n, d.eng.Plan(n, w))
		if !ok {
			return 0, false
		}
		stamp = max(stamp, s)
	}
	return stamp, true
}

// fetchAndCompute reads the providers and Stripe over w in the engine's fan-out and computes. A
// failing source fails it, named: a partial result would understate spend without saying so.
func (d *Datasource) fetchAndCompute(ctx context.Context, providers []usage.Provider, w usage.Window) (*computed, error) {
	f, err := d.eng.FetchFor(ctx, w, providers, nil)
	if err != nil {
		return nil, err
	}
	return &computed{res: d.eng.Compute(f)}, nil
}

// explain turns a fetch or check error into plain words naming the source, with every configured
// key masked even if some layer below let one through.
func (d *Datasource) explain(err error) string {
	var parts []string
	for _, e := range flatten(err) {
		var se *engine.SourceError
		if errors.As(e, &se) {
			parts = append(parts, se.Source+": "+d.plain(se.Err))
			continue
		}
		parts = append(parts, d.plain(e))
	}
	return d.scrub(strings.Join(parts, "; "))
}

// plain explains one error: the API's failure class in words, or a deadline.
func (d *Datasource) plain(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time: the API is slow or unreachable"
	}
	if errors.Is(err, context.Canceled) {
		return "the request was cancelled"
	}
	return fault.Explain(err)
}

func (d *Datasource) scrub(s string) string {
	for _, k := range d.keys {
		if k.IsSet() {
			s = strings.ReplaceAll(s, k.Reveal(), k.String())
		}
	}
	return secret.Scrub(s)
}

// flatten undoes errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
