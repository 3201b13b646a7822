package engine

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// Options is everything the engine needs, produced alike by the YAML config (internal/config) and
// by the Grafana datasource settings (plugin/pkg). A nil provider block means that source is off.
type Options struct {
	ReportingCurrency string // lower-case ISO 4217; only "usd" today
	BackfillDays      int    // complete UTC days read on first run, capped per provider

	OpenAI     *SourceOptions
	Anthropic  *SourceOptions
	OpenRouter *SourceOptions
	Stripe     *SourceOptions

	// FXRates converts revenue: units of the reporting currency per unit of each currency
	// (lower-case code).
	FXRates map[string]ledger.Rate
	// Customers is the explicit mapping from a Stripe customer id to the sources it uses; it wins
	// over Stripe metadata and names.
	Customers map[string][]usage.SourceRef
	// Features names the product feature each source serves (optional).
	Features map[usage.SourceRef]string
	// Prices override or extend the embedded price catalog.
	Prices []catalog.Entry
	// TargetMargin is the gross margin the plans view prices for (0: DefaultTargetMargin, 0.65).
	TargetMargin ledger.Rate
	// StripeRefresh, when positive, makes Stripe incremental: after the first FetchRevenue, each
	// one reads only the events and the invoices and credit notes created since the last, and
	// re-reads customers, subscriptions and products every StripeRefresh (the exporter). Zero
	// reads all of Stripe every time (margin report, the plugin).
	StripeRefresh time.Duration
	// NamesRefresh, when positive, keeps OpenAI's projects and keys and Anthropic's workspaces
	// and keys this long between fetches, listing them again early when usage names a source the
	// list lacks (usage.NameCache). Zero lists them on every fetch. OpenRouter's key list is read
	// every time: it says which keys to ask for activity.
	NamesRefresh time.Duration

	// Not from config: transport and clock, replaceable by tests and the demo.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	// Sleep waits between a client's retries (nil: really waits); tests replace it.
	Sleep func(context.Context, time.Duration) error
}

// SourceOptions configures one API: its credential and base URL.
type SourceOptions struct {
	Key     secret.String
	BaseURL string
}
