package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
)

// scripted serves the fake Stripe with some requests answered by script instead: script returns
// false to let the fake answer.
func scripted(t *testing.T, script func(w http.ResponseWriter, r *http.Request) bool) (*fakeStripe, string) {
	t.Helper()
	fake, _ := newFakeStripe(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !script(w, r) {
			fake.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// sleeps records the retry waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func resilientClient(t *testing.T, base string, mod ...func(*Options)) (*Client, *sleeps) {
	t.Helper()
	s := &sleeps{}
	o := Options{APIKey: fakeKey, BaseURL: base, ReportingCurrency: "usd",
		FXRates: map[string]ledger.Rate{"EUR": 1_080_000_000}, Now: func() time.Time { return fakeNow }, Sleep: s.sleep}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func stripeError(w http.ResponseWriter, status int, typ string, header ...string) {
	for i := 0; i+1 < len(header); i += 2 {
		w.Header().Set(header[i], header[i+1])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"type":%q,"message":"scripted %d"}}`, typ, status)
}

// A 429 is retried after its Retry-After, and the report is whole: stripe-go alone gave up.
func TestFetch_RateLimitIsRetriedAfterRetryAfter(t *testing.T) {
	var mu sync.Mutex
	limited := 0
	fake, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/v1/invoices" && limited < 2 {
			limited++
			stripeError(w, http.StatusTooManyRequests, "rate_limit_error", "Retry-After", "3")
			return true
		}
		return false
	})
	c, s := resilientClient(t, base)
	rev, err := c.Fetch(context.Background(), march2026)
	if err != nil {
		t.Fatalf("Fetch after two 429s: %v", err)
	}
	want, err := newTestClient(t, base, nil).Fetch(context.Background(), march2026)
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Daily) == 0 || len(rev.Daily) != len(want.Daily) {
		t.Fatalf("%d revenue rows after the retries, %d without rate limits", len(rev.Daily), len(want.Daily))
	}
	if got := s.got(); len(got) != 2 || got[0] != 3*time.Second || got[1] != 3*time.Second {
		t.Fatalf("waits %v, want the Retry-After of 3s twice", got)
	}
	if len(fake.requested("/v1/invoices?")) == 0 {
		t.Fatal("the retried invoice list never reached the fake")
	}
}

func TestFetch_RetryPolicy(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   []string
		failures int // answered with status before the fake answers; -1: always
		wantErr  string
		attempts int // requests answered with status
		waits    int
		check    func(t *testing.T, w []time.Duration)
	}{
		{name: "5xx retried with capped jittered backoff", status: 503, failures: 3, attempts: 3, waits: 3,
			check: func(t *testing.T, w []time.Duration) {
				for i, d := range w {
					lo, hi := minBackoff<<i/2, minBackoff<<i
					if d < lo || d > hi {
						t.Errorf("wait %d is %v, want within [%v, %v]", i, d, lo, hi)
					}
				}
			}},
		{name: "5xx until the retries run out", status: 500, failures: -1, attempts: 1 + defaultMaxRetries, waits: defaultMaxRetries, wantErr: "HTTP 500"},
		{name: "Retry-After beyond two minutes fails at once", status: 429, header: []string{"Retry-After", "600"}, failures: -1, attempts: 1, wantErr: "HTTP 429"},
		{name: "Stripe-Should-Retry false is not retried", status: 503, header: []string{"Stripe-Should-Retry", "false"}, failures: -1, attempts: 1, wantErr: "HTTP 503"},
		{name: "other 4xx are not retried", status: 404, failures: -1, attempts: 1, wantErr: "HTTP 404"},
		{name: "409 lock timeout retried when Stripe says so", status: 409, header: []string{"Stripe-Should-Retry", "true"}, failures: 1, attempts: 1, waits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			fake, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if r.URL.Path == "/v1/customers" && (tt.failures < 0 || n < tt.failures) {
					n++
					stripeError(w, tt.status, "api_error", tt.header...)
					return true
				}
				return false
			})
			c, s := resilientClient(t, base)
			_, err := c.Fetch(context.Background(), march2026)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Fetch: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "/v1/customers")):
				t.Fatalf("Fetch: %v, want an error naming /v1/customers and %q", err, tt.wantErr)
			}
			mu.Lock()
			attempts := n
			mu.Unlock()
			if attempts != tt.attempts {
				t.Fatalf("%d customer list requests answered %d, want %d", attempts, tt.status, tt.attempts)
			}
			if got := s.got(); len(got) != tt.waits {
				t.Fatalf("waits %v, want %d", got, tt.waits)
			} else if tt.check != nil {
				tt.check(t, got)
			}
			if tt.wantErr == "" && len(fake.requested("/v1/customers?")) == 0 {
				t.Fatal("the retried request never reached the fake")
			}
		})
	}
}

// A list whose server hands out a fresh cursor with every page fails once the pages exceed what
// the expected objects need, in seconds, with an error naming the list.
func TestFetch_EndlessCursorIsPagingError(t *testing.T) {
	var mu sync.Mutex
	served := 0
	_, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/customers" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		data := make([]map[string]any, 0, pageLimit)
		for range pageLimit {
			served++
			data = append(data, map[string]any{"id": fmt.Sprintf("cus_%07d", served), "object": "customer"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "has_more": true, "url": "/v1/customers"})
		return true
	})
	c, _ := resilientClient(t, base, func(o *Options) { o.MaxCustomers = 1_000 })
	_, err := c.Fetch(context.Background(), march2026)
	var pe *apiclient.PagingError
	if !errors.As(err, &pe) || pe.Endpoint != "/v1/customers" || !strings.Contains(err.Error(), "1000 objects expected") {
		t.Fatalf("Fetch: %v, want a *apiclient.PagingError on /v1/customers naming the bound", err)
	}
	if served > 1_000+2*pageLimit {
		t.Fatalf("served %d customers before stopping, want about the bound of 1000", served)
	}

	// An empty page that says has_more would otherwise end the list quietly.
	_, base = scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/products" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[],"has_more":true,"url":"/v1/products"}`))
		return true
	})
	c, _ = resilientClient(t, base)
	if _, err := c.Fetch(context.Background(), march2026); !errors.As(err, &pe) || pe.Endpoint != "/v1/products" {
		t.Fatalf("Fetch: %v, want a *apiclient.PagingError on /v1/products", err)
	}
}

// A list page whose data is null or missing is a decode error naming stripe, the list and the
// field, on every list Fetch reads: revenue never becomes the credit notes alone.
func TestFetch_NullOrMissingDataIsADecodeError(t *testing.T) {
	bodies := map[string]string{
		"data null":    `{"object":"list","data":null,"has_more":false,"url":"%s"}`,
		"data missing": `{"object":"list","has_more":false,"url":"%s"}`,
	}
	lists := []string{"/v1/customers", "/v1/subscriptions", "/v1/products", "/v1/invoices", "/v1/credit_notes", "/v1/invoices/in_A_mar/lines"}
	for _, ep := range lists {
		for name, body := range bodies {
			t.Run(ep+" "+name, func(t *testing.T) {
				_, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != ep {
						return false
					}
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, body, ep)
					return true
				})
				c, _ := resilientClient(t, base)
				rev, err := c.Fetch(context.Background(), march2026)
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Fetch: %v (revenue %+v), want a *apiclient.DecodeError", err, rev)
				}
				for _, want := range []string{"stripe", ep, "data is null or missing"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
	t.Run("embedded invoice lines null", func(t *testing.T) {
		fake, _ := newFakeStripe(t)
		var inv map[string]any
		if err := json.Unmarshal(fake.fixtures["/v1/invoices"][4], &inv); err != nil {
			t.Fatal(err)
		}
		inv["lines"] = map[string]any{"object": "list", "data": nil, "has_more": false}
		b, _ := json.Marshal(inv)
		_, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v1/invoices" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"object":"list","data":[%s],"has_more":false,"url":"/v1/invoices"}`, b)
			return true
		})
		c, _ := resilientClient(t, base)
		_, err := c.Fetch(context.Background(), march2026)
		var de *apiclient.DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "lines.data") || !strings.Contains(err.Error(), inv["id"].(string)) {
			t.Fatalf("Fetch: %v, want a decode error naming the invoice's lines", err)
		}
	})
}

// The bodies a proxy or a broken connection sends: each fails the read with an error that names
// stripe, the endpoint and what is wrong, quotes none of the body (customers' names and emails
// travel in it), and a page cut short or with data after it is never read as a shorter list.
func TestFetch_BadBodiesFailNamingTheEndpointNotTheBody(t *testing.T) {
	const secretInBody = "jane@customer.example"
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
		retry  bool // a 5xx is retried until the retries run out
	}{
		{name: "proxy error page", status: http.StatusBadGateway, body: "<html>bad gateway " + secretInBody + "</html>",
			want: []string{"HTTP 502"}, retry: true},
		{name: "error object without JSON", status: http.StatusBadRequest, body: "no " + secretInBody,
			want: []string{"HTTP 400"}},
		{name: "page cut short", status: http.StatusOK, body: `{"object":"list","data":[{"id":"cus_1","email":"` + secretInBody + `"`,
			want: []string{"decoding the HTTP 200 response", "unexpected EOF"}},
		{name: "data after the page", status: http.StatusOK, body: `{"object":"list","data":[],"has_more":false} {"email":"` + secretInBody + `"}`,
			want: []string{"decoding the HTTP 200 response", "data after the JSON value"}},
		{name: "not a list", status: http.StatusOK, body: `["` + secretInBody + `"]`,
			want: []string{"decoding the HTTP 200 response", "cannot unmarshal array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attempts := 0
			_, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/v1/customers") {
					return false
				}
				attempts++
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
				return true
			})
			c, _ := resilientClient(t, base)
			rev, err := c.Fetch(context.Background(), march2026)
			if err == nil {
				t.Fatalf("Fetch read %d revenue rows from a bad body, want an error", len(rev.Daily))
			}
			var ae *apiclient.Error
			if !errors.As(err, &ae) || ae.Provider != "stripe" || ae.Endpoint != "/v1/customers" {
				t.Fatalf("Fetch: %v, want an *apiclient.Error of stripe on /v1/customers", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretInBody) {
				t.Errorf("error quotes the body: %q", err)
			}
			if want := map[bool]int{true: 1 + defaultMaxRetries, false: 1}[tt.retry]; attempts != want {
				t.Errorf("%d requests, want %d", attempts, want)
			}
		})
	}
}

// A connection dropped before any response is retried, then fails naming stripe and the endpoint,
// without the request's query (customer ids and cursors stay out of errors and logs).
func TestFetch_DroppedConnectionNamesTheEndpointNotTheQuery(t *testing.T) {
	attempts := 0
	_, base := scripted(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v1/customers") {
			return false
		}
		attempts++
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		return true
	})
	c, _ := resilientClient(t, base)
	_, err := c.Fetch(context.Background(), march2026)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Provider != "stripe" || ae.Endpoint != "/v1/customers" || !ae.Temporary {
		t.Fatalf("Fetch: %v, want a temporary *apiclient.Error of stripe on /v1/customers", err)
	}
	if strings.Contains(err.Error(), "limit=") || strings.Contains(err.Error(), "?") {
		t.Errorf("error carries the request's query: %q", err)
	}
	if attempts != 1+defaultMaxRetries {
		t.Errorf("%d requests, want %d (a dropped connection is retried)", attempts, 1+defaultMaxRetries)
	}
}
