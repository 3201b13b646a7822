package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
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

// stripePaths records the Stripe requests made (path?query).
type stripePaths struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (s *stripePaths) RoundTrip(r *http.Request) (*http.Response, error) {
	if p, ok := strings.CutPrefix(r.URL.Path, "/stripe"); ok {
		s.mu.Lock()
		s.reqs = append(s.reqs, p+"?"+r.URL.RawQuery)
		s.mu.Unlock()
	}
	return s.next.RoundTrip(r)
}

func (s *stripePaths) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

// TestIncrementalRevenue_EqualsFullRead changes the world between polls (a new invoice, an open
// invoice voided, a credit note issued, a customer renamed, its plan changed, an uncollectible
// invoice paid a day later) and checks that after each poll the incremental engine's revenue facts are exactly a
// full re-read's: the same customers with the same names and plans, the same revenue per
// customer and day.
func TestIncrementalRevenue_EqualsFullRead(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	w := simulator.New(simulator.Config{Now: start})
	now := start
	clock := func() time.Time { return now }
	rec := &stripePaths{next: w.Transport()}
	opts := simengine.Options(w, "http://sim.invalid", &http.Client{Transport: rec})
	opts.Now = clock
	full, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.StripeRefresh = time.Hour
	inc, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open, unpaid, paid := w.StripeInvoices("open"), w.StripeInvoices("uncollectible"), w.StripeInvoices("paid")
	if len(open) == 0 || len(unpaid) == 0 || len(paid) < 2 {
		t.Fatalf("the world has %d open, %d uncollectible and %d paid invoices; the test needs 1, 1 and 2", len(open), len(unpaid), len(paid))
	}
	first := w.StripeInvoiceCustomer(paid[0])

	steps := []struct {
		name    string
		change  func(at time.Time) error
		revenue bool // the change moves revenue
	}{
		{"nothing changed", func(time.Time) error { return nil }, false},
		{"new invoice", func(at time.Time) error { _, err := w.StripeNewInvoice(first, "paid", at); return err }, true},
		{"invoice voided", func(at time.Time) error { return w.StripeSetInvoiceStatus(open[0], "void", at) }, true},
		{"credit note", func(at time.Time) error { _, err := w.StripeNewCreditNote(paid[1], 1234, at); return err }, true},
		{"customer renamed", func(at time.Time) error { return w.StripeRenameCustomer(first, "Renamed & Co", at) }, false},
		{"plan changed", func(at time.Time) error { _, err := w.StripeChangePlan(first, at); return err }, false},
		{"uncollectible paid, next day", func(at time.Time) error { return w.StripeSetInvoiceStatus(unpaid[0], "paid", at) }, true},
	}
	var before []engine.DailyRevenue
	for i, step := range steps {
		if i > 0 {
			now = now.Add(5 * time.Minute)
			if i == len(steps)-1 {
				now = now.Add(24 * time.Hour) // the window moves on; the slow set is due
			}
			if err := step.change(now.Add(-time.Minute)); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		today := usage.DayOf(now)
		win := usage.Window{From: today - 31, To: today.NextMonthStart()} // as the exporter asks
		got, err := stripeRevenue(ctx, inc, win)
		if err != nil {
			t.Fatalf("%s: incremental: %v", step.name, err)
		}
		reqs := rec.take()
		want, err := stripeRevenue(ctx, full, win)
		if err != nil {
			t.Fatalf("%s: full: %v", step.name, err)
		}
		rec.take()
		if !slices.EqualFunc(got.Customers, want.Customers, func(a, b engine.CustomerInfo) bool {
			return a.ID == b.ID && a.Name == b.Name && a.Plan == b.Plan && a.Email == b.Email && slices.Equal(a.Sources, b.Sources)
		}) {
			t.Fatalf("%s: customers differ:\n got %v\nwant %v", step.name, got.Customers, want.Customers)
		}
		if !slices.Equal(got.Daily, want.Daily) {
			t.Fatalf("%s: revenue differs: %d rows, want %d", step.name, len(got.Daily), len(want.Daily))
		}
		if moved := !slices.Equal(before, got.Daily); i > 0 && i < len(steps)-1 && moved != step.revenue {
			t.Errorf("%s: revenue moved %v, want %v", step.name, moved, step.revenue)
		}
		before = got.Daily
		if i > 0 && i < len(steps)-1 {
			for _, r := range reqs {
				if p, _, _ := strings.Cut(r, "?"); p == "/v1/customers" || p == "/v1/subscriptions" || p == "/v1/products" {
					t.Errorf("%s: a later poll re-read %s", step.name, r)
				}
			}
		}
	}
	// The rename reached the revenue facts.
	rv, _ := stripeRevenue(ctx, inc, usage.LastCompleteDays(now, 31))
	if i := slices.IndexFunc(rv.Customers, func(c engine.CustomerInfo) bool { return c.ID == first }); i < 0 || rv.Customers[i].Name != "Renamed & Co" {
		t.Fatalf("rename not seen: %v", rv.Customers)
	}
}

// TestIncrementalRevenue_RandomChanges is the same property over generated histories: for
// several seeds, a random sequence of Stripe changes (invoices created as drafts, open or paid,
// drafts finalized, open invoices paid, voided or marked uncollectible, uncollectible ones paid or
// voided, credit notes, renames) at random intervals from a minute to two days, and after every
// poll the incremental revenue facts equal a full re-read's.
func TestIncrementalRevenue_RandomChanges(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel() // each seed has its own world, clock and engines
			rng := rand.New(rand.NewPCG(seed, 12))
			start := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
			w := simulator.New(simulator.Config{Now: start})
			now := start
			opts := simengine.Options(w, "http://sim.invalid", &http.Client{Transport: w.Transport()})
			opts.Now = func() time.Time { return now }
			full, err := engine.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.StripeRefresh = 3 * time.Hour
			inc, err := engine.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			pick := func(ids []string) string {
				if len(ids) == 0 {
					return ""
				}
				return ids[rng.IntN(len(ids))]
			}
			var customers []string
			for _, id := range w.StripeInvoices("paid") {
				if c := w.StripeInvoiceCustomer(id); !slices.Contains(customers, c) {
					customers = append(customers, c)
				}
			}
			var done []string
			for poll := range 12 {
				if poll > 0 {
					switch rng.IntN(4) {
					case 0:
						now = now.Add(time.Duration(1+rng.IntN(60)) * time.Minute)
					case 1, 2:
						now = now.Add(time.Duration(1+rng.IntN(6)) * time.Hour)
					default:
						now = now.Add(time.Duration(1+rng.IntN(2)) * 24 * time.Hour)
					}
					for range rng.IntN(4) {
						at := now.Add(-time.Duration(1+rng.IntN(50)) * time.Second)
						var err error
						var what string
						switch rng.IntN(8) {
						case 0:
							status := []string{"draft", "open", "paid"}[rng.IntN(3)]
							what = "new " + status + " invoice"
							_, err = w.StripeNewInvoice(pick(customers), status, at)
						case 1:
							if id := pick(w.StripeInvoices("draft")); id != "" {
								what, err = "finalize "+id, w.StripeSetInvoiceStatus(id, "open", at)
							}
						case 2:
							if id := pick(w.StripeInvoices("open")); id != "" {
								to := []string{"paid", "void", "uncollectible"}[rng.IntN(3)]
								what, err = to+" "+id, w.StripeSetInvoiceStatus(id, to, at)
							}
						case 3:
							if id := pick(w.StripeInvoices("uncollectible")); id != "" {
								to := []string{"paid", "void"}[rng.IntN(2)]
								what, err = to+" "+id, w.StripeSetInvoiceStatus(id, to, at)
							}
						case 4, 5:
							what = "credit note"
							_, err = w.StripeNewCreditNote(pick(append(w.StripeInvoices("paid"), w.StripeInvoices("open")...)), int64(100+rng.IntN(5000)), at)
						case 6:
							c := pick(customers)
							what, err = "rename "+c, w.StripeRenameCustomer(c, fmt.Sprintf("Customer %d", rng.IntN(1000)), at)
						default:
							c := pick(customers)
							what = "plan of " + c
							_, err = w.StripeChangePlan(c, at)
						}
						if err != nil {
							t.Fatalf("poll %d: %s: %v", poll, what, err)
						}
						if what != "" {
							done = append(done, what)
						}
					}
				}
				today := usage.DayOf(now)
				win := usage.Window{From: today - 3, To: today.NextMonthStart()}
				got, err := stripeRevenue(ctx, inc, win)
				if err != nil {
					t.Fatalf("poll %d: incremental: %v", poll, err)
				}
				want, err := stripeRevenue(ctx, full, win)
				if err != nil {
					t.Fatalf("poll %d: full: %v", poll, err)
				}
				if !slices.Equal(got.Daily, want.Daily) || !slices.EqualFunc(got.Customers, want.Customers, func(a, b engine.CustomerInfo) bool {
					return a.ID == b.ID && a.Name == b.Name && a.Plan == b.Plan
				}) {
					for i := range min(len(got.Customers), len(want.Customers)) {
						if g, w := got.Customers[i], want.Customers[i]; g.ID != w.ID || g.Name != w.Name || g.Plan != w.Plan {
							t.Errorf("customer %s %q plan %q, a full read: %s %q plan %q", g.ID, g.Name, g.Plan, w.ID, w.Name, w.Plan)
						}
					}
					gm := map[string]int64{}
					for _, d := range got.Daily {
						gm[d.Customer+" "+d.Day.String()] += int64(d.Amount)
					}
					for _, d := range want.Daily {
						gm[d.Customer+" "+d.Day.String()] -= int64(d.Amount)
					}
					n := 0
					for k, v := range gm {
						if v != 0 && n < 5 {
							n++
							t.Logf("%s: incremental - full = %d", k, v)
						}
					}
					t.Fatalf("poll %d after %v: incremental revenue facts differ from a full read (revenue equal: %v)", poll, done, slices.Equal(got.Daily, want.Daily))
				}
			}
			if len(done) < 5 {
				t.Fatalf("only %d changes were made: %v", len(done), done)
			}
		})
	}
}

// stripeRevenue reads Stripe alone through the engine's fan-out, over the window it plans for w.
func stripeRevenue(ctx context.Context, e *engine.Engine, w usage.Window) (*engine.RevenueFacts, error) {
	results := e.FetchEach(ctx, func(n engine.SourceName) usage.Window {
		if n == engine.SourceStripe {
			return w
		}
		return usage.Window{}
	}, nil)
	if len(results) != 1 {
		return nil, errors.New("stripe is not configured")
	}
	if r := results[0]; r.Err != nil {
		return nil, r.Err
	}
	return results[0].Facts.Revenue, nil
}
