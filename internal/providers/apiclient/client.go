// Package apiclient is the HTTP plumbing shared by the provider clients: authenticated GETs that
// decode JSON as it streams (no body is ever held whole, and none is too large), retries with capped exponential backoff and jitter, Retry-After, capped error-body
// reads, typed errors and a guard against endless paging. It knows no provider's endpoints.
package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/secret"
)

const (
	maxErrorBody = 64 << 10 // error bodies are read this far and no further
	// maxDrain is how much of a malformed success body is read on, to report its size and let
	// the connection be reused; the rest is dropped with the connection.
	maxDrain = 64 << 10
)

// Config configures a Client. Zero values take the defaults noted per field.
type Config struct {
	Provider string // "openai", … used in errors and logs
	BaseURL  string // e.g. https://api.openai.com/v1
	// Authorize sets the credential headers on each request.
	Authorize  func(http.Header)
	HTTPClient *http.Client // default: a client with a 60 s timeout
	UserAgent  string       // default: "margin"
	// MaxRetries is how many times a failed request is retried (default 4; negative: none).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff (default 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a longer one fails at once (default 2 m).
	MaxRetryAfter time.Duration
	// Sleep waits between attempts; tests replace it to run without waiting.
	Sleep  func(context.Context, time.Duration) error
	Logger *slog.Logger
}

// Client performs GET requests against one provider.
type Client struct {
	cfg  Config
	base *url.URL
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q is not an absolute http(s) URL", cfg.Provider, cfg.BaseURL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "margin"
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = 2 * time.Minute
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("provider", cfg.Provider)
	return &Client{cfg: cfg, base: u}, nil
}

// Provider returns the provider name the client reports in errors.
func (c *Client) Provider() string { return c.cfg.Provider }

// Get requests base URL + endpoint with the query and decodes the JSON body into out as it
// streams, then runs out's Validate when it is a Validator (a field the API always sends, null or
// missing, is a *DecodeError, not an empty answer). It retries network errors (a body cut
// mid-stream included), 429 and 5xx; any other non-2xx status returns an *Error at once.
func (c *Client) Get(ctx context.Context, endpoint string, query url.Values, out any) error {
	return c.stream(ctx, endpoint, query, func(body io.Reader) error {
		dec := json.NewDecoder(body)
		if err := dec.Decode(out); err != nil {
			return err
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			if err == nil {
				err = errors.New("data after the JSON value")
			}
			return err
		}
		if v, ok := out.(Validator); ok {
			return v.Validate()
		}
		return nil
	})
}

// stream requests base URL + endpoint with the query and hands the success body to decode as it
// arrives, retrying like Get. decode's failure is a *DecodeError, unless reading the body failed
// (the connection broke: retried like a network error) or it is errStopped (returned as is).
func (c *Client) stream(ctx context.Context, endpoint string, query url.Values, decode func(io.Reader) error) error {
	u := *c.base
	u.Path = c.base.Path + endpoint
	u.RawQuery = query.Encode()
	var lastErr error
	for attempt := 0; ; attempt++ {
		retryAfter, err := c.once(ctx, endpoint, u.String(), decode)
		if err == nil || errors.Is(err, errStopped) {
			return err
		}
		lastErr = err
		if ctx.Err() != nil {
			return &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: ctx.Err()}
		}
		if !retryable(err) || attempt >= c.cfg.MaxRetries {
			return lastErr
		}
		wait := c.backoff(attempt)
		if retryAfter > 0 {
			if retryAfter > c.cfg.MaxRetryAfter {
				return lastErr
			}
			wait = retryAfter
		}
		c.cfg.Logger.DebugContext(ctx, "retrying request", "endpoint", endpoint, "attempt", attempt+1, "wait", wait, "reason", err)
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: err}
		}
	}
}

func (c *Client) once(ctx context.Context, endpoint, rawURL string, decode func(io.Reader) error) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if c.cfg.Authorize != nil {
		c.cfg.Authorize(req.Header)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: scrubURLError(err), Temporary: true}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		e := &Error{
			Provider:   c.cfg.Provider,
			Endpoint:   endpoint,
			StatusCode: resp.StatusCode,
			RequestID:  firstHeader(resp.Header, "request-id", "x-request-id"),
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
		e.Type, e.Message = parseErrorBody(body)
		return e.RetryAfter, e
	}
	body := &countingReader{r: resp.Body}
	err = decode(body)
	switch {
	case err == nil, errors.Is(err, errStopped):
		return 0, err
	case body.err != nil:
		// The connection broke mid-body: the same as a network error.
		return 0, &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: fmt.Errorf("reading body: %w", scrubURLError(body.err)), Temporary: true}
	}
	// Read on a little, so the size reported is the body's when it is small.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	if body.err != nil {
		return 0, &Error{Provider: c.cfg.Provider, Endpoint: endpoint, Err: fmt.Errorf("reading body: %w", scrubURLError(body.err)), Temporary: true}
	}
	return 0, &Error{Provider: c.cfg.Provider, Endpoint: endpoint, StatusCode: resp.StatusCode, Err: &DecodeError{Err: err, Size: body.n}}
}

func (c *Client) backoff(attempt int) time.Duration {
	return Backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
}

// Backoff is the wait before retry attempt+1: exponential from lo, capped at hi, with equal
// jitter (half fixed, half random) so retries from many clients spread out.
func Backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo << min(attempt, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	half := d / 2
	return half + rand.N(half+1) // #nosec G404 -- jitter, not a secret
}

// RetryAfter reads a Retry-After header (delay-seconds or an HTTP date); 0 when absent or past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	return parseRetryAfter(h.Get("Retry-After"), now)
}

// Sleep waits d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d) }

func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Temporary || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// parseErrorBody extracts type and message from the error envelopes of OpenAI
// ({"error":{"message","type","code"}}), Anthropic ({"type":"error","error":{"type","message"}})
// and OpenRouter ({"error":{"code":403,"message"}}); anything else is shown as capped text.
func parseErrorBody(body []byte) (typ, msg string) {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var inner struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		}
		if json.Unmarshal(env.Error, &inner) == nil {
			typ = inner.Type
			if typ == "" && len(inner.Code) > 0 && string(inner.Code) != "null" {
				typ = strings.Trim(string(inner.Code), `"`)
			}
			return secret.Scrub(typ), secret.Scrub(truncate(inner.Message, 300))
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			return "", secret.Scrub(truncate(s, 300))
		}
	}
	return "", secret.Scrub(truncate(strings.TrimSpace(string(body)), 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// scrubURLError drops the query string from *url.Error so no parameters reach logs.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
