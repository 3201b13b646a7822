// Package simengine turns a simulated world into engine options: what demo mode (`margin report
// --demo`, `margin-exporter --demo`) and the end-to-end tests run the engine with. It lives apart
// from internal/simulator so that the simulator, which exists to test the engine, imports nothing
// of it.
package simengine

import (
	"net/http"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
)

// Options returns complete engine options for w served at root: the four sources with the demo
// keys, the demo FX rates, the config-mapped customers and features, and the world's clock.
// client carries the requests; one with w.Transport() serves them in process, without a listener.
func Options(w *simulator.World, root string, client *http.Client) engine.Options {
	oa, an, or, st := simulator.BaseURLs(root)
	now := w.Now()
	return engine.Options{
		ReportingCurrency: "usd",
		BackfillDays:      31,
		OpenAI:            &engine.SourceOptions{Key: secret.String(simulator.OpenAIAdminKey), BaseURL: oa},
		Anthropic:         &engine.SourceOptions{Key: secret.String(simulator.AnthropicAdminKey), BaseURL: an},
		OpenRouter:        &engine.SourceOptions{Key: secret.String(simulator.OpenRouterManagementKey), BaseURL: or},
		Stripe:            &engine.SourceOptions{Key: secret.String(simulator.StripeAPIKey), BaseURL: st},
		FXRates:           simulator.FXRates(),
		Customers:         w.ConfigCustomers(),
		Features:          w.Features(),
		HTTPClient:        client,
		Now:               func() time.Time { return now },
	}
}
