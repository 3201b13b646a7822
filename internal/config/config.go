// Package config reads Margin's YAML config file (DESIGN.md §4.1) into typed values and turns them
// into engine.Options. It owns the file schema, defaults, ${VAR} expansion, *_file secrets and
// validation; it does no I/O beyond reading the config and key files, and knows no provider API.
package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// Defaults, as documented in config.example.yaml.
const (
	DefaultReportingCurrency = "usd"
	DefaultBackfillDays      = 31
	DefaultPollInterval      = 5 * time.Minute
	DefaultStateFile         = "margin-state.json"

	// DefaultTargetMargin is the gross margin the plans view prices for (0.65).
	DefaultTargetMargin = engine.DefaultTargetMargin

	DefaultOpenAIBaseURL     = "https://api.openai.com/v1"
	DefaultAnthropicBaseURL  = "https://api.anthropic.com"
	DefaultOpenRouterBaseURL = "https://openrouter.ai/api/v1"
	DefaultStripeBaseURL     = "https://api.stripe.com"

	// MinPollInterval keeps the exporter well inside the providers' rate limits (OpenRouter asks
	// for at most one poll a minute in sustained use).
	MinPollInterval = time.Minute
)

// Config is a parsed and validated config file.
type Config struct {
	ReportingCurrency string        // lower-case ISO 4217; only "usd" today
	BackfillDays      int           // 1..usage.MaxBackfillDays (365)
	PollInterval      time.Duration // exporter only
	StateFile         string        // exporter only; relative paths are relative to the config file
	TargetMargin      ledger.Rate   // gross margin the plans view prices for, in (0, 1)

	OpenAI     Source
	Anthropic  Source
	OpenRouter Source
	Stripe     Source

	// FXRates holds units of the reporting currency per unit of each (lower-case) currency.
	FXRates   map[string]ledger.Rate
	Customers map[string][]usage.SourceRef
	Features  map[usage.SourceRef]string
	Prices    []catalog.Entry

	// Exporter holds the exporter-only keys (exporter.go).
	Exporter Exporter
}

// Source is one API's credential and base URL. An empty Key means the source is off.
type Source struct {
	Key     secret.String
	BaseURL string
}

// Enabled reports whether the source has a credential.
func (s Source) Enabled() bool { return s.Key.IsSet() }

// ParseOptions supplies what Parse would otherwise take from the process, so tests need neither
// real files nor real environment variables.
type ParseOptions struct {
	// BaseDir resolves relative *_file paths and state_file; "" means the working directory.
	BaseDir string
	// LookupEnv resolves ${VAR}; nil means no variable is set.
	LookupEnv func(string) (string, bool)
	// ReadFile reads *_file secrets; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Load reads and parses the config file at path, with the process environment for ${VAR} and
// key files relative to the config file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the operator chooses the config file to read
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data, ParseOptions{BaseDir: filepath.Dir(path), LookupEnv: os.LookupEnv, ReadFile: os.ReadFile})
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return cfg, nil
}

// FileError is a Parse error of the file at Path.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return "config file " + e.Path + ":\n" + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// EngineOptions converts the config into the engine's options. Sources without a key are nil (off).
// Maps and slices are copied, so the caller may change them freely.
func (c *Config) EngineOptions() engine.Options {
	src := func(s Source) *engine.SourceOptions {
		if !s.Enabled() {
			return nil
		}
		return &engine.SourceOptions{Key: s.Key, BaseURL: s.BaseURL}
	}
	opts := engine.Options{
		ReportingCurrency: c.ReportingCurrency,
		BackfillDays:      c.BackfillDays,
		TargetMargin:      c.TargetMargin,
		OpenAI:            src(c.OpenAI),
		Anthropic:         src(c.Anthropic),
		OpenRouter:        src(c.OpenRouter),
		Stripe:            src(c.Stripe),
		FXRates:           make(map[string]ledger.Rate, len(c.FXRates)),
		Customers:         make(map[string][]usage.SourceRef, len(c.Customers)),
		Features:          make(map[usage.SourceRef]string, len(c.Features)),
	}
	for k, v := range c.FXRates {
		opts.FXRates[k] = v
	}
	for k, v := range c.Customers {
		opts.Customers[k] = append([]usage.SourceRef(nil), v...)
	}
	for k, v := range c.Features {
		opts.Features[k] = v
	}
	if len(c.Prices) > 0 {
		opts.Prices = make([]catalog.Entry, len(c.Prices))
		for i, e := range c.Prices {
			opts.Prices[i] = cloneEntry(e)
		}
	}
	return opts
}

func cloneEntry(e catalog.Entry) catalog.Entry {
	if e.Batch != nil {
		b := *e.Batch
		e.Batch = &b
	}
	if e.LongContext != nil {
		l := *e.LongContext
		e.LongContext = &l
	}
	return e
}

// view is the printable form of a Config: the file's key names, durations and amounts as text,
// and keys masked by secret.String.
type view struct {
	ReportingCurrency string                     `yaml:"reporting_currency" json:"reporting_currency"`
	BackfillDays      int                        `yaml:"backfill_days" json:"backfill_days"`
	PollInterval      string                     `yaml:"poll_interval" json:"poll_interval"`
	StateFile         string                     `yaml:"state_file" json:"state_file"`
	TargetMargin      string                     `yaml:"target_margin" json:"target_margin"`
	Providers         providersView              `yaml:"providers" json:"providers"`
	Stripe            sourceView                 `yaml:"stripe" json:"stripe"`
	FXRates           map[string]string          `yaml:"fx_rates,omitempty" json:"fx_rates,omitempty"`
	Customers         map[string][]string        `yaml:"customers,omitempty" json:"customers,omitempty"`
	Features          map[usage.SourceRef]string `yaml:"features,omitempty" json:"features,omitempty"`
	Prices            []priceRowView             `yaml:"prices,omitempty" json:"prices,omitempty"`
	TrailingDays      int                        `yaml:"trailing_days,omitempty" json:"trailing_days,omitempty"`
	MaxCustomers      int                        `yaml:"max_customers,omitempty" json:"max_customers,omitempty"`
	DropModelLabel    bool                       `yaml:"drop_model_label,omitempty" json:"drop_model_label,omitempty"`
	FeatureLabel      bool                       `yaml:"feature_label,omitempty" json:"feature_label,omitempty"`
	Push              *pushView                  `yaml:"push,omitempty" json:"push,omitempty"`
	StripeRefresh     string                     `yaml:"stripe_refresh_interval,omitempty" json:"stripe_refresh_interval,omitempty"`
	NamesRefresh      string                     `yaml:"names_refresh_interval,omitempty" json:"names_refresh_interval,omitempty"`
}

type pushView struct {
	URL      secret.String `yaml:"url" json:"url"`
	Interval string        `yaml:"interval" json:"interval"`
}

type providersView struct {
	OpenAI     sourceView `yaml:"openai" json:"openai"`
	Anthropic  sourceView `yaml:"anthropic" json:"anthropic"`
	OpenRouter sourceView `yaml:"openrouter" json:"openrouter"`
}

type sourceView struct {
	Key     secret.String `yaml:"key,omitempty" json:"key,omitempty"`
	BaseURL string        `yaml:"base_url" json:"base_url"`
}

func newSourceView(s Source) sourceView { return sourceView{Key: s.Key, BaseURL: redactURL(s.BaseURL)} }

type priceRowView struct {
	Provider      usage.Provider `yaml:"provider" json:"provider"`
	Model         string         `yaml:"model" json:"model"`
	EffectiveFrom string         `yaml:"effective_from,omitempty" json:"effective_from,omitempty"`
	Price         priceView      `yaml:",inline" json:"price"`
	Batch         *priceView     `yaml:"batch,omitempty" json:"batch,omitempty"`
	LongContext   *priceView     `yaml:"long_context,omitempty" json:"long_context,omitempty"`
}

type priceView struct {
	Input        string `yaml:"input,omitempty" json:"input,omitempty"`
	CachedInput  string `yaml:"cached_input,omitempty" json:"cached_input,omitempty"`
	CacheWrite5m string `yaml:"cache_write_5m,omitempty" json:"cache_write_5m,omitempty"`
	CacheWrite1h string `yaml:"cache_write_1h,omitempty" json:"cache_write_1h,omitempty"`
	Output       string `yaml:"output,omitempty" json:"output,omitempty"`
}

// newPriceView leaves out zero prices: the catalog reads them as "not set" and applies its
// fallbacks (cache prices cost what input costs).
func newPriceView(p catalog.Price) priceView {
	text := func(m ledger.Money) string {
		if m == 0 {
			return ""
		}
		return m.String()
	}
	return priceView{text(p.Input), text(p.CachedInput), text(p.CacheWrite5m), text(p.CacheWrite1h), text(p.Output)}
}

func (c *Config) view() view {
	v := view{
		ReportingCurrency: c.ReportingCurrency,
		BackfillDays:      c.BackfillDays,
		PollInterval:      c.PollInterval.String(),
		StateFile:         c.StateFile,
		TargetMargin:      c.TargetMargin.String(),
		Providers: providersView{
			OpenAI:     newSourceView(c.OpenAI),
			Anthropic:  newSourceView(c.Anthropic),
			OpenRouter: newSourceView(c.OpenRouter),
		},
		Stripe:   newSourceView(c.Stripe),
		Features: c.Features,

		TrailingDays:   c.Exporter.TrailingDays,
		MaxCustomers:   c.Exporter.MaxCustomers,
		DropModelLabel: c.Exporter.DropModelLabel,
		FeatureLabel:   c.Exporter.FeatureLabel,
	}
	if c.Exporter.StripeRefresh > 0 {
		v.StripeRefresh = c.Exporter.StripeRefresh.String()
	}
	if c.Exporter.NamesRefresh > 0 {
		v.NamesRefresh = c.Exporter.NamesRefresh.String()
	}
	if c.Exporter.Push != nil {
		v.Push = &pushView{URL: c.Exporter.Push.URL, Interval: c.Exporter.Push.Interval.String()}
	}
	if len(c.FXRates) > 0 {
		v.FXRates = map[string]string{}
		for k, r := range c.FXRates {
			v.FXRates[k] = r.String()
		}
	}
	if len(c.Customers) > 0 {
		v.Customers = map[string][]string{}
		for k, refs := range c.Customers {
			for _, r := range refs {
				v.Customers[k] = append(v.Customers[k], string(r))
			}
		}
	}
	for _, e := range c.Prices {
		row := priceRowView{Provider: e.Provider, Model: e.Model, Price: newPriceView(e.Standard)}
		if e.EffectiveFrom != 0 {
			row.EffectiveFrom = e.EffectiveFrom.String()
		}
		if e.Batch != nil {
			p := newPriceView(*e.Batch)
			row.Batch = &p
		}
		if e.LongContext != nil {
			p := newPriceView(*e.LongContext)
			row.LongContext = &p
		}
		v.Prices = append(v.Prices, row)
	}
	return v
}

// String renders the effective config as YAML with every key masked.
func (c *Config) String() string {
	out, err := yaml.Marshal(c.view())
	if err != nil {
		return "<config: " + err.Error() + ">"
	}
	return string(out)
}

// MarshalYAML writes the effective config with every key masked.
func (c *Config) MarshalYAML() (any, error) { return c.view(), nil }

// MarshalJSON writes the effective config with every key masked.
func (c *Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }
