package exporter

import (
	"log/slog"
	"time"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
)

// DefaultBackfillDays is the first fill's window when Options leave it zero: the engine's.
const DefaultBackfillDays = engine.DefaultBackfillDays

// Options configures a Poller.
type Options struct {
	Engine Engine
	// keepSeries keeps a poll's series in its snapshot after the text is prepared: for tests
	// that read them.
	keepSeries bool
	// StateFile persists the counters; "" keeps them in memory only.
	StateFile string
	// StateReset allows starting from zero when the state file and its previous generation are
	// both unusable (--state.reset); a usable state file is always loaded.
	StateReset bool
	// BackfillDays is the window of the first fill (default 31, capped per provider).
	BackfillDays int
	// TrailingDays is how many days before today every poll re-reads, because providers revise
	// recent buckets (default 3). Older days are final.
	TrailingDays int
	// MaxCustomers keeps the top customers by spend over the polled window as their own series
	// and sums the rest as customer_id="other"; 0 keeps every customer.
	MaxCustomers int
	// DropModelLabel removes the model label from the per-customer cost, token and request series.
	DropModelLabel bool
	// FeatureLabel adds a feature label to the per-customer cost, token and request series: the
	// product feature of the source, engine.UnassignedFeature for unmapped sources.
	FeatureLabel bool
	// RestGCPercent, when above 0, is the garbage collector's target (debug.SetGCPercent) between
	// polls; each poll runs from the runtime's default of 100, following the live heap as the
	// engine's fetch and compute do (internal/gcpolicy: lower for a small heap and for a large
	// one), and sets it on return. margin-exporter sets DefaultRestGCPercent unless GOGC is in
	// its environment; 0 leaves the collector alone.
	RestGCPercent int
	Now           func() time.Time
	Logger        *slog.Logger
}

// DefaultRestGCPercent is margin-exporter's GC target between polls. Then only scrapes allocate,
// and at the default of 100 their garbage grows the heap to twice what the exporter holds
// before each collection: on the demo world, 100 scrapes after a poll leave the exporter at
// 28 MiB resident at 100 and at 25 MiB at 25 (make exporter-rss with 100 scrapes). A collection
// at rest marks the state and the snapshot only, so the extra ones cost little; polls keep the
// default pace.
const DefaultRestGCPercent = 25

// withDefaults fills in what o leaves unset.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BackfillDays <= 0 {
		o.BackfillDays = DefaultBackfillDays
	}
	if o.TrailingDays <= 0 {
		o.TrailingDays = config.Exporter{}.TrailingDaysOrDefault() // the default is the config's
	}
	return o
}

// ConfigOptions are the poller options a config file sets; the exporter and `margin backfill`
// both use them, so the backfill's label sets are the exporter's.
func ConfigOptions(cfg *config.Config) Options {
	return Options{
		StateFile:      cfg.StateFile,
		BackfillDays:   cfg.BackfillDays,
		TrailingDays:   cfg.Exporter.TrailingDaysOrDefault(),
		MaxCustomers:   cfg.Exporter.MaxCustomers,
		DropModelLabel: cfg.Exporter.DropModelLabel,
		FeatureLabel:   cfg.Exporter.FeatureLabel,
	}
}
