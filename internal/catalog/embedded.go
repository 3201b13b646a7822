package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

//go:embed prices.yaml
var embeddedPrices []byte

var defaultCatalog = sync.OnceValue(func() *Catalog {
	entries, err := parseTable(embeddedPrices)
	if err != nil {
		panic("catalog: embedded prices.yaml: " + err.Error()) // caught by TestDefault_Parses
	}
	c, err := newCatalog(entries)
	if err != nil {
		panic("catalog: embedded prices.yaml: " + err.Error())
	}
	return c
})

// Default returns the catalog of the embedded prices.yaml. It is built once and shared; catalogs
// are immutable, so sharing is safe.
func Default() *Catalog { return defaultCatalog() }

// tableRow is one row of prices.yaml. Prices are strings so the decimal text of the YAML scalar
// reaches ledger.ParseDollars untouched, never a float64.
type tableRow struct {
	Provider      string       `yaml:"provider"`
	Model         string       `yaml:"model"`
	EffectiveFrom string       `yaml:"effective_from"`
	Prices        tablePrices  `yaml:",inline"`
	Batch         *tablePrices `yaml:"batch"`
	LongContext   *tablePrices `yaml:"long_context"`
	Priority      *tablePrices `yaml:"priority"`
	Flex          *tablePrices `yaml:"flex"`
}

type tablePrices struct {
	Input        string `yaml:"input"`
	CachedInput  string `yaml:"cached_input"`
	CacheWrite5m string `yaml:"cache_write_5m"`
	CacheWrite1h string `yaml:"cache_write_1h"`
	Output       string `yaml:"output"`
	AudioInput   string `yaml:"audio_input"`
	AudioOutput  string `yaml:"audio_output"`
}

func parseTable(data []byte) ([]Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var rows []tableRow
	if err := dec.Decode(&rows); err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(rows))
	var errs []error
	for i, r := range rows {
		e, err := r.entry()
		if err != nil {
			errs = append(errs, fmt.Errorf("row %d (%s): %w", i, r.Model, err))
			continue
		}
		entries = append(entries, e)
	}
	return entries, errors.Join(errs...)
}

func (r tableRow) entry() (Entry, error) {
	e := Entry{Provider: usage.Provider(r.Provider), Model: r.Model}
	var errs []error
	if r.EffectiveFrom != "" {
		d, err := usage.ParseDay(r.EffectiveFrom)
		errs = append(errs, err)
		e.EffectiveFrom = d
	}
	var err error
	e.Standard, err = r.Prices.price()
	errs = append(errs, err)
	if r.Batch != nil {
		p, err := r.Batch.price()
		errs = append(errs, err)
		e.Batch = &p
	}
	for _, t := range []struct {
		in  *tablePrices
		out **Price
	}{{r.LongContext, &e.LongContext}, {r.Priority, &e.Priority}, {r.Flex, &e.Flex}} {
		if t.in != nil {
			p, err := t.in.price()
			errs = append(errs, err)
			*t.out = &p
		}
	}
	return e, errors.Join(errs...)
}

func (t tablePrices) price() (Price, error) {
	var p Price
	var errs []error
	for _, f := range []struct {
		key  string
		text string
		dst  *ledger.Money
	}{
		{"input", t.Input, &p.Input},
		{"cached_input", t.CachedInput, &p.CachedInput},
		{"cache_write_5m", t.CacheWrite5m, &p.CacheWrite5m},
		{"cache_write_1h", t.CacheWrite1h, &p.CacheWrite1h},
		{"output", t.Output, &p.Output},
		{"audio_input", t.AudioInput, &p.AudioInput},
		{"audio_output", t.AudioOutput, &p.AudioOutput},
	} {
		if f.text == "" {
			continue
		}
		m, err := ledger.ParseDollars(f.text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
		*f.dst = m
	}
	return p, errors.Join(errs...)
}
