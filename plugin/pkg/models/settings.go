// Package models holds the Grafana datasource's settings and query models: the JSON the frontend
// writes, parsed and validated into the engine's options and typed queries. It knows the SDK's
// settings shapes but no handler, and does no I/O.
package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
)

// Settings field names, as the frontend's ConfigEditor writes them (DESIGN.md §4.4).
const (
	FieldOpenAIBaseURL     = "openaiBaseUrl"
	FieldAnthropicBaseURL  = "anthropicBaseUrl"
	FieldOpenRouterBaseURL = "openrouterBaseUrl"
	FieldStripeBaseURL     = "stripeBaseUrl"
	FieldCustomerMapping   = "customerMapping"
	FieldFeatureMapping    = "featureMapping"
	FieldFXRates           = "fxRates"
	FieldTargetMargin      = "targetMargin"

	FieldOpenAIAdminKey          = "openaiAdminKey"
	FieldAnthropicAdminKey       = "anthropicAdminKey"
	FieldOpenRouterManagementKey = "openrouterManagementKey"
	FieldStripeAPIKey            = "stripeApiKey"
)

// SettingsProblem is one thing wrong with the datasource settings, named by its settings field
// (with a key path inside the YAML text fields, "customerMapping.cus_A[1]"). It never quotes a key.
type SettingsProblem struct {
	Field string
	Msg   string
}

func (p *SettingsProblem) Error() string { return p.Field + ": " + p.Msg }

// sourceFields ties each API to its settings fields and config default.
var sourceFields = []struct {
	baseURL, key, defaultURL string
	target                   func(*engine.Options) **engine.SourceOptions
}{
	{FieldOpenAIBaseURL, FieldOpenAIAdminKey, config.DefaultOpenAIBaseURL, func(o *engine.Options) **engine.SourceOptions { return &o.OpenAI }},
	{FieldAnthropicBaseURL, FieldAnthropicAdminKey, config.DefaultAnthropicBaseURL, func(o *engine.Options) **engine.SourceOptions { return &o.Anthropic }},
	{FieldOpenRouterBaseURL, FieldOpenRouterManagementKey, config.DefaultOpenRouterBaseURL, func(o *engine.Options) **engine.SourceOptions { return &o.OpenRouter }},
	{FieldStripeBaseURL, FieldStripeAPIKey, config.DefaultStripeBaseURL, func(o *engine.Options) **engine.SourceOptions { return &o.Stripe }},
}

// ParseSettings turns the datasource's jsonData and decrypted secureJsonData into engine options,
// validated with the YAML config's rules. A source is on when its key is set; base URLs default to
// the providers' own. Every problem is reported at once (errors.Join of *SettingsProblem). Fields
// Grafana itself adds to jsonData (HTTP timeouts, TLS) are left alone. HTTPClient, Now and Logger
// stay unset: they are the caller's.
func ParseSettings(jsonData []byte, secure map[string]string) (engine.Options, error) {
	opts := engine.Options{ReportingCurrency: config.DefaultReportingCurrency, BackfillDays: config.DefaultBackfillDays}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &SettingsProblem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(jsonData)) > 0 {
		if err := json.Unmarshal(jsonData, &fields); err != nil {
			return opts, &SettingsProblem{Field: "jsonData", Msg: "not a JSON object"}
		}
	}
	text := func(field string) string {
		raw, ok := fields[field]
		if !ok || string(raw) == "null" {
			return ""
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			fail(field, "want text")
			return ""
		}
		return strings.TrimSpace(s)
	}

	for _, sf := range sourceFields {
		base := text(sf.baseURL)
		if base == "" {
			base = sf.defaultURL
		} else if u, err := config.CheckBaseURL(sf.baseURL, base); err != nil {
			var p *config.Problem
			if errors.As(err, &p) {
				fail(sf.baseURL, "%s", p.Msg)
			}
		} else {
			base = u
		}
		key := strings.TrimSpace(secure[sf.key])
		if key == "" {
			continue
		}
		*sf.target(&opts) = &engine.SourceOptions{Key: secret.String(key), BaseURL: base}
	}
	if opts.OpenAI == nil && opts.Anthropic == nil && opts.OpenRouter == nil {
		fail("secureJsonData", "no provider key: set %s, %s or %s", FieldOpenAIAdminKey, FieldAnthropicAdminKey, FieldOpenRouterManagementKey)
	}

	if customers, err := config.ParseCustomers(FieldCustomerMapping, text(FieldCustomerMapping)); err != nil {
		errs = append(errs, fromConfig(err)...)
	} else {
		opts.Customers = customers
	}
	if features, err := config.ParseFeatures(FieldFeatureMapping, text(FieldFeatureMapping)); err != nil {
		errs = append(errs, fromConfig(err)...)
	} else {
		opts.Features = features
	}
	if raw, ok := fields[FieldTargetMargin]; ok && string(raw) != "null" {
		r, err := parseTargetMargin(raw)
		if err != nil {
			fail(FieldTargetMargin, "%s", err.Error())
		} else {
			opts.TargetMargin = r
		}
	}
	rates, ok := fxRateTexts(fields[FieldFXRates], fail)
	if ok {
		parsed, err := config.ParseFXRates(FieldFXRates, rates)
		errs = append(errs, fromConfig(err)...)
		opts.FXRates = parsed
	}
	if err := errors.Join(errs...); err != nil {
		return engine.Options{}, err
	}
	return opts, nil
}

// fxRateTexts reads fxRates, an object of currency code → rate written as a JSON number or a
// string. Numbers keep their decimal text (json.Number), so 1.08 is exactly 1.08, never a float.
func fxRateTexts(raw json.RawMessage, fail func(field, format string, args ...any)) (map[string]string, bool) {
	out := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		fail(FieldFXRates, "want an object of currency code to rate, such as {\"eur\": \"1.08\"}")
		return nil, false
	}
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	ok := true
	for _, code := range codes {
		switch v := m[code].(type) {
		case json.Number:
			out[code] = v.String()
		case string:
			out[code] = v
		default:
			fail(FieldFXRates+"."+code, "want a number or decimal text such as \"1.08\"")
			ok = false
		}
	}
	return out, ok
}

// parseTargetMargin reads a gross margin target written as a JSON number or decimal text, keeping
// its decimal digits exactly. Like the config's target_margin it must lie strictly between 0 and 1:
// at 1 no price reaches it, at 0 or below it is no margin target.
func parseTargetMargin(raw json.RawMessage) (ledger.Rate, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, errors.New("want a gross margin between 0 and 1 such as 0.65")
	}
	var text string
	switch v := v.(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	default:
		return 0, fmt.Errorf("want a gross margin between 0 and 1 such as 0.65, got %s", raw)
	}
	r, err := ledger.ParseRate(text)
	if err != nil || r <= 0 || r >= ledger.RateOne {
		return 0, fmt.Errorf("want a gross margin between 0 and 1 such as 0.65, got %s", raw)
	}
	return r, nil
}

// fromConfig converts the config package's problems into settings problems; the path already
// starts with the settings field.
func fromConfig(err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var p *config.Problem
		if errors.As(e, &p) {
			msg := p.Msg
			if p.Line > 0 {
				msg += fmt.Sprintf(" (line %d)", p.Line)
			}
			out = append(out, &SettingsProblem{Field: p.Path, Msg: msg})
			continue
		}
		out = append(out, e)
	}
	return out
}

// Keys returns the configured credentials, so callers can make sure none reaches a message.
func Keys(opts engine.Options) []secret.String {
	var keys []secret.String
	for _, s := range []*engine.SourceOptions{opts.OpenAI, opts.Anthropic, opts.OpenRouter, opts.Stripe} {
		if s != nil {
			keys = append(keys, s.Key)
		}
	}
	return keys
}
