package config

import (
	"math"
	"net/url"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/secret"
)

// Exporter-only defaults, as documented in config.example.yaml.
const (
	defaultTrailingDays = 3
	defaultPushInterval = time.Minute
	// minPushInterval keeps a push target from being flooded with identical values: the data
	// changes only once per poll.
	minPushInterval = 10 * time.Second
	// DefaultStripeRefresh is how often the exporter re-reads Stripe's customers, subscriptions
	// and products; invoices, credit notes and customer changes are read on every poll.
	DefaultStripeRefresh = time.Hour
	// DefaultNamesRefresh is how often the exporter lists the providers' projects, workspaces and
	// keys again (at once when usage names a source it has not listed).
	DefaultNamesRefresh = time.Hour
	// minRefresh bounds both refresh intervals from below.
	minRefresh = time.Minute
)

// Exporter holds the exporter-only keys. The zero value is the defaults, so a config without
// them reads as if they were written with their default values.
type Exporter struct {
	// TrailingDays is how many days before today each poll re-reads (0: defaultTrailingDays).
	TrailingDays int
	// MaxCustomers keeps the top customers by spend as their own series, the rest as "other"
	// (0: every customer).
	MaxCustomers int
	// DropModelLabel removes the model label from per-customer series.
	DropModelLabel bool
	// FeatureLabel adds the feature label (the features map; "unassigned" for unmapped sources)
	// to the per-customer cost, token and request series.
	FeatureLabel bool
	// Push, when set, pushes the exposition to a VictoriaMetrics, vmagent or Pushgateway URL.
	Push *Push
	// StripeRefresh and NamesRefresh are the slow cadences of incremental polls (0: defaults).
	StripeRefresh time.Duration
	NamesRefresh  time.Duration
}

// Push is the exporter's push mode.
type Push struct {
	URL      secret.String // may carry basic-auth credentials, so it is masked like a key
	Interval time.Duration
}

// exporterKeys are the root-level handlers of the exporter-only keys.
func (p *parser) exporterKeys() map[string]func(string, *yaml.Node) {
	return map[string]func(string, *yaml.Node){
		"trailing_days":           p.intField(&p.cfg.Exporter.TrailingDays, 1, 31, "want a whole number of days from 1 to 31"),
		"max_customers":           p.intField(&p.cfg.Exporter.MaxCustomers, 0, math.MaxInt, "want a whole number of customers, 0 for all"),
		"drop_model_label":        p.boolField(&p.cfg.Exporter.DropModelLabel),
		"feature_label":           p.boolField(&p.cfg.Exporter.FeatureLabel),
		"push":                    p.push,
		"stripe_refresh_interval": p.durationField(&p.cfg.Exporter.StripeRefresh, minRefresh, "1h"),
		"names_refresh_interval":  p.durationField(&p.cfg.Exporter.NamesRefresh, minRefresh, "1h"),
	}
}

func (p *parser) push(path string, n *yaml.Node) {
	push := &Push{Interval: defaultPushInterval}
	urlWritten := false
	p.fields(path, n, map[string]func(string, *yaml.Node){
		"url": func(kp string, v *yaml.Node) {
			urlWritten = true
			s, ok := p.scalar(kp, v)
			if !ok {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.fail(kp, v, "want an absolute http or https URL, got %s", shown(v))
				return
			}
			push.URL = secret.String(s)
		},
		"interval": p.durationField(&push.Interval, minPushInterval, "1m"),
	})
	if isNull(deref(n)) {
		return
	}
	if !push.URL.IsSet() {
		if urlWritten {
			return // its problem is reported
		}
		p.fail(child(path, "url"), deref(n), "missing: push needs the URL to push to")
		return
	}
	p.cfg.Exporter.Push = push
}

// TrailingDaysOrDefault is TrailingDays with the default applied.
func (e Exporter) TrailingDaysOrDefault() int {
	if e.TrailingDays > 0 {
		return e.TrailingDays
	}
	return defaultTrailingDays
}

// StripeRefreshOrDefault is StripeRefresh with the default applied.
func (e Exporter) StripeRefreshOrDefault() time.Duration {
	if e.StripeRefresh > 0 {
		return e.StripeRefresh
	}
	return DefaultStripeRefresh
}

// NamesRefreshOrDefault is NamesRefresh with the default applied.
func (e Exporter) NamesRefreshOrDefault() time.Duration {
	if e.NamesRefresh > 0 {
		return e.NamesRefresh
	}
	return DefaultNamesRefresh
}

// boolField reads true or false into dst.
func (p *parser) boolField(dst *bool) func(string, *yaml.Node) {
	return func(path string, v *yaml.Node) {
		s, ok := p.scalar(path, v)
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			p.fail(path, v, "want true or false, got %s", shown(v))
			return
		}
		*dst = b
	}
}

// durationField reads a duration of at least minimum into dst; example shows the expected form.
func (p *parser) durationField(dst *time.Duration, minimum time.Duration, example string) func(string, *yaml.Node) {
	return func(path string, v *yaml.Node) {
		s, ok := p.scalar(path, v)
		if !ok {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			p.fail(path, v, "want a duration such as %s, got %s", example, shown(v))
			return
		}
		if d < minimum {
			p.fail(path, v, "%s is too short: at least %s", d, minimum)
			return
		}
		*dst = d
	}
}

// intField reads a whole number in [lo, hi] into dst; want says what is expected.
func (p *parser) intField(dst *int, lo, hi int, want string) func(string, *yaml.Node) {
	return func(path string, v *yaml.Node) {
		s, ok := p.scalar(path, v)
		if !ok {
			return
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			p.fail(path, v, "%s, got %s", want, shown(v))
			return
		}
		*dst = n
	}
}
