package simengine_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
)

func TestOptions_CarryTheWorldsKeysURLsConfigAndClock(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	w := simulator.New(simulator.Config{Now: now})
	client := &http.Client{Transport: w.Transport()}
	const root = "http://sim.invalid"
	o := simengine.Options(w, root, client)
	oa, an, or, st := simulator.BaseURLs(root)
	for name, c := range map[string]struct {
		got      *engine.SourceOptions
		key, url string
	}{
		"openai":     {o.OpenAI, simulator.OpenAIAdminKey, oa},
		"anthropic":  {o.Anthropic, simulator.AnthropicAdminKey, an},
		"openrouter": {o.OpenRouter, simulator.OpenRouterManagementKey, or},
		"stripe":     {o.Stripe, simulator.StripeAPIKey, st},
	} {
		if c.got == nil || c.got.Key.Reveal() != c.key || c.got.BaseURL != c.url {
			t.Errorf("%s: %+v, want key %s… at %s", name, c.got, c.key[:8], c.url)
		}
	}
	if !o.Now().Equal(now) || o.HTTPClient != client || o.ReportingCurrency != "usd" || o.BackfillDays != 31 {
		t.Errorf("now %v, client %p, currency %q, backfill %d", o.Now(), o.HTTPClient, o.ReportingCurrency, o.BackfillDays)
	}
	if o.FXRates["eur"].String() != "1.08" || o.FXRates["gbp"].String() != "1.27" {
		t.Errorf("fx rates %v", o.FXRates)
	}
	if len(o.Customers) == 0 || !reflect.DeepEqual(o.Customers, w.ConfigCustomers()) {
		t.Errorf("customers %v, want the world's config block %v", o.Customers, w.ConfigCustomers())
	}
	if len(o.Features) == 0 || !reflect.DeepEqual(o.Features, w.Features()) {
		t.Errorf("features %v, want the world's %v", o.Features, w.Features())
	}
	// The options are the caller's: changing them leaves the world's config as it was.
	for id := range o.Customers {
		o.Customers[id][0] = "changed"
		break
	}
	if reflect.DeepEqual(o.Customers, w.ConfigCustomers()) {
		t.Error("Options shares the world's customers slices")
	}
}
