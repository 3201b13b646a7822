package stripe

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// Retry policy, the providers' (internal/providers/apiclient): 429 and 5xx and network faults are
// retried with capped, jittered exponential backoff, a 429's Retry-After is honoured up to
// maxRetryAfter, and any other 4xx fails at once, unless Stripe-Should-Retry says otherwise.
// (stripe-go v76's backend, which Margin does not use, retries a 429 only for lock_timeout and
// ignores Retry-After.) Margin only reads (GET, no body), which is always safe to send again.
const (
	defaultMaxRetries = 4
	minBackoff        = 500 * time.Millisecond
	maxBackoff        = 30 * time.Second
	maxRetryAfter     = 2 * time.Minute
	attemptTimeout    = 80 * time.Second // stripe-go's default client timeout, per attempt here
)

// retryTransport retries idempotent requests per the policy above.
type retryTransport struct {
	base       http.RoundTripper
	maxRetries int
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	logger     *slog.Logger
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.attempt(req)
	}
	for n := 0; ; n++ {
		resp, err := t.attempt(req)
		wait, why := t.retry(resp, err, n)
		if why == "" {
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop the error body.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			_ = resp.Body.Close()
		}
		t.logger.WarnContext(req.Context(), "retrying stripe request", "endpoint", req.URL.Path, "attempt", n+1, "wait", wait, "reason", why)
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// retry decides whether attempt n (from 0) is retried, and after how long; why is "" for no.
func (t *retryTransport) retry(resp *http.Response, err error, n int) (wait time.Duration, why string) {
	if n >= t.maxRetries {
		return 0, ""
	}
	if err != nil {
		return apiclient.Backoff(n, minBackoff, maxBackoff), "network error"
	}
	// Stripe may say whether a retry can help (it advises one on lock timeouts).
	switch resp.Header.Get("Stripe-Should-Retry") {
	case "false":
		return 0, ""
	case "true":
		return apiclient.Backoff(n, minBackoff, maxBackoff), "Stripe-Should-Retry"
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		wait = apiclient.Backoff(n, minBackoff, maxBackoff)
		if ra := apiclient.RetryAfter(resp.Header, t.now()); ra > 0 {
			if ra > maxRetryAfter {
				return 0, "" // longer than a poll should wait: fail now, the next poll retries
			}
			wait = ra
		}
		return wait, "HTTP 429"
	case code >= 500:
		return apiclient.Backoff(n, minBackoff, maxBackoff), "HTTP " + strconv.Itoa(code)
	}
	return 0, ""
}

// attempt sends req once with its own timeout, which ends when the body is closed.
func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), attemptTimeout)
	resp, err := t.base.RoundTrip(req.Clone(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// retryingClient returns an *http.Client whose transport retries per the policy above, around
// hc's transport (hc nil: the default transport). The client's own Timeout, which would cover
// every attempt and wait together, is applied per attempt instead.
func retryingClient(hc *http.Client, maxRetries int, sleep func(context.Context, time.Duration) error, now func() time.Time, logger *slog.Logger) *http.Client {
	out := &http.Client{}
	if hc != nil {
		*out = *hc
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Timeout = 0
	out.Transport = &retryTransport{base: base, maxRetries: maxRetries, sleep: sleep, now: now, logger: logger}
	return out
}
