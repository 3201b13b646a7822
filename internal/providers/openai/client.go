// Package openai reads an OpenAI organisation's usage, billed costs, projects and project API keys
// through the admin API (an "sk-admin-" key) and turns them into provider-neutral usage facts.
// It knows OpenAI's endpoints and encodings; retries, error typing and paging guards live in
// apiclient, and pricing, attribution and aggregation across providers live elsewhere.
package openai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// DefaultBaseURL is the public API root; admin paths hang below it.
const DefaultBaseURL = "https://api.openai.com/v1"

// adminKeyPrefix is the prefix OpenAI gives admin keys. Project keys ("sk-proj-") cannot call the
// admin endpoints (provider-apis.md trap 1), but formats change, so a mismatch is only a warning.
const adminKeyPrefix = "sk-admin-"

// maxPages bounds every paging loop. A full 32-day window needs two usage pages and one cost
// page; projects and keys come 100 to a page. Anything near this is a provider fault.
const maxPages = 500

// Options configures a Client. Zero values take the defaults noted per field.
type Options struct {
	AdminKey   secret.String
	BaseURL    string       // default DefaultBaseURL
	HTTPClient *http.Client // default: apiclient's client with a timeout
	Logger     *slog.Logger // default: discard
	Now        func() time.Time
	MaxRetries int // passed to apiclient (0 = its default)
	// Sleep waits between retries; tests replace it so nothing really waits.
	Sleep func(context.Context, time.Duration) error
	// NamesRefresh keeps the listed sources (projects, workspaces, keys) this long between
	// fetches (0: listed on every fetch); see usage.NameCache.
	NamesRefresh time.Duration
}

// Client is an OpenAI admin API client. It implements usage.Source.
type Client struct {
	api    *apiclient.Client
	now    func() time.Time
	logger *slog.Logger
	names  *usage.NameCache
	hints  sizeHints
}

// sizeHints carry sizes from one fetch to the next, so that a later poll makes its slices at
// their size once instead of growing them from empty. They are only sizes: a wrong hint costs
// a reallocation, never a result.
type sizeHints struct {
	mu      sync.Mutex
	results map[string]*atomic.Int64 // the largest bucket's results so far, by endpoint path
	// Records per day of the last usage and cost fetch.
	usagePerDay, costsPerDay atomic.Int64
}

// resultHint returns the results-per-bucket hint of an endpoint.
func (h *sizeHints) resultHint(path string) *atomic.Int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.results == nil {
		h.results = map[string]*atomic.Int64{}
	}
	p, ok := h.results[path]
	if !ok {
		p = new(atomic.Int64)
		h.results[path] = p
	}
	return p
}

// raise records n results in a bucket of the endpoint whose hint is h.
func raise(h *atomic.Int64, n int) {
	if int64(n) > h.Load() {
		h.Store(int64(n))
	}
}

var _ usage.Source = (*Client)(nil)

// New returns a client. It fails when no admin key is set and warns (without printing the key)
// when the key does not look like an admin key.
func New(opts Options) (*Client, error) {
	if !opts.AdminKey.IsSet() {
		return nil, errors.New("openai: an admin key is required (an sk-admin-… key from the organization settings)")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("provider", string(usage.OpenAI))
	if !strings.HasPrefix(opts.AdminKey.Reveal(), adminKeyPrefix) {
		logger.Warn("the OpenAI key does not look like an admin key; the usage and costs endpoints reject project and user keys")
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	key := opts.AdminKey
	api, err := apiclient.New(apiclient.Config{
		Provider:   string(usage.OpenAI),
		BaseURL:    base,
		Authorize:  func(h http.Header) { h.Set("Authorization", "Bearer "+key.Reveal()) },
		HTTPClient: opts.HTTPClient,
		MaxRetries: opts.MaxRetries,
		Sleep:      opts.Sleep,
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api, now: now, logger: logger, names: &usage.NameCache{TTL: opts.NamesRefresh}}, nil
}

// Provider returns usage.OpenAI.
func (c *Client) Provider() usage.Provider { return usage.OpenAI }

// Check lists a single project: the cheapest call that proves the key is an admin key.
// GET /organization/projects
func (c *Client) Check(ctx context.Context) error {
	var out apiclient.ListEnvelope[Project]
	return c.api.Get(ctx, projectsEndpoint, url.Values{"limit": {"1"}}, &out)
}

// timeQuery returns the shared time parameters of the usage and costs endpoints.
func timeQuery(start, end time.Time, limit int) url.Values {
	return url.Values{
		"start_time":   {fmt.Sprint(start.Unix())},
		"end_time":     {fmt.Sprint(end.Unix())},
		"bucket_width": {"1d"},
		"limit":        {fmt.Sprint(limit)},
	}
}
