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
	HTTPClient        *http.Client           // default: http.DefaultTransport, 80 s an attempt (retry.go)
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

// New returns a client. The key lives in this client only: stripe-go's global key and backends
// are never set (nor used, see api).
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
	return &Client{
		api:          &api{hc: retryingClient(opts.HTTPClient, retries, sleep, now, logger), base: base, key: opts.APIKey.Reveal()},
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

// wrapErr turns a request's error into an *apiclient.Error naming stripe, the endpoint and the
// HTTP status, so callers classify it like any provider error. The message is Stripe's own,
// scrubbed: Stripe echoes a masked key on 401 and nothing else of the request is kept.
func wrapErr(op, endpoint string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: stripe: %w", op, err)
	}
	var se *statusError
	if errors.As(err, &se) {
		typ := se.Type
		if se.Code != "" {
			typ += "/" + se.Code
		}
		return fmt.Errorf("%s: %w", op, &apiclient.Error{
			Provider:   providerName,
			Endpoint:   endpoint,
			StatusCode: se.StatusCode,
			Type:       secret.Scrub(typ),
			Message:    secret.Scrub(se.Message),
			RequestID:  se.RequestID,
		})
	}
	// Anything else arrived without an HTTP error status: a network fault (the *url.Error names
	// the URL, which carries no credential) or a body that is not the object asked for.
	return fmt.Errorf("%s: %w", op, &apiclient.Error{
		Provider:  providerName,
		Endpoint:  endpoint,
		Temporary: true,
		Err:       errors.New(secret.Scrub(err.Error())),
	})
}
