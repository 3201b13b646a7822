package stripe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

const (
	fakeKey     = "rk_test_51FakeRestrictedKeyForMargin"
	fakeVersion = "2023-10-16" // stripe-go v76's API version; the fake rejects any other
	// fakePageSize is the fake's largest page, whatever limit asks for, so every list pages.
	fakePageSize = 2
)

// fakeStripe serves the v76-shaped fixtures in testdata/ like Stripe's list endpoints: newest
// first, starting_after cursors, has_more, created[gte|lte] filters on invoices, status=all on
// subscriptions, and /v1/invoices/{id}/lines for lines beyond an invoice's embedded page.
type fakeStripe struct {
	t        *testing.T
	fixtures map[string][]json.RawMessage // endpoint → objects
	lines    map[string][]json.RawMessage // invoice id → all its lines
	mu       sync.Mutex
	requests []string // "path?query" in arrival order
	// status, when set, answers every request with this status and a Stripe error body.
	status  int
	message string
}

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func newFakeStripe(t *testing.T) (*fakeStripe, *httptest.Server) {
	f := &fakeStripe{t: t, fixtures: map[string][]json.RawMessage{}}
	for endpoint, file := range map[string]string{
		"/v1/customers":     "customers.json",
		"/v1/subscriptions": "subscriptions.json",
		"/v1/products":      "products.json",
		"/v1/invoices":      "invoices.json",
		"/v1/credit_notes":  "credit_notes.json",
	} {
		var objs []json.RawMessage
		loadJSON(t, file, &objs)
		f.fixtures[endpoint] = objs
	}
	loadJSON(t, "invoice_lines.json", &f.lines)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeStripe) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake123")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"type": typ, "message": msg}})
	w.Write(body)
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if f.status != 0 {
		f.fail(w, f.status, "invalid_request_error", f.message)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeKey {
		f.fail(w, http.StatusUnauthorized, "invalid_request_error", "Invalid API Key provided")
		return
	}
	if v := r.Header.Get("Stripe-Version"); v != fakeVersion {
		f.fail(w, http.StatusBadRequest, "invalid_request_error", "unexpected Stripe-Version "+v)
		return
	}
	q := r.URL.Query()
	var objs []json.RawMessage
	switch path := r.URL.Path; {
	case strings.HasPrefix(path, "/v1/invoices/") && strings.HasSuffix(path, "/lines"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/invoices/"), "/lines")
		objs = f.lines[id]
	case path == "/v1/invoices":
		gte, err1 := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
		lte, err2 := strconv.ParseInt(q.Get("created[lte]"), 10, 64)
		if err1 != nil || err2 != nil {
			f.fail(w, http.StatusBadRequest, "invalid_request_error", "test wants a created range")
			return
		}
		for _, o := range f.fixtures[path] {
			var meta struct{ Created int64 }
			_ = json.Unmarshal(o, &meta) // the fixtures are the test's own JSON objects
			if meta.Created >= gte && meta.Created <= lte {
				objs = append(objs, o)
			}
		}
	case path == "/v1/subscriptions":
		for _, o := range f.fixtures[path] {
			var meta struct{ Status string }
			_ = json.Unmarshal(o, &meta) // the fixtures are the test's own JSON objects
			// Without status=all Stripe leaves canceled subscriptions out.
			if q.Get("status") == "all" || meta.Status != "canceled" {
				objs = append(objs, o)
			}
		}
	default:
		var ok bool
		if objs, ok = f.fixtures[path]; !ok {
			f.fail(w, http.StatusNotFound, "invalid_request_error", "Unrecognized request URL (GET: "+path+")")
			return
		}
	}
	start := 0
	if after := q.Get("starting_after"); after != "" {
		start = -1
		for i, o := range objs {
			var meta struct{ ID string }
			_ = json.Unmarshal(o, &meta) // the fixtures are the test's own JSON objects
			if meta.ID == after {
				start = i + 1
			}
		}
		if start < 0 {
			f.fail(w, http.StatusBadRequest, "invalid_request_error", "No such object: "+after)
			return
		}
	}
	limit := fakePageSize
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l < limit {
		limit = l
	}
	end := min(start+limit, len(objs))
	page := objs[start:end]
	if page == nil {
		page = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": page, "has_more": end < len(objs), "url": r.URL.Path})
}

func (f *fakeStripe) requested(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

var (
	march2026 = usage.Window{From: usage.DayOf(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), To: usage.DayOf(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))}
	fakeNow   = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
)

func newTestClient(t *testing.T, base string, logs *bytes.Buffer) *Client {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(Options{
		APIKey:            fakeKey,
		BaseURL:           base,
		ReportingCurrency: "usd",
		FXRates:           map[string]ledger.Rate{"EUR": 1_080_000_000},
		Logger:            logger,
		Now:               func() time.Time { return fakeNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFetch_TotalsPlansAndSources(t *testing.T) {
	fake, srv := newFakeStripe(t)
	rev, err := newTestClient(t, srv.URL, nil).Fetch(context.Background(), march2026)
	if err != nil {
		t.Fatal(err)
	}

	totals := map[string]ledger.Money{}
	for _, d := range rev.Daily {
		if !march2026.Contains(d.Day) {
			t.Errorf("row outside the window: %+v", d)
		}
		totals[d.Customer] += d.Amount
	}
	wantTotals := map[string]ledger.Money{
		// 310.00 base + (31.00 seats − 6.20 discount) + 62.00 usage + 50.00 setup − 15.50 proration;
		// the last three lines come from /v1/invoices/in_A_mar/lines.
		"cus_A": cents(43130),
		// €3650.00 excluding inclusive VAT over 365 days = €10/day, at 1.08, for 31 days.
		"cus_B": cents(33480),
		"cus_C": cents(9300 - 1300), // March invoice less the credit note
		"cus_D": cents(2500),        // void, draft and uncollectible invoices count nothing
	}
	if len(totals) != len(wantTotals) {
		t.Errorf("revenue for %d customers, want %d: %v", len(totals), len(wantTotals), totals)
	}
	for id, want := range wantTotals {
		if totals[id] != want {
			t.Errorf("%s: total %s, want %s", id, totals[id], want)
		}
	}
	if b := dayAmount(rev.Daily, "cus_B", "2026-03-01"); b != cents(1080) {
		t.Errorf("cus_B on 2026-03-01: %s, want 10.80", b)
	}
	if a := dayAmount(rev.Daily, "cus_A", "2026-03-05"); a <= cents(5000) {
		t.Errorf("cus_A on 2026-03-05 must include the $50 setup fee, got %s", a)
	}

	wantPlans := map[string]string{
		"cus_A": "Pro",                 // product name of the first item's price
		"cus_B": "Enterprise (custom)", // margin_plan metadata wins over "Team"
		"cus_C": "Starter monthly",     // live subscription over a newer canceled one; product unlisted → nickname
		"cus_D": "Pro",                 // only an expired subscription: still its plan
		"cus_E": "",                    // no subscription
	}
	if len(rev.Customers) != len(wantPlans) {
		t.Fatalf("got %d customers, want %d", len(rev.Customers), len(wantPlans))
	}
	for _, c := range rev.Customers {
		if c.Plan != wantPlans[c.ID] {
			t.Errorf("%s: plan %q, want %q", c.ID, c.Plan, wantPlans[c.ID])
		}
	}
	a := rev.Customers[0]
	if a.ID != "cus_A" || a.Name != "Acme Inc" || a.Email != "billing@acme.test" || a.Currency != "usd" {
		t.Errorf("first customer: %+v", a)
	}
	if want := []usage.SourceRef{"openai:project:proj_a", "anthropic:api_key:apikey_a"}; !slices.Equal(a.Sources, want) {
		t.Errorf("cus_A sources %v, want %v", a.Sources, want)
	}
	if e := rev.Customers[4]; !slices.Equal(e.Sources, []usage.SourceRef{"openrouter:key:9f86d081"}) {
		t.Errorf("cus_E sources %v", e.Sources)
	}
	if len(rev.Warnings) != 1 || !strings.Contains(rev.Warnings[0], "cus_A") || !strings.Contains(rev.Warnings[0], `"bogus:thing"`) {
		t.Errorf("want one warning naming cus_A and the bad value, got %q", rev.Warnings)
	}

	// The request shapes behind the numbers.
	from := (march2026.From - invoiceLookbackDays).Time().Unix()
	inv := fake.requested("/v1/invoices?")
	if len(inv) == 0 || !strings.Contains(inv[0], fmt.Sprintf("created[gte]=%d", from)) ||
		!strings.Contains(inv[0], fmt.Sprintf("created[lte]=%d", fakeNow.Unix())) {
		t.Errorf("invoices not listed from window start − %d days through now: %v", invoiceLookbackDays, inv)
	}
	lines := fake.requested("/v1/invoices/in_A_mar/lines")
	if len(lines) != 2 || !strings.Contains(lines[0], "starting_after=il_A2") || !strings.Contains(lines[1], "starting_after=il_A4") {
		t.Errorf("want the lines after the embedded page, in two pages: %v", lines)
	}
	if subs := fake.requested("/v1/subscriptions"); len(subs) == 0 || !strings.Contains(subs[0], "status=all") {
		t.Errorf("subscriptions not listed with status=all: %v", subs)
	}
	// Credit notes are newest first; cn_old predates the range, so paging stops on its page.
	if cn := fake.requested("/v1/credit_notes"); len(cn) != 2 {
		t.Errorf("credit notes: want 2 pages (stop at the first note before the range), got %v", cn)
	}
}

func dayAmount(rows []revenue.Daily, customer, day string) ledger.Money {
	d, _ := usage.ParseDay(day)
	for _, r := range rows {
		if r.Customer == customer && r.Day == d {
			return r.Amount
		}
	}
	return 0
}

func TestFetch_MissingRateNamesInvoiceAndConfigKey(t *testing.T) {
	_, srv := newFakeStripe(t)
	c := newTestClient(t, srv.URL, nil)
	c.fx = nil
	_, err := c.Fetch(context.Background(), march2026)
	if err == nil || !strings.Contains(err.Error(), "in_B_annual") || !strings.Contains(err.Error(), "fx_rates.eur") {
		t.Fatalf("want an error naming in_B_annual and fx_rates.eur, got %v", err)
	}
}

// TestErrors_NameStripeOperationAndStatus_NeverTheKey has the fake echo the full key in its error
// message (worse than Stripe, which masks it) and checks neither the error nor the logs carry it.
func TestErrors_NameStripeOperationAndStatus_NeverTheKey(t *testing.T) {
	tests := []struct {
		status int
		class  fault.Class
	}{
		{http.StatusUnauthorized, fault.ClassAuth},
		{http.StatusForbidden, fault.ClassPermission},
		{http.StatusBadRequest, fault.ClassBadRequest},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			fake, srv := newFakeStripe(t)
			fake.status, fake.message = tc.status, "Invalid API Key provided: "+fakeKey
			var logs bytes.Buffer
			c := newTestClient(t, srv.URL, &logs)
			for name, call := range map[string]func() error{
				"Check": func() error { return c.Check(context.Background()) },
				"Fetch": func() error { _, err := c.Fetch(context.Background(), march2026); return err },
			} {
				err := call()
				if err == nil {
					t.Fatalf("%s: want an error", name)
				}
				msg := err.Error()
				for _, want := range []string{"stripe", "customers", fmt.Sprintf("HTTP %d", tc.status), "req_fake123"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: error %q does not mention %q", name, msg, want)
					}
				}
				if strings.Contains(msg, fakeKey) || strings.Contains(msg, "51FakeRestricted") {
					t.Errorf("%s: error leaks the key: %q", name, msg)
				}
				if got := fault.Classify(err); got != tc.class {
					t.Errorf("%s: class %v, want %v", name, got, tc.class)
				}
			}
			if strings.Contains(logs.String(), "51FakeRestricted") {
				t.Errorf("logs leak the key:\n%s", logs.String())
			}
			// Auth failures are not retried.
			if n := len(fake.requested("/v1/customers")); n != 2 {
				t.Errorf("want one request per call (no retry on %d), got %d", tc.status, n)
			}
		})
	}
}

func TestNew_RequiresKeyAndMasksIt(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("want an error without a key")
	}
	opts := Options{APIKey: secret.String(fakeKey)}
	if s := fmt.Sprintf("%v %+v", opts, opts); strings.Contains(s, "51FakeRestricted") {
		t.Errorf("options print the key: %s", s)
	}
}

func TestFetch_CancelledContext(t *testing.T) {
	_, srv := newFakeStripe(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestClient(t, srv.URL, nil).Fetch(ctx, march2026)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestParseSources(t *testing.T) {
	tests := []struct {
		in      string
		want    []usage.SourceRef
		wantBad []string
	}{
		{"", nil, nil},
		{" openai:api_key:key_1 ,, openai:api_key:key_1", []usage.SourceRef{"openai:api_key:key_1"}, nil},
		{"anthropic:workspace:default,openai:key:x,nope", []usage.SourceRef{"anthropic:workspace:default"}, []string{"openai:key:x", "nope"}},
	}
	for _, tc := range tests {
		got, bad := parseSources(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseSources(%q) = %v, want %v", tc.in, got, tc.want)
		}
		var badValues []string
		for _, b := range bad {
			badValues = append(badValues, b.value)
		}
		if !slices.Equal(badValues, tc.wantBad) {
			t.Errorf("parseSources(%q) rejected %v, want %v", tc.in, badValues, tc.wantBad)
		}
	}
}
