package apiclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
)

const testKey = "sk-admin-Zq81mX0pLk2vN7bR4tYw9cUe"

type result struct{ Data []string }

// scripted serves the responses in order, one per request; the last one repeats.
func scripted(t *testing.T, calls *atomic.Int32, responses ...http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		responses[min(i, len(responses)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func reply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var ok = reply(http.StatusOK, `{"data":["a","b"]}`)

// newTestClient returns a client of base whose waits are recorded instead of slept.
func newTestClient(t *testing.T, base string, cfg Config) (*Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	cfg.Provider = "openai"
	cfg.BaseURL = base
	if cfg.Authorize == nil {
		cfg.Authorize = func(h http.Header) { h.Set("Authorization", "Bearer "+testKey) }
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return nil
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

func TestNew_RejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"", "api.openai.com/v1", "ftp://api.openai.com", "https://", "://x"} {
		if _, err := New(Config{Provider: "openai", BaseURL: base}); err == nil {
			t.Errorf("New accepted base URL %q", base)
		}
	}
}

func TestGet_Success(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		ok(w, r)
	}))
	defer srv.Close()
	c, waits := newTestClient(t, srv.URL+"/v1/", Config{})
	var out result
	q := url.Values{"group_by": {"project_id", "api_key_id"}, "start_time": {"1700000000"}}
	if err := c.Get(context.Background(), "/organization/costs", q, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Join(out.Data, ",") != "a,b" {
		t.Errorf("decoded %v", out.Data)
	}
	if got.URL.Path != "/v1/organization/costs" || got.URL.RawQuery != "group_by=project_id&group_by=api_key_id&start_time=1700000000" {
		t.Errorf("requested %s?%s", got.URL.Path, got.URL.RawQuery)
	}
	if got.Method != http.MethodGet || got.Header.Get("Authorization") != "Bearer "+testKey ||
		got.Header.Get("Accept") != "application/json" || got.Header.Get("User-Agent") != "margin" {
		t.Errorf("request %s with headers %v", got.Method, got.Header)
	}
	if len(*waits) != 0 {
		t.Errorf("waited %v on success", *waits)
	}
	if c.Provider() != "openai" {
		t.Errorf("Provider() = %q", c.Provider())
	}
}

func TestGet_Retries(t *testing.T) {
	httpDate := func() string { return time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name       string
		maxRetries int
		responses  []http.HandlerFunc
		wantCalls  int
		wantStatus int // 0: success
		// checkWaits checks the recorded waits.
		checkWaits func(t *testing.T, waits []time.Duration)
	}{
		{
			name:       "429 with Retry-After seconds",
			responses:  []http.HandlerFunc{reply(429, `{"error":{"message":"slow down"}}`, "Retry-After", "3"), ok},
			wantCalls:  2,
			checkWaits: exactly(3 * time.Second),
		},
		{
			name:       "429 with fractional Retry-After",
			responses:  []http.HandlerFunc{reply(429, ``, "Retry-After", "1.5"), ok},
			wantCalls:  2,
			checkWaits: exactly(1500 * time.Millisecond),
		},
		{
			name: "429 with Retry-After as an HTTP date",
			responses: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				reply(429, ``, "Retry-After", httpDate())(w, r)
			}, ok},
			wantCalls: 2,
			checkWaits: func(t *testing.T, waits []time.Duration) {
				// The date has one-second resolution and some time passes before it is read.
				if len(waits) != 1 || waits[0] < 8*time.Second || waits[0] > 10*time.Second {
					t.Errorf("waits = %v, want one of about 10s", waits)
				}
			},
		},
		{
			name:       "429 with a Retry-After in the past falls back to backoff",
			responses:  []http.HandlerFunc{reply(429, ``, "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"), ok},
			wantCalls:  2,
			checkWaits: backoffs(1),
		},
		{
			name:       "429 without Retry-After uses backoff",
			responses:  []http.HandlerFunc{reply(429, ``), reply(429, ``), ok},
			wantCalls:  3,
			checkWaits: backoffs(2),
		},
		{
			name:       "Retry-After beyond MaxRetryAfter fails at once",
			responses:  []http.HandlerFunc{reply(429, `{"error":{"message":"quota"}}`, "Retry-After", "600"), ok},
			wantCalls:  1,
			wantStatus: 429,
			checkWaits: exactly(),
		},
		{
			name:       "503 with Retry-After is honoured too",
			responses:  []http.HandlerFunc{reply(503, ``, "Retry-After", "2"), ok},
			wantCalls:  2,
			checkWaits: exactly(2 * time.Second),
		},
		{
			name:       "5xx retried, then success",
			responses:  []http.HandlerFunc{reply(500, `oops`), reply(502, `<html>`), reply(504, ``), ok},
			wantCalls:  4,
			checkWaits: backoffs(3),
		},
		{
			name:       "5xx up to MaxRetries, then the error",
			maxRetries: 2,
			responses:  []http.HandlerFunc{reply(503, `{"error":{"message":"overloaded","type":"server_error"}}`)},
			wantCalls:  3,
			wantStatus: 503,
			checkWaits: backoffs(2),
		},
		{
			name:       "default MaxRetries is 4",
			responses:  []http.HandlerFunc{reply(500, ``)},
			wantCalls:  5,
			wantStatus: 500,
			checkWaits: backoffs(4),
		},
		{
			name:       "negative MaxRetries never retries",
			maxRetries: -1,
			responses:  []http.HandlerFunc{reply(500, ``), ok},
			wantCalls:  1,
			wantStatus: 500,
			checkWaits: exactly(),
		},
	}
	for _, code := range []int{400, 401, 403, 404, 409, 422} {
		tests = append(tests, struct {
			name       string
			maxRetries int
			responses  []http.HandlerFunc
			wantCalls  int
			wantStatus int
			checkWaits func(t *testing.T, waits []time.Duration)
		}{
			name:       fmt.Sprintf("%d is not retried", code),
			responses:  []http.HandlerFunc{reply(code, `{"error":{"message":"no"}}`, "Retry-After", "1"), ok},
			wantCalls:  1,
			wantStatus: code,
			checkWaits: exactly(),
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := scripted(t, &calls, tt.responses...)
			c, waits := newTestClient(t, srv.URL, Config{MaxRetries: tt.maxRetries, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
			var out result
			err := c.Get(context.Background(), "/x", nil, &out)
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("%d requests, want %d", got, tt.wantCalls)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var e *Error
				if !errors.As(err, &e) || e.StatusCode != tt.wantStatus || e.Provider != "openai" || e.Endpoint != "/x" {
					t.Fatalf("got %v, want an *Error with status %d", err, tt.wantStatus)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("openai: GET /x: HTTP %d", tt.wantStatus)) {
					t.Errorf("error %q does not name provider, endpoint and status", err)
				}
			}
			tt.checkWaits(t, *waits)
		})
	}
}

func exactly(want ...time.Duration) func(*testing.T, []time.Duration) {
	return func(t *testing.T, waits []time.Duration) {
		t.Helper()
		if fmt.Sprint(waits) != fmt.Sprint(want) {
			t.Errorf("waits = %v, want %v", waits, want)
		}
	}
}

// backoffs checks n waits of exponential backoff from 100ms capped at 1s, with equal jitter.
func backoffs(n int) func(*testing.T, []time.Duration) {
	return func(t *testing.T, waits []time.Duration) {
		t.Helper()
		if len(waits) != n {
			t.Fatalf("waits = %v, want %d", waits, n)
		}
		for i, w := range waits {
			d := min(100*time.Millisecond<<i, time.Second)
			if w < d/2 || w > d {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, w, d/2, d)
			}
		}
	}
}

func TestGet_NetworkErrorRetriedAndUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	c, waits := newTestClient(t, base, Config{MaxRetries: 2})
	err := c.Get(context.Background(), "/organization/costs", url.Values{"page": {"cursor-with-" + testKey}}, &result{})
	var e *Error
	if !errors.As(err, &e) || !e.Temporary || e.StatusCode != 0 {
		t.Fatalf("got %#v, want a temporary *Error without status", err)
	}
	if len(*waits) != 2 {
		t.Errorf("waits = %v, want 2 retries", *waits)
	}
	if fault.Classify(err) != fault.ClassUnreachable {
		t.Errorf("class = %v, want fault.ClassUnreachable", fault.Classify(err))
	}
	// The query string can carry cursors and ids; it stays out of the error.
	if strings.Contains(err.Error(), "cursor-with") || strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the query: %v", err)
	}
	if !strings.Contains(err.Error(), "openai: GET /organization/costs") {
		t.Errorf("error %q does not name provider and endpoint", err)
	}
}

func TestGet_BodyCutMidStreamIsRetried(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		// Promise 100 bytes, send a few, hang up.
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\":[\"a\",")
		buf.Flush()
		conn.Close()
	}, ok)
	c, waits := newTestClient(t, srv.URL, Config{})
	var out result
	if err := c.Get(context.Background(), "/x", nil, &out); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(*waits) != 1 || strings.Join(out.Data, ",") != "a,b" {
		t.Fatalf("calls %d, waits %v, data %v; want a retry and the second body", calls.Load(), *waits, out.Data)
	}
}

func TestGet_BodyCutEveryTimeIsUnreachable(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"da")
		buf.Flush()
		conn.Close()
	})
	c, _ := newTestClient(t, srv.URL, Config{MaxRetries: 1})
	err := c.Get(context.Background(), "/x", nil, &result{})
	if fault.Classify(err) != fault.ClassUnreachable || calls.Load() != 2 {
		t.Fatalf("got %v (class %v) after %d calls", err, fault.Classify(err), calls.Load())
	}
}

func TestGet_MalformedJSONIsDecodeErrorNotRetried(t *testing.T) {
	for _, body := range []string{`{"data":["a",`, `<html>maintenance</html>`, ``, `{"data":"not a list"}`} {
		t.Run(body, func(t *testing.T) {
			var calls atomic.Int32
			srv := scripted(t, &calls, reply(200, body), ok)
			c, waits := newTestClient(t, srv.URL, Config{})
			err := c.Get(context.Background(), "/x", nil, &result{})
			var de *DecodeError
			if !errors.As(err, &de) || de.Size != int64(len(body)) {
				t.Fatalf("got %v, want a DecodeError of %d bytes", err, len(body))
			}
			if calls.Load() != 1 || len(*waits) != 0 {
				t.Errorf("calls %d, waits %v: a malformed body must not be retried", calls.Load(), *waits)
			}
			if fault.Classify(err) != fault.ClassMalformed {
				t.Errorf("class = %v", fault.Classify(err))
			}
			if !strings.Contains(err.Error(), "openai: GET /x") || !strings.Contains(err.Error(), "malformed JSON") {
				t.Errorf("error %q", err)
			}
		})
	}
}

// countingTransport counts the response body bytes the client reads.
type countingTransport struct {
	read atomic.Int64
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &ct.read}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func TestGet_ErrorBodyReadOnlyUpToTheCap(t *testing.T) {
	huge := strings.Repeat("x", 4<<20)
	var calls atomic.Int32
	srv := scripted(t, &calls, reply(400, huge))
	ct := &countingTransport{}
	c, _ := newTestClient(t, srv.URL, Config{HTTPClient: &http.Client{Transport: ct}})
	err := c.Get(context.Background(), "/x", nil, &result{})
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 400 {
		t.Fatalf("got %v", err)
	}
	if n := ct.read.Load(); n > maxErrorBody || n < maxErrorBody/2 {
		t.Errorf("read %d bytes of the error body, want at most the cap of %d", n, maxErrorBody)
	}
	if len(e.Message) > 210 {
		t.Errorf("message of %d bytes, want it truncated", len(e.Message))
	}
}

func TestGet_ErrorBodiesAreParsedAndScrubbed(t *testing.T) {
	tests := []struct {
		name, body              string
		status                  int
		wantType, wantInMessage string
	}{
		{
			name:          "OpenAI envelope",
			status:        401,
			body:          `{"error":{"message":"Incorrect API key provided: ` + testKey + `. You can find your API key at https://platform.openai.com.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			wantType:      "invalid_request_error",
			wantInMessage: "Incorrect API key provided: <secret>",
		},
		{
			name:          "Anthropic envelope",
			status:        403,
			body:          `{"type":"error","error":{"type":"permission_error","message":"key sk-ant-admin01-AbCdEf123456 lacks admin scope"},"request_id":"req_011"}`,
			wantType:      "permission_error",
			wantInMessage: "key <secret> lacks admin scope",
		},
		{
			name:          "OpenRouter envelope with a numeric code",
			status:        403,
			body:          `{"error":{"code":403,"message":"Only management keys can perform this operation"}}`,
			wantType:      "403",
			wantInMessage: "Only management keys can perform this operation",
		},
		{
			name:          "a string error",
			status:        400,
			body:          `{"error":"bad key sk-or-v1-0123456789abcdef"}`,
			wantInMessage: "bad key <secret>",
		},
		{
			name:          "plain text",
			status:        404,
			body:          "no route for Bearer " + testKey + "\n",
			wantInMessage: "no route for Bearer <secret>",
		},
		{
			name:          "a Stripe key",
			status:        401,
			body:          `{"error":{"message":"Invalid API Key provided: rk_live_51Abc123XyZ","type":"invalid_request_error"}}`,
			wantType:      "invalid_request_error",
			wantInMessage: "Invalid API Key provided: <secret>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := scripted(t, &calls, reply(tt.status, tt.body, "request-id", "req_abc"))
			c, _ := newTestClient(t, srv.URL, Config{})
			err := c.Get(context.Background(), "/x", nil, &result{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v", err)
			}
			if e.Type != tt.wantType || !strings.Contains(e.Message, tt.wantInMessage) || e.RequestID != "req_abc" {
				t.Errorf("type %q, message %q, request %q", e.Type, e.Message, e.RequestID)
			}
			for _, leak := range []string{testKey, "AbCdEf123456", "0123456789abcdef", "51Abc123XyZ"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error leaks %q: %v", leak, err)
				}
			}
			if !strings.Contains(err.Error(), "[request req_abc]") {
				t.Errorf("error %q does not carry the request id", err)
			}
		})
	}
}

func TestGet_ContextCancelledDuringBackoffStops(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, reply(503, ``))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeping := make(chan struct{})
	c, _ := newTestClient(t, srv.URL, Config{
		MinBackoff: time.Hour, MaxBackoff: time.Hour,
		Sleep: func(ctx context.Context, d time.Duration) error {
			close(sleeping)
			return sleepCtx(ctx, d) // the real, cancellable wait
		},
	})
	go func() {
		<-sleeping
		cancel()
	}()
	err := c.Get(ctx, "/x", nil, &result{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Provider != "openai" || e.Endpoint != "/x" {
		t.Errorf("error %v does not name provider and endpoint", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests after cancellation, want 1", calls.Load())
	}
}

func TestGet_ContextCancelledBeforeStartDoesNotRetry(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, ok)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, waits := newTestClient(t, srv.URL, Config{})
	err := c.Get(ctx, "/x", nil, &result{})
	if !errors.Is(err, context.Canceled) || len(*waits) != 0 {
		t.Fatalf("got %v after waits %v", err, *waits)
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleepCtx: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx on a cancelled context: %v", err)
	}
}

func TestBackoff_StaysWithinBounds(t *testing.T) {
	tests := []struct{ min, max time.Duration }{
		{500 * time.Millisecond, 30 * time.Second},
		{time.Second, time.Second},
		{time.Nanosecond, time.Minute},
		{3 * time.Second, 2 * time.Second}, // MinBackoff above MaxBackoff still obeys the cap
	}
	for _, tt := range tests {
		c, _ := newTestClient(t, "http://127.0.0.1:1", Config{MinBackoff: tt.min, MaxBackoff: tt.max})
		lowest := min(tt.min, tt.max) / 2
		for attempt := range 70 {
			d := min(tt.min<<min(attempt, 20), tt.max)
			for range 200 {
				w := c.backoff(attempt)
				if w < lowest || w > tt.max || w < d/2 || w > d {
					t.Fatalf("min %v max %v attempt %d: backoff %v outside [%v, %v]", tt.min, tt.max, attempt, w, d/2, d)
				}
			}
		}
	}
}

func TestBackoff_Jitters(t *testing.T) {
	c, _ := newTestClient(t, "http://127.0.0.1:1", Config{MinBackoff: time.Second, MaxBackoff: time.Minute})
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[c.backoff(3)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 backoffs took only %d values: no jitter", len(seen))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 8, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0.25", 250 * time.Millisecond},
		{"-3", 0},
		{"soon", 0},
		{"Mon, 31 Aug 2026 12:00:30 GMT", 30 * time.Second},
		{"Mon, 31 Aug 2026 11:59:00 GMT", 0},
		{"Monday, 31-Aug-26 12:01:00 GMT", time.Minute}, // RFC 850, which HTTP dates allow
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPager(t *testing.T) {
	c, _ := newTestClient(t, "http://127.0.0.1:1", Config{})

	p := c.NewPager("/organization/costs", 10)
	for _, cur := range []string{"", "page_a", "page_b"} {
		if err := p.Next(cur); err != nil {
			t.Fatalf("Next(%q): %v", cur, err)
		}
	}
	err := p.Next("page_a")
	var pe *PagingError
	if !errors.As(err, &pe) || pe.Provider != "openai" || pe.Endpoint != "/organization/costs" || !strings.Contains(pe.Reason, `"page_a" repeated`) {
		t.Fatalf("repeat: got %v", err)
	}

	p = c.NewPager("/keys", 3)
	for i := range 3 {
		if err := p.Next(fmt.Sprint(i * 100)); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
	}
	err = p.Next("300")
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Fatalf("max pages: got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "openai: GET /keys: pagination does not end") {
		t.Errorf("error %q", err)
	}
	if fault.Classify(err) != fault.ClassMalformed {
		t.Errorf("class = %v, want fault.ClassMalformed", fault.Classify(err))
	}
}

func TestClassifyAndExplain(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		class   fault.Class
		explain string // substring
	}{
		{"401", &Error{StatusCode: 401}, fault.ClassAuth, "rejected (HTTP 401)"},
		{"403", &Error{StatusCode: 403}, fault.ClassPermission, "lacks permission (HTTP 403)"},
		{"429", &Error{StatusCode: 429}, fault.ClassRateLimited, "rate limited"},
		{"500", &Error{StatusCode: 500}, fault.ClassServer, "HTTP 5xx"},
		{"503 wrapped", fmt.Errorf("reading costs: %w", &Error{StatusCode: 503}), fault.ClassServer, "HTTP 5xx"},
		{"network", &Error{Temporary: true, Err: errors.New("connection refused")}, fault.ClassUnreachable, "unreachable"},
		{"decode", &Error{StatusCode: 200, Err: &DecodeError{Err: errors.New("unexpected EOF")}}, fault.ClassMalformed, "malformed"},
		{"paging", fmt.Errorf("listing: %w", &PagingError{Provider: "openai", Endpoint: "/x", Reason: "r"}), fault.ClassMalformed, "malformed"},
		{"400", &Error{Provider: "openai", Endpoint: "/x", StatusCode: 400, Message: "bad limit"}, fault.ClassBadRequest, "openai: GET /x: HTTP 400 Bad Request: bad limit"},
		{"404", &Error{Provider: "openai", Endpoint: "/x", StatusCode: 404}, fault.ClassBadRequest, "HTTP 404 Not Found"},
		{"plain", errors.New("something else"), fault.ClassOther, "something else"},
		{"cancelled", &Error{Provider: "openai", Endpoint: "/x", Err: context.Canceled}, fault.ClassOther, "openai: GET /x: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.Classify(tt.err); got != tt.class {
				t.Errorf("Classify = %v, want %v", got, tt.class)
			}
			if got := fault.Explain(tt.err); !strings.Contains(got, tt.explain) {
				t.Errorf("Explain = %q, want it to say %q", got, tt.explain)
			}
		})
	}
}

func TestError_Format(t *testing.T) {
	e := &Error{Provider: "anthropic", Endpoint: "/v1/organizations/cost_report", StatusCode: 400, Type: "invalid_request_error",
		Message: "Invalid date range", RequestID: "req_9"}
	want := "anthropic: GET /v1/organizations/cost_report: HTTP 400 Bad Request (invalid_request_error): Invalid date range [request req_9]"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	inner := errors.New("boom")
	e = &Error{Provider: "openai", Endpoint: "/x", Err: inner}
	if !errors.Is(e, inner) || e.Error() != "openai: GET /x: boom" {
		t.Errorf("got %q", e.Error())
	}
}

func TestGet_LogsNoSecrets(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, reply(500, `{"error":{"message":"bad key `+testKey+`"}}`), ok)
	var logs bytes.Buffer
	c, _ := newTestClient(t, srv.URL, Config{Logger: slogDebug(&logs)})
	if err := c.Get(context.Background(), "/x", nil, &result{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "retrying request") {
		t.Fatalf("no retry logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), testKey) {
		t.Fatalf("logs leak the key: %s", logs.String())
	}
}

func slogDebug(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
