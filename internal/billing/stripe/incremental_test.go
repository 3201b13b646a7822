package stripe_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	stripebilling "github.com/marginhq/margin/internal/billing/stripe"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// faulty passes requests to the simulated world, answering the Stripe paths in fault instead
// while it is set, and counts requests per path.
type faulty struct {
	next  http.RoundTripper
	mu    sync.Mutex
	fault map[string]func() *http.Response
	count map[string]int
}

func (f *faulty) RoundTrip(r *http.Request) (*http.Response, error) {
	path := strings.TrimPrefix(r.URL.Path, "/stripe")
	f.mu.Lock()
	f.count[path]++
	answer := f.fault[path]
	f.mu.Unlock()
	if answer != nil {
		resp := answer()
		resp.Request = r
		return resp, nil
	}
	return f.next.RoundTrip(r)
}

func (f *faulty) set(path string, answer func() *http.Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if answer == nil {
		delete(f.fault, path)
	} else {
		f.fault[path] = answer
	}
}

func (f *faulty) requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[path]
}

func jsonResponse(status int, body string) func() *http.Response {
	return func() *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body))}
	}
}

func simClients(t *testing.T, now *time.Time) (*simulator.World, *faulty, *stripebilling.Client, *stripebilling.Client) {
	t.Helper()
	w := simulator.New(simulator.Config{Now: *now})
	f := &faulty{next: w.Transport(), fault: map[string]func() *http.Response{}, count: map[string]int{}}
	_, _, _, base := simulator.BaseURLs("http://sim.invalid")
	mk := func() *stripebilling.Client {
		c, err := stripebilling.New(stripebilling.Options{APIKey: secret.String(simulator.StripeAPIKey), BaseURL: base,
			HTTPClient: &http.Client{Transport: f}, ReportingCurrency: "usd", MaxRetries: -1,
			FXRates: map[string]ledger.Rate{"eur": 1_080_000_000, "gbp": 1_270_000_000}, Now: func() time.Time { return *now }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return w, f, mk(), mk()
}

func window(now time.Time) usage.Window {
	today := usage.DayOf(now)
	return usage.Window{From: today - 3, To: today + 30}
}

// TestIncremental_FailedPollKeepsState: a later poll whose events list fails (an HTTP error, or
// an event whose object does not decode) returns an error naming stripe and /v1/events and
// changes nothing held, so the next poll, once Stripe answers, still sees the change and equals a
// full read.
func TestIncremental_FailedPollKeepsState(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	w, f, c, full := simClients(t, &now)
	inc := stripebilling.NewIncremental(c, time.Hour)
	ctx := context.Background()
	if _, err := inc.Fetch(ctx, window(now)); err != nil {
		t.Fatal(err)
	}
	open := w.StripeInvoices("open")
	now = now.Add(5 * time.Minute)
	if err := w.StripeSetInvoiceStatus(open[0], "void", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	faults := []struct {
		name, want string
		answer     func() *http.Response
	}{
		{"HTTP 500", "stripe: GET /v1/events: HTTP 500", jsonResponse(500, `{"error":{"type":"api_error","message":"boom"}}`)},
		{"event object not an invoice", "stripe: GET /v1/events", jsonResponse(200, `{"object":"list","url":"/v1/events","has_more":false,"data":[`+
			`{"id":"evt_bad","object":"event","type":"invoice.voided","created":1796000000,"data":{"object":{"id":123}}}]}`)},
		{"invoice event without lines", "data.object.lines.data (event evt_nolines", jsonResponse(200, `{"object":"list","url":"/v1/events","has_more":false,"data":[`+
			`{"id":"evt_nolines","object":"event","type":"invoice.paid","created":1796000000,"data":{"object":{"id":"in_x","object":"invoice","status":"paid"}}}]}`)},
	}
	for _, fl := range faults {
		f.set("/v1/events", fl.answer)
		_, err := inc.Fetch(ctx, window(now))
		if err == nil || !strings.Contains(err.Error(), fl.want) {
			t.Fatalf("%s: error %v, want it to contain %q", fl.name, err, fl.want)
		}
	}
	f.set("/v1/events", nil)
	got, err := inc.Fetch(ctx, window(now))
	if err != nil {
		t.Fatal(err)
	}
	want, err := full.Fetch(ctx, window(now))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Daily, want.Daily) {
		t.Fatalf("after the failed polls the revenue differs from a full read: %d rows, want %d", len(got.Daily), len(want.Daily))
	}
}

// TestIncremental_Cadence: customers are listed again only once the refresh interval has passed,
// everything is read again after a gap longer than Stripe keeps events, and a window reaching
// further back than the held invoices reads them again.
func TestIncremental_Cadence(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	_, f, c, _ := simClients(t, &now)
	inc := stripebilling.NewIncremental(c, time.Hour)
	ctx := context.Background()
	steps := []struct {
		name              string
		advance           time.Duration
		back              usage.Day // the window starts this many days earlier
		customers, events int       // requests so far
		newGeneration     bool      // the forecast's subscriptions must be read again
	}{
		{"first fill", 0, 0, 1, 1, true},
		{"later poll", 5 * time.Minute, 0, 1, 2, false},
		{"refresh not due", 50 * time.Minute, 0, 1, 3, false},
		{"refresh due", 10 * time.Minute, 0, 2, 4, true},
		{"window reaches back", 5 * time.Minute, 30, 3, 5, true},
		{"gap beyond event retention", 30 * 24 * time.Hour, 0, 4, 6, true},
	}
	gen := inc.Generation()
	for _, s := range steps {
		now = now.Add(s.advance)
		w := window(now)
		w.From -= s.back
		if _, err := inc.Fetch(ctx, w); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.requests("/v1/customers"); got != s.customers {
			t.Errorf("%s: %d customer listings, want %d", s.name, got, s.customers)
		}
		if got := f.requests("/v1/events"); got != s.events {
			t.Errorf("%s: %d event listings, want %d", s.name, got, s.events)
		}
		g := inc.Generation()
		if changed := g != gen; changed != s.newGeneration {
			t.Errorf("%s: generation changed %v, want %v", s.name, changed, s.newGeneration)
		}
		gen = g
	}
}
