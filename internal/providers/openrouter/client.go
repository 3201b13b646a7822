// Package openrouter reads an OpenRouter account's per-key daily activity and key list through the
// management API (a "management key", formerly "provisioning key") and turns them into
// provider-neutral usage facts. It knows OpenRouter's endpoints and encodings; retries, error typing
// and paging guards live in apiclient, and pricing, attribution and aggregation live elsewhere.
package openrouter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// DefaultBaseURL is the public API root.
const DefaultBaseURL = "https://openrouter.ai/api/v1"

const (
	currentKeyEndpoint = "/key"
	creditsEndpoint    = "/credits"
)

// errNotManagementKey is returned by Check when the key works but is an inference key, which the
// management endpoints (/activity, /keys, /credits) reject with 403.
var errNotManagementKey = errors.New("openrouter: the key is not a management key: /activity and /keys need one (create it at openrouter.ai/settings/management-keys)")

// Options configures a Client. Zero values take the defaults noted per field.
type Options struct {
	ManagementKey secret.String
	BaseURL       string       // default DefaultBaseURL
	HTTPClient    *http.Client // default: apiclient's client with a timeout
	Logger        *slog.Logger // default: discard
	Now           func() time.Time
	MaxRetries    int // passed to apiclient (0 = its default)
	// Sleep waits between retries; tests replace it so nothing really waits.
	Sleep func(context.Context, time.Duration) error
}

// Client is an OpenRouter management API client. It implements usage.Source.
type Client struct {
	api         *apiclient.Client
	now         func() time.Time
	logger      *slog.Logger
	maxKeyPages int // bound on /keys pages; tests lower it
}

var _ usage.Source = (*Client)(nil)

// New returns a client. It fails when no management key is set.
func New(opts Options) (*Client, error) {
	if !opts.ManagementKey.IsSet() {
		return nil, errors.New("openrouter: a management key is required (create one at openrouter.ai/settings/management-keys)")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	key := opts.ManagementKey
	api, err := apiclient.New(apiclient.Config{
		Provider:   string(usage.OpenRouter),
		BaseURL:    base,
		Authorize:  func(h http.Header) { h.Set("Authorization", "Bearer "+key.Reveal()) },
		HTTPClient: opts.HTTPClient,
		MaxRetries: opts.MaxRetries,
		Sleep:      opts.Sleep,
		Logger:     logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api, now: now, logger: logger.With("provider", string(usage.OpenRouter)), maxKeyPages: maxKeyPages}, nil
}

// Provider returns usage.OpenRouter.
func (c *Client) Provider() usage.Provider { return usage.OpenRouter }

// Check reads the current key and fails unless it is a management key. /key answers for any key,
// so it tells an inference key apart from a revoked one (401) in a single cheap call.
// GET /key
func (c *Client) Check(ctx context.Context) error {
	k, err := c.CurrentKey(ctx)
	if err != nil {
		return err
	}
	if !k.IsManagementKey && !k.IsProvisioningKey {
		return errNotManagementKey
	}
	return nil
}

// CurrentKey describes the key the client authenticates with. Amounts are OpenRouter credits in
// USD; the daily, weekly and monthly counters cover the current UTC day, Monday-based week and month.
type CurrentKey struct {
	Label              string `json:"label"`
	Limit              *USD   `json:"limit"`
	LimitRemaining     *USD   `json:"limit_remaining"`
	LimitReset         string `json:"limit_reset"`
	IncludeBYOKInLimit bool   `json:"include_byok_in_limit"`
	Usage              USD    `json:"usage"`
	UsageDaily         USD    `json:"usage_daily"`
	UsageWeekly        USD    `json:"usage_weekly"`
	UsageMonthly       USD    `json:"usage_monthly"`
	IsFreeTier         bool   `json:"is_free_tier"`
	IsManagementKey    bool   `json:"is_management_key"`
	// IsProvisioningKey is the legacy name of IsManagementKey, still sent (provider-apis.md trap 17).
	IsProvisioningKey bool `json:"is_provisioning_key"`
}

// CurrentKey returns the key the client authenticates with. Any key may call it.
// GET /key
func (c *Client) CurrentKey(ctx context.Context) (*CurrentKey, error) {
	var out apiclient.Data[CurrentKey] // data null or missing is an error, not a zero value
	if err := c.api.Get(ctx, currentKeyEndpoint, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Credits is the account balance in USD: credits bought and credits spent, all time.
type Credits struct {
	TotalCredits USD `json:"total_credits"`
	TotalUsage   USD `json:"total_usage"`
}

// Credits returns the account's purchased and spent credits. It needs a management key.
// GET /credits
func (c *Client) Credits(ctx context.Context) (*Credits, error) {
	var out apiclient.Data[Credits] // data null or missing is an error, not a zero value
	if err := c.api.Get(ctx, creditsEndpoint, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// keyRef returns the source reference of a key hash.
func keyRef(hash string) usage.SourceRef { return usage.Ref(usage.OpenRouter, usage.KindKey, hash) }

// errorf prefixes an error with the provider and endpoint, the way apiclient names its errors.
func errorf(endpoint, format string, args ...any) error {
	return fmt.Errorf("openrouter: GET %s: "+format, append([]any{endpoint}, args...)...)
}

func (c *Client) pagingError(endpoint, reason string) error {
	return &apiclient.PagingError{Provider: c.api.Provider(), Endpoint: endpoint, Reason: reason}
}
