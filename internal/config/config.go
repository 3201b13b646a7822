// Package config reads Margin's YAML config file (DESIGN.md §4.1) into typed values and turns them
// into engine.Options. It owns the file schema, defaults, ${VAR} expansion, *_file secrets and
// validation; it does no I/O beyond reading the config and key files, and knows no provider API.
package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// Defaults, as documented in config.example.yaml.
const (
	DefaultReportingCurrency = engine.DefaultCurrency
	DefaultBackfillDays      = engine.DefaultBackfillDays
	DefaultPollInterval      = 5 * time.Minute
	defaultStateFile         = "margin-state.json"

	// defaultTargetMargin is the gross margin the plans view prices for (0.65).
	defaultTargetMargin = engine.DefaultTargetMargin

	DefaultOpenAIBaseURL     = "https://api.openai.com/v1"
	DefaultAnthropicBaseURL  = "https://api.anthropic.com"
	DefaultOpenRouterBaseURL = "https://openrouter.ai/api/v1"
	DefaultStripeBaseURL     = "https://api.stripe.com"

	// minPollInterval keeps the exporter well inside the providers' rate limits (OpenRouter asks
	// for at most one poll a minute in sustained use).
	minPollInterval = time.Minute
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

// opaque is what a Config prints as. A Config holds credentials (the keys, and a key pasted into a
// base URL's user info) and nothing prints one on purpose; these methods keep an accidental %v,
// log line or JSON/YAML dump from showing them.
const opaque = "<config.Config: not printed, it holds credentials>"

func (c *Config) String() string   { return opaque }
func (c *Config) GoString() string { return opaque }

// MarshalYAML writes the placeholder, never the keys.
func (c *Config) MarshalYAML() (any, error) { return opaque, nil }

// MarshalJSON writes the placeholder, never the keys.
func (c *Config) MarshalJSON() ([]byte, error) { return json.Marshal(opaque) }
