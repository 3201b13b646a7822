// Package stripe reads revenue facts from Stripe: customers (with the margin_sources and
// margin_plan metadata), their plans, and revenue recognised per customer and UTC day from
// finalized invoices and credit notes. It is the only package that imports stripe-go; everything
// it returns is in Margin's own types. Attribution, cost and margin arithmetic live elsewhere.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
)

// DefaultBaseURL is Stripe's API root.
const DefaultBaseURL = "https://api.stripe.com"

// providerName names Stripe in errors and logs.
const providerName = "stripe"

// Options configures a Client. Zero values take the defaults noted per field.
type Options struct {
	APIKey            secret.String          // a restricted read-only key is enough
	BaseURL           string                 // default DefaultBaseURL
	HTTPClient        *http.Client           // default: stripe-go's client (80 s timeout)
	ReportingCurrency string                 // lower-case ISO 4217; default "usd"
	FXRates           map[string]ledger.Rate // reporting-currency units per unit, lower-case keys
	Logger            *slog.Logger           // default: discard
	Now               func() time.Time       // default time.Now
	// MaxRetries is how many times a 429, 5xx or network fault is retried (default 4; negative:
	// none); see retry.go.
	MaxRetries int
	// Sleep waits between attempts; tests replace it to run without waiting.
	Sleep func(context.Context, time.Duration) error
	// MaxCustomers bounds the customer listing (default 100,000); the other listings' bounds
	// derive from the customers listed (see bounds.go).
	MaxCustomers int
}

// Client reads revenue from one Stripe account.
type Client struct {
	api       *api
	reporting string
	fx        map[string]ledger.Rate
	now       func() time.Time
	logger    *slog.Logger
	// maxCustomers bounds the customer listing; the other bounds follow from it.
	maxCustomers int
}

// New returns a client. It never sets stripe-go's global key or backends: the key lives in this
// client only, and stripe-go's logging goes through a scrubbing adapter to opts.Logger.
func New(opts Options) (*Client, error) {
	if !opts.APIKey.IsSet() {
		return nil, errors.New("stripe: an API key is required (a restricted read-only rk_… key is enough)")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("source", providerName)
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	reporting := strings.ToLower(opts.ReportingCurrency)
	if reporting == "" {
		reporting = "usd"
	}
	fx := make(map[string]ledger.Rate, len(opts.FXRates))
	for cur, r := range opts.FXRates {
		fx[strings.ToLower(cur)] = r
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = defaultMaxRetries
	case retries < 0:
		retries = 0
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = apiclient.Sleep
	}
	maxCustomers := opts.MaxCustomers
	if maxCustomers <= 0 {
		maxCustomers = defaultMaxCustomers
	}
	// stripe-go's own retries are off: they skip most 429s and ignore Retry-After (retry.go).
	backend := stripego.GetBackendWithConfig(stripego.APIBackend, &stripego.BackendConfig{
		URL:               stripego.String(base),
		HTTPClient:        retryingClient(opts.HTTPClient, retries, sleep, now, logger),
		LeveledLogger:     leveledLogger{logger},
		MaxNetworkRetries: stripego.Int64(0),
		EnableTelemetry:   stripego.Bool(false),
	})
	return &Client{
		api:          &api{b: backend, key: opts.APIKey.Reveal()},
		reporting:    reporting,
		fx:           fx,
		now:          now,
		logger:       logger,
		maxCustomers: maxCustomers,
	}, nil
}

// Check makes one cheap authenticated call and returns why it fails, if it does.
// GET /v1/customers?limit=1
func (c *Client) Check(ctx context.Context) error {
	params := &stripego.CustomerListParams{}
	params.Context = ctx
	params.Limit = stripego.Int64(1)
	params.Single = true // one page, whatever has_more says
	it := iter[apiCustomer](c.api, "/v1/customers", params)
	for it.Next() {
	}
	return wrapErr("checking the key by listing customers", "/v1/customers", it.Err())
}

// wrapErr turns a stripe-go error into an *apiclient.Error naming stripe, the endpoint and the
// HTTP status, so callers classify it like any provider error. The message is Stripe's own,
// scrubbed: Stripe echoes a masked key on 401 and nothing else of the request is kept (the
// stripe.Error's LastResponse, which holds headers and the raw body, is dropped).
func wrapErr(op, endpoint string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: stripe: %w", op, err)
	}
	var se *stripego.Error
	if errors.As(err, &se) {
		typ := string(se.Type)
		if se.Code != "" {
			typ += "/" + string(se.Code)
		}
		return fmt.Errorf("%s: %w", op, &apiclient.Error{
			Provider:   providerName,
			Endpoint:   endpoint,
			StatusCode: se.HTTPStatusCode,
			Type:       typ,
			Message:    secret.Scrub(se.Msg),
			RequestID:  se.RequestID,
		})
	}
	// Anything else arrived without an HTTP error status: a network fault (the *url.Error names
	// the URL, which carries no credential) or a body stripe-go could not decode.
	return fmt.Errorf("%s: %w", op, &apiclient.Error{
		Provider:  providerName,
		Endpoint:  endpoint,
		Temporary: true,
		Err:       errors.New(secret.Scrub(err.Error())),
	})
}

// leveledLogger routes stripe-go's log lines to slog, scrubbed. Its per-request info and error
// lines go to Debug: errors are returned to the caller, who decides what to log. Retries are
// worth a warning. Its debug lines are whole response bodies (customers' names and emails), which
// no log level should carry: they are dropped.
type leveledLogger struct{ l *slog.Logger }

func (g leveledLogger) log(level slog.Level, format string, v ...any) {
	if !g.l.Enabled(context.Background(), level) {
		return
	}
	g.l.Log(context.Background(), level, secret.Scrub(fmt.Sprintf(format, v...)))
}

func (g leveledLogger) Debugf(string, ...any)          {}
func (g leveledLogger) Infof(format string, v ...any)  { g.log(slog.LevelDebug, format, v...) }
func (g leveledLogger) Warnf(format string, v ...any)  { g.log(slog.LevelWarn, format, v...) }
func (g leveledLogger) Errorf(format string, v ...any) { g.log(slog.LevelDebug, format, v...) }
