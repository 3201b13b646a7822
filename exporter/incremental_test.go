package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// stripeRequest is one Stripe request a poll made: its path and how many objects it returned.
type stripeRequest struct {
	path    string
	query   string
	objects int // len(data) of a list; -1 for anything else
}

// stripeRecorder records the Stripe requests of the simulated world and passes the rest on.
type stripeRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	reqs  []stripeRequest
	names int // provider name listings (OpenAI projects and keys, Anthropic workspaces and keys)
}

func (s *stripeRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if p := r.URL.Path; strings.Contains(p, "/organization/projects") || strings.HasSuffix(p, "/v1/organizations/workspaces") ||
		strings.HasSuffix(p, "/v1/organizations/api_keys") {
		s.mu.Lock()
		s.names++
		s.mu.Unlock()
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/stripe")
	resp, err := s.next.RoundTrip(r)
	if err != nil || !ok {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var list struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	n := -1
	if json.Unmarshal(body, &list) == nil && list.Object == "list" {
		n = len(list.Data)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, stripeRequest{path, r.URL.RawQuery, n})
	s.mu.Unlock()
	return resp, nil
}

func (s *stripeRecorder) take() []stripeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

func (s *stripeRecorder) takeNames() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.names
	s.names = 0
	return n
}

// TestLaterPoll_ReadsOnlyStripeChanges polls the simulated world with the exporter's settings:
// a later poll with nothing changed makes no Stripe request that returns an object (only the
// events list and the invoices and credit notes created since, all empty: no customer, product,
// subscription or invoice line is read again), and a later poll after a new invoice, a voided
// invoice and a new credit note reads just those and counts the revenue a full read gives.
// storeSpy is an engine that keeps the poller's last-good stores, to read what they hold.
type storeSpy struct {
	*engine.Engine
	stores map[engine.SourceName]*lastGood
}

func (s *storeSpy) Wrap(decorate func(engine.Source) engine.Source) *engine.Engine {
	s.stores = map[engine.SourceName]*lastGood{}
	return s.Engine.Wrap(func(src engine.Source) engine.Source {
		d := decorate(src)
		s.stores[src.Name()] = d.(*lastGood)
		return d
	})
}

func (s *storeSpy) last(n engine.SourceName) *engine.SourceFacts {
	l := s.stores[n]
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func TestLaterPoll_ReadsOnlyStripeChanges(t *testing.T) {
	w := simulator.New(simulator.Config{Now: worldNow})
	now := worldNow
	clock := func() time.Time { return now }
	rec := &stripeRecorder{next: w.Transport()}
	opts := simengine.Options(w, "http://sim.invalid", &http.Client{Transport: rec})
	opts.Now = clock
	fullEng, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.StripeRefresh, opts.NamesRefresh = time.Hour, time.Hour
	eng, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	spy := &storeSpy{Engine: eng}
	p, _ := newPoller(t, spy, "", func(o *Options) { o.Now = clock })
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	first := rec.take()
	if len(first) < 5 {
		t.Fatalf("the first fill made %d Stripe requests", len(first))
	}
	if n := rec.takeNames(); n < 3 {
		t.Fatalf("the first fill listed provider names %d times", n)
	}

	// Nothing changed.
	now = now.Add(5 * time.Minute)
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range rec.take() {
		paths = append(paths, r.path)
		if r.objects != 0 {
			t.Errorf("an unchanged later poll read %d objects from %s?%s", r.objects, r.path, r.query)
		}
	}
	slices.Sort(paths)
	if want := []string{"/v1/credit_notes", "/v1/events", "/v1/invoices"}; !slices.Equal(paths, want) {
		t.Fatalf("an unchanged later poll requested %v, want %v", paths, want)
	}
	if n := rec.takeNames(); n != 0 {
		t.Fatalf("an unchanged later poll listed provider names %d times", n)
	}

	// A new invoice, an open one voided, a credit note on a paid one.
	open, paid := w.StripeInvoices("open"), w.StripeInvoices("paid")
	if len(open) == 0 || len(paid) == 0 {
		t.Fatalf("the world has %d open and %d paid invoices", len(open), len(paid))
	}
	now = now.Add(5 * time.Minute)
	at := now.Add(-2 * time.Minute)
	newInv, err := w.StripeNewInvoice(w.StripeInvoiceCustomer(paid[0]), "paid", at)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StripeSetInvoiceStatus(open[0], "void", at); err != nil {
		t.Fatal(err)
	}
	note, err := w.StripeNewCreditNote(paid[len(paid)-1], 4321, at)
	if err != nil {
		t.Fatal(err)
	}
	before := spy.last(sourceStripe).Revenue.Daily
	var resubscribed []string
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.take() {
		switch r.path {
		case "/v1/events":
			if r.objects != 4 { // invoice.created is not asked for
				t.Errorf("events: %d, want 4 (the new invoice finalized and paid, the other voided, the credit note)", r.objects)
			}
		case "/v1/invoices":
			if r.objects != 1 {
				t.Errorf("invoices created since: %d, want 1 (%s)", r.objects, newInv)
			}
		case "/v1/credit_notes":
			if r.objects != 1 {
				t.Errorf("credit notes created since: %d, want 1 (%s)", r.objects, note)
			}
		default:
			// The forecast reads again the subscriptions of the invoices that changed (a draft it
			// counted may have been finalized), and their metered usage so far; no other.
			if id, ok := strings.CutPrefix(r.path, "/v1/subscriptions/"); ok {
				resubscribed = append(resubscribed, id)
				continue
			}
			if strings.HasPrefix(r.path, "/v1/subscription_items/") && strings.HasSuffix(r.path, "/usage_record_summaries") {
				continue
			}
			t.Errorf("a later poll requested %s?%s", r.path, r.query)
		}
	}
	got := spy.last(sourceStripe)
	if slices.Equal(before, got.Revenue.Daily) {
		t.Fatal("the changes moved no revenue")
	}
	// A full read of Stripe alone over the same window: its revenue and live subscriptions.
	var full *engine.SourceFacts
	for _, r := range fullEng.FetchEach(ctx, func(n engine.SourceName) usage.Window {
		if n == sourceStripe {
			return got.Window
		}
		return usage.Window{}
	}, nil) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		full = r.Facts
	}
	if full == nil || full.Window != got.Window {
		t.Fatalf("full read of stripe: %+v, want the window %v", full, got.Window)
	}
	want := full.Revenue
	if !slices.Equal(got.Revenue.Daily, want.Daily) {
		t.Fatalf("the later poll's revenue differs from a full read: %d rows, want %d", len(got.Revenue.Daily), len(want.Daily))
	}
	// The subscriptions re-read are those of the new and the voided invoice.
	var wantSubs []string
	for _, inv := range []string{newInv, open[0]} {
		if id := w.StripeInvoiceSubscription(inv); id != "" && !slices.Contains(wantSubs, id) {
			wantSubs = append(wantSubs, id)
		}
	}
	slices.Sort(wantSubs)
	slices.Sort(resubscribed)
	if len(wantSubs) == 0 || !slices.Equal(resubscribed, wantSubs) {
		t.Fatalf("subscriptions read again: %v, want %v", resubscribed, wantSubs)
	}
	// The forecast's subscriptions equal a full read's but for when metered usage was read.
	subs := full.Subscriptions
	if subs == nil {
		t.Fatal("the full read has no subscriptions")
	}
	asOf := func(in []engine.Subscription) []engine.Subscription {
		out := make([]engine.Subscription, len(in))
		for i, s := range in {
			s.Items = slices.Clone(s.Items)
			for j := range s.Items {
				s.Items[j].UsageAsOf = 0
			}
			out[i] = s
		}
		return out
	}
	if g, w := asOf(got.Subscriptions.Subscriptions), asOf(subs.Subscriptions); !reflect.DeepEqual(g, w) {
		t.Fatalf("the forecast's subscriptions differ from a full read:\n got %+v\nwant %+v", g, w)
	}
}
