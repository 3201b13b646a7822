// Package anthropic reads an Anthropic organisation's token usage, billed cost, workspaces and API
// keys through the Admin API (an "sk-ant-admin01-" key) and turns them into provider-neutral usage
// facts. It knows Anthropic's endpoints and encodings; retries, error typing and paging guards live
// in apiclient, and pricing, attribution and aggregation across providers live elsewhere.
package anthropic

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

const (
	// DefaultBaseURL is the API root; every admin path starts with /v1/organizations.
	DefaultBaseURL = "https://api.anthropic.com"
	// defaultVersion is the anthropic-version header every usage/cost example uses. A newer
	// version exists whose effect on admin endpoints is unknown (provider-apis.md trap 16).
	defaultVersion = "2023-06-01"
)

// adminKeyPrefix is the prefix of Admin API keys. Inference keys ("sk-ant-api03-") are rejected by
// the admin endpoints, but formats change, so a mismatch is only a warning (trap 1).
const adminKeyPrefix = "sk-ant-admin01-"

const (
	// bucketMaxPages bounds the usage and cost paging loops: a 32-day window of daily buckets
	// needs two pages at 31 buckets a page.
	bucketMaxPages = 64
	// listMaxPages bounds the workspace and key lists, 100 items a page.
	listMaxPages = 1000
	// listPageSize is the page size asked of the list endpoints (the API allows up to 1000).
	listPageSize = "100"
)

// Options configures a Client. Zero values take the defaults noted per field.
type Options struct {
	AdminKey   secret.String
	BaseURL    string // default DefaultBaseURL
	Version    string // anthropic-version header, default defaultVersion
	HTTPClient *http.Client
	Logger     *slog.Logger // default: discard
	Now        func() time.Time
	MaxRetries int // passed to apiclient (0 = its default)
	// Sleep waits between retries; tests replace it so nothing really waits.
	Sleep func(context.Context, time.Duration) error
	// NamesRefresh keeps the listed sources (projects, workspaces, keys) this long between
	// fetches (0: listed on every fetch); see usage.NameCache.
	NamesRefresh time.Duration
}

// Client is an Anthropic Admin API client. It implements usage.Source.
type Client struct {
	api    *apiclient.Client
	now    func() time.Time
	logger *slog.Logger
	names  *usage.NameCache
}

var _ usage.Source = (*Client)(nil)

// New returns a client. It fails when no admin key is set and warns (without printing the key)
// when the key does not look like an admin key.
func New(opts Options) (*Client, error) {
	if !opts.AdminKey.IsSet() {
		return nil, errors.New("anthropic: an admin key is required (an sk-ant-admin01-… key from the Console's admin keys page)")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("provider", string(usage.Anthropic))
	if !strings.HasPrefix(opts.AdminKey.Reveal(), adminKeyPrefix) {
		logger.Warn("the Anthropic key does not look like an admin key (" + adminKeyPrefix + "…); the usage and cost reports reject inference keys")
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	version := opts.Version
	if version == "" {
		version = defaultVersion
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	key := opts.AdminKey
	api, err := apiclient.New(apiclient.Config{
		Provider: string(usage.Anthropic),
		BaseURL:  base,
		Authorize: func(h http.Header) {
			h.Set("x-api-key", key.Reveal())
			h.Set("anthropic-version", version)
			// Without it the usage report has no speed dimension, and fast mode (priced apart)
			// would be summed into standard rows.
			h.Set("anthropic-beta", fastModeBeta)
		},
		HTTPClient: opts.HTTPClient,
		UserAgent:  userAgent(),
		MaxRetries: opts.MaxRetries,
		Sleep:      opts.Sleep,
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api, now: now, logger: logger, names: &usage.NameCache{TTL: opts.NamesRefresh}}, nil
}

// userAgent names Margin and its module version, as the Admin API docs recommend.
func userAgent() string {
	version := "dev"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	return "margin/" + version + " (+https://github.com/marginhq/margin)"
}

// Provider returns usage.Anthropic.
func (c *Client) Provider() usage.Provider { return usage.Anthropic }

// Check lists a single workspace: the cheapest call that proves the key is an admin key.
// GET /v1/organizations/workspaces
func (c *Client) Check(ctx context.Context) error {
	var out apiclient.ListEnvelope[Workspace]
	return c.api.Get(ctx, workspacesEndpoint, url.Values{"limit": {"1"}}, &out)
}

// reportBucketLimit is the most daily buckets a report page may hold.
const reportBucketLimit = 31

// reportQueryPage returns the shared parameters of the usage and cost reports: RFC 3339 bounds,
// daily buckets, at most perPage buckets a page (and never more than the API allows), and
// group_by[] with brackets, the form of every official example (trap 14).
func reportQueryPage(start, end time.Time, perPage int, groupBy ...string) url.Values {
	return url.Values{
		"starting_at":  {start.UTC().Format(time.RFC3339)},
		"ending_at":    {end.UTC().Format(time.RFC3339)},
		"bucket_width": {"1d"},
		"limit":        {strconv.Itoa(min(max(perPage, 1), reportBucketLimit))},
		"group_by[]":   groupBy,
	}
}

// stringOrEmpty returns *s, or "" for nil.
func stringOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
