package plugintest_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/plugin/pkg/internal/plugintest"
	"github.com/marginhq/margin/plugin/pkg/models"
)

// The settings a person would type for the simulated world parse, through the datasource's own
// parser, back to exactly the world's engine options: every source, key, mapping, feature and rate.
func TestSettings_ParseBackToTheWorldsOptions(t *testing.T) {
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)})
	const root = "http://127.0.0.1:1"
	jsonData, secure := plugintest.Settings(w, root)
	got, err := models.ParseSettings(jsonData, secure)
	if err != nil {
		t.Fatalf("ParseSettings: %v\njsonData: %s", err, jsonData)
	}
	want := simengine.Options(w, root, nil)
	if len(want.Customers) == 0 || len(want.Features) == 0 || len(want.FXRates) == 0 {
		t.Fatalf("the world has %d mapped customers, %d features, %d rates: nothing to compare",
			len(want.Customers), len(want.Features), len(want.FXRates))
	}
	for name, pair := range map[string][2]*engine.SourceOptions{
		"openai": {got.OpenAI, want.OpenAI}, "anthropic": {got.Anthropic, want.Anthropic},
		"openrouter": {got.OpenRouter, want.OpenRouter}, "stripe": {got.Stripe, want.Stripe},
	} {
		g, w := pair[0], pair[1]
		if g == nil || w == nil || g.Key.Reveal() != w.Key.Reveal() || g.BaseURL != w.BaseURL {
			t.Errorf("%s: parsed %+v, want %+v", name, g, w)
		}
	}
	if !reflect.DeepEqual(got.Customers, want.Customers) {
		t.Errorf("customers: parsed %v, want %v", got.Customers, want.Customers)
	}
	if !reflect.DeepEqual(got.Features, want.Features) {
		t.Errorf("features: parsed %v, want %v", got.Features, want.Features)
	}
	for code, r := range want.FXRates {
		if got.FXRates[code] != r {
			t.Errorf("fx rate %s: parsed %s, want %s", code, got.FXRates[code], r)
		}
	}
}
