package exporter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// feed is one source of the outage tests: per-day amounts the test revises, an on/off switch, and
// the ledger of every value it served, from which the truth of each counter follows.
type feed struct {
	mu       sync.Mutex
	provider usage.Provider // "" for Stripe
	amount   map[usage.Day]ledger.Money
	down     bool

	last   map[usage.Day]ledger.Money // the value of each day last served
	served map[usage.Day]ledger.Money // the highest value of each day served
	rises  ledger.Money               // what the cost counter must hold: every served rise
	falls  ledger.Money               // what the adjustments counter must hold: every served fall
	calls  int
}

func newFeed(p usage.Provider) *feed {
	return &feed{provider: p, amount: map[usage.Day]ledger.Money{}, last: map[usage.Day]ledger.Money{}, served: map[usage.Day]ledger.Money{}}
}

var errDown = errors.New("503 Service Unavailable (injected)")

// serve returns the days of w, or errDown, and records what a correct exporter has now counted.
func (f *feed) serve(w usage.Window, upTo usage.Day) (map[usage.Day]ledger.Money, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return nil, errDown
	}
	out := map[usage.Day]ledger.Money{}
	for d, a := range f.amount {
		if !w.Contains(d) || d > upTo {
			continue
		}
		out[d] = a
		switch delta := a - f.last[d]; {
		case delta > 0:
			f.rises += delta
		case delta < 0:
			f.falls -= delta
		}
		f.last[d] = a
		f.served[d] = max(f.served[d], a)
	}
	return out, nil
}

func (f *feed) set(d usage.Day, a ledger.Money) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.amount[d] = a
}

func (f *feed) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// current is what the source reports now over the days it has served: net cost's truth.
func (f *feed) current() ledger.Money {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n ledger.Money
	for d := range f.last {
		n += f.amount[d]
	}
	return n
}

func (f *feed) highest() (sum ledger.Money, days int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.served {
		sum += a
	}
	return sum, len(f.served)
}

// outageEngine serves one feed per provider and one for Stripe's revenue (customer cus_A).
type outageEngine struct {
	fakeEngine
	feeds map[string]*feed
}

func newOutageEngine(today usage.Day, sources ...string) *outageEngine {
	e := &outageEngine{fakeEngine: fakeEngine{today: today, sources: sources, batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){}},
		feeds: map[string]*feed{}}
	e.stripe = e.stripeRevenue
	for _, src := range sources {
		if src == sourceStripe {
			e.feeds[src] = newFeed("")
			continue
		}
		p := usage.Provider(src)
		f := newFeed(p)
		e.feeds[src] = f
		e.batches[p] = func(w usage.Window) (*usage.Batch, error) {
			days, err := f.serve(w, e.Today())
			if err != nil {
				return nil, err
			}
			b := &usage.Batch{Provider: p, Window: w}
			for d, a := range days {
				b.Usage = append(b.Usage, usage.UsageRecord{Provider: p.ID(), Day: d, Key: usage.Intern("cus_A"), Model: usage.Intern("m"),
					Billed: a, HasBilled: true, Requests: 1, Tokens: usage.Tokens{Input: int64(a / 1000)}})
			}
			return b, nil
		}
	}
	return e
}

// stripeRevenue serves Stripe from its feed.
func (e *outageEngine) stripeRevenue(w usage.Window) (*engine.RevenueFacts, error) {
	days, err := e.feeds[sourceStripe].serve(w, e.Today())
	if err != nil {
		return nil, err
	}
	rv := &engine.RevenueFacts{Customers: []engine.CustomerInfo{{ID: "cus_A", Name: "A", Plan: "pro"}}}
	for d, a := range days {
		rv.Daily = append(rv.Daily, engine.DailyRevenue{Customer: "cus_A", Day: d, Amount: a})
	}
	return rv, nil
}

func (e *outageEngine) advance() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.today++
}

// sums are one source's counters in the state.
type sums struct {
	cost, adj       ledger.Money
	requests, input int64
}

func counted(p *Poller, src string) sums {
	var s sums
	for k, v := range p.state.totals.Cost {
		if k.Provider == src {
			s.cost += v
		}
	}
	for k, v := range p.state.totals.Adjustments {
		if k.Provider == src {
			s.adj += v
		}
	}
	for k, v := range p.state.totals.Requests {
		if k.Provider == src {
			s.requests += v
		}
	}
	for k, v := range p.state.totals.Tokens {
		if k.Provider == src {
			s.input += v[0]
		}
	}
	return s
}

// assertTruth checks every counter of every source against what its feed served: net cost equals
// the source's current values and each day counts one request. exact: cost and adjustments are
// the served rises and falls, tokens and revenue each day's highest served value. Without exact
// (a served value may be superseded before the exporter could count it, while Stripe has not
// answered since a restart), those are bounded instead: never above what was served (nothing
// doubled), never below the current values (nothing lost).
func assertTruth(t *testing.T, p *Poller, e *outageEngine, exact bool) {
	t.Helper()
	for src, f := range e.feeds {
		highest, days := f.highest()
		current := f.current()
		if src == sourceStripe {
			got := p.state.totals.Revenue["cus_A"]
			if exact && got != highest || got > highest || got < current {
				t.Errorf("stripe: revenue counter %s, want %s (each day's highest value once; current %s)", got, highest, current)
			}
			continue
		}
		c := counted(p, src)
		if c.cost-c.adj != current {
			t.Errorf("%s: net cost %s, the source bills %s now", src, c.cost-c.adj, current)
		}
		if exact && (c.cost != f.rises || c.adj != f.falls) || c.cost > f.rises || c.adj > f.falls {
			t.Errorf("%s: cost %s adjustments %s, want %s and %s", src, c.cost, c.adj, f.rises, f.falls)
		}
		if c.requests != int64(days) {
			t.Errorf("%s: requests %d, want %d (one per day, each day once)", src, c.requests, days)
		}
		var maxInput, curInput int64
		f.mu.Lock()
		for d, a := range f.served {
			maxInput += int64(a / 1000)
			curInput += int64(f.amount[d] / 1000)
		}
		f.mu.Unlock()
		if exact && c.input != maxInput || c.input > maxInput || c.input < curInput {
			t.Errorf("%s: input tokens %d, want %d (at least %d)", src, c.input, maxInput, curInput)
		}
	}
}

// A source down for several polls, across a restart and a day change, with a downward revision
// landing during the outage, then back: every counter equals the truth, nothing doubled or lost.
// Day 20000 is 2024-10-04, so the first fill's September days leave the state at once: the
// replayed stale batch used to count them again on every failed poll.
func TestPoll_OutageAcrossRestartAndRevisionCountsEachDayOnce(t *testing.T) {
	const today = usage.Day(20000)
	e := newOutageEngine(today, "openai", "openrouter", sourceStripe)
	for d := today - 29; d <= today+3; d++ {
		e.feeds["openai"].set(d, usd(t, "3.00"))
		e.feeds["openrouter"].set(d, usd(t, "34.405")) // ≈ $1,032.15 over the 30 days
		e.feeds[sourceStripe].set(d, usd(t, "10.00"))
	}
	file := filepath.Join(t.TempDir(), "state.json")
	p, _ := newPoller(t, e, file)
	poll := func(wantErr bool) {
		t.Helper()
		err := p.Poll(context.Background())
		if (err != nil) != wantErr {
			t.Fatalf("poll: %v, want error %v", err, wantErr)
		}
		if !wantErr {
			return
		}
		if !errors.Is(err, errDown) || p.health["openrouter"].Up || !p.health["openai"].Up {
			t.Fatalf("poll during the outage: %v, health %+v %+v", err, p.health["openrouter"], p.health["openai"])
		}
	}
	poll(false)
	assertTruth(t, p, e, true)
	before := p.state.totals.Cost[seriesKey{"openrouter", "m", "cus_A", ""}]

	e.feeds["openrouter"].setDown(true)
	e.feeds[sourceStripe].setDown(true)
	for range 3 {
		poll(true)
	}
	if got := p.state.totals.Cost[seriesKey{"openrouter", "m", "cus_A", ""}]; got != before {
		t.Fatalf("openrouter cost moved from %s to %s while it was down", before, got)
	}
	// The provider revises yesterday down during the outage; a day passes; the exporter restarts.
	e.feeds["openrouter"].set(today-1, usd(t, "20.00"))
	e.advance()
	poll(true)
	p, _ = newPoller(t, e, file)
	poll(true)
	e.advance()
	e.feeds["openrouter"].set(today+1, usd(t, "1.00"))
	poll(true)

	e.feeds["openrouter"].setDown(false)
	e.feeds[sourceStripe].setDown(false)
	poll(false)
	poll(false)
	assertTruth(t, p, e, true)
	if got := e.feeds["openrouter"].falls; got == 0 {
		t.Fatal("the downward revision was never served: the test proves nothing")
	}
}

// The property over generated histories: whatever the order of polls, outages (Stripe's too),
// restarts, day changes and revisions inside the trailing window, once every source answers again
// each counter equals the truth.
func TestPoll_CountersEqualTheTruthOverRandomHistories(t *testing.T) {
	const start = usage.Day(20000)
	sources := []string{"openai", "anthropic", "openrouter", sourceStripe}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 10))
			e := newOutageEngine(start, sources...)
			for _, f := range e.feeds {
				for d := start - 40; d <= start+30; d++ {
					f.set(d, ledger.Money(r.Int64N(5_000_000_000)))
				}
			}
			file := filepath.Join(t.TempDir(), "state.json")
			p, _ := newPoller(t, e, file, func(o *Options) { o.TrailingDays = 1 + r.IntN(4) })
			trailing := p.opts.TrailingDays
			// The exporter has run before: a first fill while Stripe has never answered counts the
			// backfill window of the day Stripe first answers, not of the day it started.
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			for range 40 {
				switch op := r.IntN(10); {
				case op < 4:
					_ = p.Poll(context.Background())
				case op < 6:
					f := e.feeds[sources[r.IntN(len(sources))]]
					f.setDown(!f.down)
				case op < 7:
					e.advance()
				case op < 9:
					// Providers revise only the trailing days; a revision may go either way.
					d := e.Today() - usage.Day(r.IntN(trailing))
					e.feeds[sources[r.IntN(len(sources))]].set(d, ledger.Money(r.Int64N(5_000_000_000)))
				default:
					if err := p.Flush(); err != nil {
						t.Fatal(err)
					}
					p, _ = newPoller(t, e, file, func(o *Options) { o.TrailingDays = trailing })
				}
			}
			for _, src := range slices.Sorted(maps.Keys(e.feeds)) {
				e.feeds[src].setDown(false)
			}
			for range 2 {
				if err := p.Poll(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			assertTruth(t, p, e, false)
		})
	}
}
