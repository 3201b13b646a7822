// Package plugin is the Grafana SDK glue of the Margin datasource: the instance built from the
// datasource settings, and one file per handler (queries, health check, resources). Everything it
// computes comes from internal/engine through the per-instance fact cache; frames come from views.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"golang.org/x/sync/singleflight"

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

// maxResults bounds the computed windows kept per instance: each holds a full fact table.
const maxResults = 4

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
	eng         *engine.Engine
	settingsErr error // invalid settings: the instance still answers, with this error
	keys        []secret.String
	facts       *factcache.Cache
	mux         *datasource.QueryTypeMux
	resources   backend.CallResourceHandler
	log         log.Logger

	computeGroup singleflight.Group
	mu           sync.Mutex
	results      map[resultKey]*computed
	tick         uint64
}

// resultKey names a computed window: the providers fetched and the days.
type resultKey struct {
	providers string
	w         usage.Window
}

func (k resultKey) String() string { return fmt.Sprintf("%s:%d-%d", k.providers, k.w.From, k.w.To) }

// computed is the engine's result for one window at one stamp of the fact cache.
type computed struct {
	stamp    uint64
	res      *engine.Result
	lastUsed uint64

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
	rep := engine.SummarizeFor(c.res, "usd", target)
	c.reports[target] = rep
	return rep
}

// deps are what tests replace: the clock and the cache TTL. Production passes the zero value.
type deps struct {
	now       func() time.Time
	recentTTL time.Duration
}

// NewDatasource is the instance factory datasource.Manage calls with the decrypted settings.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	return newDatasource(ctx, s, deps{})
}

func newDatasource(ctx context.Context, s backend.DataSourceInstanceSettings, d deps) (*Datasource, error) {
	ds := &Datasource{log: backend.Logger.With("datasource", s.UID), results: map[resultKey]*computed{}}
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
	if ds.eng, err = engine.New(opts); err != nil {
		ds.settingsErr = err
		return ds, nil
	}
	ds.facts = factcache.New(ds.eng, factcache.Options{RecentTTL: d.recentTTL, Now: d.now})
	return ds, nil
}

// Dispose releases the cached facts and results; the instance manager calls it when the settings
// change or the datasource is deleted.
func (d *Datasource) Dispose() {
	if d.facts != nil {
		d.facts.Release()
	}
	d.mu.Lock()
	d.results = map[resultKey]*computed{}
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
	for _, s := range d.eng.Sources() {
		if p := usage.Provider(s); s != engine.SourceStripe && (q == nil || q.HasProvider(p)) {
			out = append(out, p)
		}
	}
	return out
}

func (d *Datasource) hasStripe() bool { return d.opts.Stripe != nil }

// compute returns the engine's result for the providers over w: from the result cache when no
// underlying day changed, otherwise fetched (through the fact cache) and computed once for all
// concurrent callers.
func (d *Datasource) compute(ctx context.Context, providers []usage.Provider, w usage.Window) (*computed, error) {
	names := make([]string, 0, len(providers)+1)
	for _, p := range providers {
		names = append(names, string(p))
	}
	key := resultKey{providers: strings.Join(names, ","), w: w}
	if d.hasStripe() {
		names = append(names, engine.SourceStripe)
	}
	if stamp, ok := d.facts.Stamp(names, w); ok {
		if c := d.cached(key, stamp); c != nil {
			return c, nil
		}
	}
	ch := d.computeGroup.DoChan(key.String(), func() (any, error) {
		return d.fetchAndCompute(context.WithoutCancel(ctx), key, providers, w)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*computed), nil
	}
}

func (d *Datasource) cached(key resultKey, stamp uint64) *computed {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.results[key]
	if c == nil || c.stamp != stamp {
		return nil
	}
	d.tick++
	c.lastUsed = d.tick
	return c
}

func (d *Datasource) fetchAndCompute(ctx context.Context, key resultKey, providers []usage.Provider, w usage.Window) (*computed, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		stamp   uint64
		batches = make([]*usage.Batch, len(providers))
		revenue *engine.RevenueFacts
	)
	done := func(source string, s uint64, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, &engine.SourceError{Source: source, Err: err})
			return
		}
		stamp = max(stamp, s)
	}
	for i, p := range providers {
		wg.Go(func() {
			b, s, err := d.facts.Batch(ctx, p, w)
			batches[i] = b
			done(string(p), s, err)
		})
	}
	if d.hasStripe() {
		wg.Go(func() {
			rv, s, err := d.facts.Revenue(ctx, w)
			revenue = rv
			done(engine.SourceStripe, s, err)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		// A partial result would understate spend without saying so: fail, naming the sources.
		sort.Slice(errs, func(i, j int) bool {
			return errs[i].(*engine.SourceError).Source < errs[j].(*engine.SourceError).Source //nolint:errorlint // only *SourceError values, made above
		})
		return nil, errors.Join(errs...)
	}
	res := d.eng.Compute(&engine.Facts{Window: w, Today: d.eng.Today(), Batches: batches, Revenue: revenue})
	c := &computed{stamp: stamp, res: res}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tick++
	c.lastUsed = d.tick
	d.results[key] = c
	for len(d.results) > maxResults {
		var oldest resultKey
		oldestUse := ^uint64(0)
		for k, v := range d.results {
			if v.lastUsed < oldestUse {
				oldest, oldestUse = k, v.lastUsed
			}
		}
		delete(d.results, oldest)
	}
	return c, nil
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
