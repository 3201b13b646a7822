package exporter

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/gcpolicy"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// worldNow pins the simulated world's clock: mid-day, so today has an estimate.
var worldNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// simWorld runs the real clients and engine against the simulated world, in-process.
func simWorld(t testing.TB) (*simulator.World, *engine.Engine) {
	t.Helper()
	w := simulator.New(simulator.Config{Now: worldNow})
	eng, err := engine.New(simengine.Options(w, "http://sim.invalid", &http.Client{Transport: w.Transport()}))
	if err != nil {
		t.Fatal(err)
	}
	return w, eng
}

func newPoller(t testing.TB, eng Engine, stateFile string, mod ...func(*Options)) (*Poller, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	opts := Options{Engine: eng, StateFile: stateFile, Now: func() time.Time { return worldNow },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), keepSeries: true}
	for _, m := range mod {
		m(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

// netCost is increase(cost) - increase(adjustments) since the counters began, exactly.
func netCost(p *Poller) ledger.Money {
	var n ledger.Money
	for _, v := range p.state.totals.Cost {
		n += v
	}
	for _, v := range p.state.totals.Adjustments {
		n -= v
	}
	return n
}

// truth is what the world billed over the first fill's settled days plus the engine's estimates
// over the same window: today's usage (priced from the window's settled bills) and Anthropic's
// Priority Tier, which the cost report never bills.
func truth(t *testing.T, w *simulator.World, eng *engine.Engine) ledger.Money {
	t.Helper()
	today := eng.Today()
	var billed ledger.Money
	from := today
	for _, p := range usage.Providers {
		// The first fill reads the default backfill window, within what each provider serves.
		back := usage.Day(min(DefaultBackfillDays, p.RetentionDays()))
		from = min(from, today-back)
		for d := today - back; d < today; d++ {
			billed += w.BilledTotal(p, d)
		}
	}
	f, err := eng.Fetch(context.Background(), usage.Window{From: from, To: today + 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range eng.Compute(f).Rows {
		if r.Estimated {
			billed += r.Cost
		}
	}
	return billed
}

func TestPoll_FirstFillEqualsBilledCostAndRepollsAddNothing(t *testing.T) {
	w, eng := simWorld(t)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := truth(t, w, eng)
	if got := netCost(p); got != want {
		t.Fatalf("net cost after the first fill %s, billed %s", got, want)
	}
	before := p.state.totals
	costs := clone(before.Cost)
	for range 3 {
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := netCost(p); got != want {
		t.Fatalf("net cost after re-polls %s, want %s", got, want)
	}
	for k, v := range p.state.totals.Cost {
		if costs[k] != v {
			t.Fatalf("%v moved from %s to %s on an unchanged world", k, costs[k], v)
		}
	}
	for _, s := range p.collector.snap.Load().sources {
		if !s.Up || s.LastSuccess != float64(worldNow.Unix()) {
			t.Errorf("source %+v: want up with the last success at the clock's now", s)
		}
	}
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestPoll_RestartWithStateFileNeitherDecreasesNorDoubleCounts(t *testing.T) {
	w, eng := simWorld(t)
	file := filepath.Join(t.TempDir(), "state.json")
	first, _ := newPoller(t, eng, file)
	if err := first.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	exposed := first.state.totals
	second, logs := newPoller(t, eng, file)
	if !strings.Contains(logs.String(), "state loaded") {
		t.Fatalf("restart did not load the state:\n%s", logs)
	}
	// Before its first poll the restarted exporter already exposes the persisted totals.
	assertNotBelow(t, exposed, second.state.totals)
	if err := second.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNotBelow(t, exposed, second.state.totals)
	if got, want := netCost(second), truth(t, w, eng); got != want {
		t.Fatalf("net cost after restart %s, billed %s", got, want)
	}
}

func assertNotBelow(t *testing.T, before, after totals) {
	t.Helper()
	for k, v := range before.Cost {
		if after.Cost[k] < v {
			t.Errorf("cost %v decreased from %s to %s", k, v, after.Cost[k])
		}
	}
	for k, v := range before.Tokens {
		for i := range v {
			if after.Tokens[k][i] < v[i] {
				t.Errorf("tokens %v %s decreased", k, tokenTypes[i])
			}
		}
	}
	for k, v := range before.Revenue {
		if after.Revenue[k] < v {
			t.Errorf("revenue %v decreased from %s to %s", k, v, after.Revenue[k])
		}
	}
}

func TestPoll_SourceOutageThenRecoveryLosesAndDoublesNothing(t *testing.T) {
	w, eng := simWorld(t)
	file := filepath.Join(t.TempDir(), "state.json")
	w.SetFailing("anthropic", http.StatusForbidden)
	p, _ := newPoller(t, eng, file)
	for range 3 {
		err := p.Poll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "anthropic") {
			t.Fatalf("poll during the outage: %v, want the anthropic failure", err)
		}
		if up := p.health["anthropic"]; up.Up || up.LastSuccess != 0 {
			t.Fatalf("anthropic health %+v during the outage", up)
		}
		if !p.health["openai"].Up {
			t.Fatal("openai marked down by anthropic's outage")
		}
	}
	for k := range p.state.totals.Cost {
		if k.Provider == "anthropic" {
			t.Fatalf("anthropic cost counted during its outage: %v", k)
		}
	}
	// A restart in the middle of the outage changes nothing.
	p, _ = newPoller(t, eng, file)
	if err := p.Poll(context.Background()); err == nil {
		t.Fatal("anthropic still failing, want an error")
	}
	w.SetFailing("anthropic", 0)
	for range 2 {
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := netCost(p), truth(t, w, eng); got != want {
		t.Fatalf("net cost after recovery %s, billed %s", got, want)
	}
	var adj ledger.Money
	for _, v := range p.state.totals.Adjustments {
		adj += v
	}
	if adj != 0 {
		t.Fatalf("recovery produced %s of adjustments, want none", adj)
	}
}

func TestPoll_StripeOutageKeepsCustomers(t *testing.T) {
	w, eng := simWorld(t)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	costs := clone(p.state.totals.Cost)
	w.SetFailing("stripe", http.StatusUnauthorized)
	if err := p.Poll(context.Background()); err == nil {
		t.Fatal("want the stripe failure")
	}
	for k, v := range p.state.totals.Cost {
		if costs[k] != v {
			t.Fatalf("%v moved from %s to %s while stripe was down", k, costs[k], v)
		}
	}
	if len(p.state.totals.Adjustments) != 0 {
		t.Fatalf("adjustments during a stripe outage: %v", p.state.totals.Adjustments)
	}
}

func TestPoll_WaitsForStripeBeforeCountingSpend(t *testing.T) {
	w, eng := simWorld(t)
	w.SetFailing("stripe", http.StatusUnauthorized)
	p, logs := newPoller(t, eng, "")
	_ = p.Poll(context.Background())
	if len(p.state.totals.Cost) != 0 {
		t.Fatal("spend counted before stripe's customers were known")
	}
	if !strings.Contains(logs.String(), "stripe has not answered yet") {
		t.Fatalf("no log line explaining the wait:\n%s", logs)
	}
	w.SetFailing("stripe", 0)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := netCost(p), truth(t, w, eng); got != want {
		t.Fatalf("net cost %s, billed %s", got, want)
	}
}

func TestNew_MissingStateFileStartsFromZero(t *testing.T) {
	_, eng := simWorld(t)
	p, logs := newPoller(t, eng, filepath.Join(t.TempDir(), "absent.json"))
	if !strings.Contains(logs.String(), "no state file yet") || len(p.state.totals.Cost) != 0 {
		t.Fatalf("logs:\n%s", logs)
	}
}

func TestPoll_MaxCustomersFoldsTheRestIntoOther(t *testing.T) {
	w, eng := simWorld(t)
	p, _ := newPoller(t, eng, "", func(o *Options) { o.MaxCustomers = 5 })
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := p.collector.snap.Load()
	customers := map[string]bool{}
	var total ledger.Money
	for _, x := range s.of(p.collector.fams.cost) {
		customers[x.labels[2]] = true
		total += ledger.Money(x.n)
	}
	if !customers[engine.CustomerOther] || !customers[engine.CustomerUnattributed] || len(customers) != 7 {
		t.Fatalf("customer_id values %v, want 5 customers, other and unattributed", customers)
	}
	if n := len(s.of(p.collector.fams.info)); n != 5 {
		t.Fatalf("%d customer_info series, want 5", n)
	}
	// Folding moves spend between labels, never loses it.
	if got, want := netCost(p), truth(t, w, eng); got != want {
		t.Fatalf("net cost %s, billed %s", got, want)
	}
	if want := truth(t, w, eng); total != want {
		t.Fatalf("exposed cost sums to %s, billed %s", total, want)
	}
}

func TestPoll_DropModelLabelSumsOverModels(t *testing.T) {
	_, eng := simWorld(t)
	p, _ := newPoller(t, eng, "", func(o *Options) { o.DropModelLabel = true })
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, x := range p.collector.snap.Load().of(p.collector.fams.cost) {
		if len(x.labels) != 2 {
			t.Fatalf("labels %v, want provider and customer_id only", x.labels)
		}
	}
}

// fakeEngine is a scripted engine: the real engine's fan-out, plan of windows and clock (today)
// over scripted sources, each provider's batch from batches and Stripe's revenue from revenue
// (or stripe), computed by a one-row-per-usage-record Compute that bills each record's Billed
// amount to its Key as customer; a Key written "customer/feature" also names the source's feature.
type fakeEngine struct {
	mu      sync.Mutex
	today   usage.Day
	sources []string
	batches map[usage.Provider]func(w usage.Window) (*usage.Batch, error)
	block   chan struct{} // when set, a provider's fetch waits on it
	entered chan struct{}
	revenue *engine.RevenueFacts                             // served when sources lists stripe
	stripe  func(usage.Window) (*engine.RevenueFacts, error) // when set, serves Stripe instead
	compute func()                                           // when set, called as Compute starts

	once sync.Once
	eng  *engine.Engine
}

// engine is the real engine with every source listed configured, each replaced by its script.
func (f *fakeEngine) engine() *engine.Engine {
	f.once.Do(func() {
		opts := engine.Options{Now: func() time.Time { return f.Today().Time().Add(12 * time.Hour) }}
		for _, src := range f.sources {
			so := &engine.SourceOptions{Key: secret.String("sk-admin-test"), BaseURL: "http://127.0.0.1:1"}
			switch src {
			case "openai":
				opts.OpenAI = so
			case "anthropic":
				so.Key = secret.String("sk-ant-admin01-test")
				opts.Anthropic = so
			case "openrouter":
				opts.OpenRouter = so
			case sourceStripe:
				so.Key = secret.String("sk_test_fake")
				opts.Stripe = so
			}
		}
		eng, err := engine.New(opts)
		if err != nil {
			panic(err)
		}
		f.eng = eng.Wrap(func(s engine.Source) engine.Source { return fakeSource{s, f} })
	})
	return f.eng
}

func (f *fakeEngine) Names() []engine.SourceName { return f.engine().Names() }
func (f *fakeEngine) Wrap(decorate func(engine.Source) engine.Source) *engine.Engine {
	return f.engine().Wrap(decorate)
}

func (f *fakeEngine) Today() usage.Day {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.today
}

// fakeSource serves a source of the engine from f's scripts.
type fakeSource struct {
	engine.Source
	f *fakeEngine
}

func (s fakeSource) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	f, n := s.f, s.Name()
	out := &engine.SourceFacts{Name: n, Window: w}
	if n == sourceStripe {
		var err error
		switch {
		case f.stripe != nil:
			out.Revenue, err = f.stripe(w)
		case f.revenue == nil:
			err = errors.New("stripe is not configured")
		default:
			out.Revenue = f.revenue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	if f.block != nil {
		f.entered <- struct{}{}
		<-f.block
	}
	b, err := f.batches[usage.Provider(n)](w)
	if err != nil {
		return nil, err
	}
	out.Batch = b
	return out, nil
}

func (f *fakeEngine) Compute(facts *engine.Facts) *engine.Result {
	if f.compute != nil {
		f.compute()
	}
	res := &engine.Result{}
	for _, b := range facts.Batches {
		for _, r := range b.Usage {
			if facts.Window.Contains(r.Day) {
				customer, feature, _ := strings.Cut(r.Key.String(), "/")
				row := engine.CostRow{Day: r.Day, Provider: r.Provider, Model: r.Model,
					Customer: usage.Intern(customer), Feature: usage.Intern(feature), Cost: r.Billed, Tokens: r.Tokens, Requests: r.Requests}
				if !r.HasBilled {
					res.Unpriced = append(res.Unpriced, r.Tokens)
					row.Unpriced = int32(len(res.Unpriced))
				}
				res.Rows = append(res.Rows, row)
			}
		}
	}
	return res
}

// script serves per-day amounts for one provider that a test changes between polls.
type script struct {
	mu   sync.Mutex
	cost map[usage.Day]ledger.Money
}

func (s *script) batch(w usage.Window) (*usage.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &usage.Batch{Provider: usage.OpenAI, Window: w}
	for d, c := range s.cost {
		if w.Contains(d) {
			b.Usage = append(b.Usage, usage.UsageRecord{Provider: usage.OpenAI.ID(), Day: d, Key: usage.Intern("cus_A"), Model: usage.Intern("gpt-4o"),
				Billed: c, HasBilled: true, Requests: 1, Tokens: usage.Tokens{Input: int64(c / ledger.Money(1000))}})
		}
	}
	return b, nil
}

func (s *script) set(d usage.Day, c ledger.Money) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cost[d] = c
}

func usd(t *testing.T, s string) ledger.Money {
	t.Helper()
	m, err := ledger.ParseDollars(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// With RestGCPercent set, a poll runs from the runtime's default GC target, following the live
// heap as gcpolicy does (to gcpolicy.SmallPercent for a small heap, unless GOGC or GOMEMLIMIT is
// set, which turns the following off), and leaves the rest target behind it;
// without, the poller never touches the collector.
func TestPoll_RestGCPercentHoldsBetweenPolls(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	defer debug.SetGCPercent(gcPercent())
	follows := os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
	defer func(h uint64) { gcpolicy.SmallHeap = h }(gcpolicy.SmallHeap)
	gcpolicy.SmallHeap = 1 << 40 // whatever the test binary holds, it is a small heap here
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	const today = usage.Day(20000)
	sc := &script{cost: map[usage.Day]ledger.Money{today: usd(t, "1.00")}}
	var during, want []int
	expect := func() int { // what the poll's fetch should find: gcpolicy following the live heap
		if !follows {
			return 100
		}
		metrics.Read(live)
		return gcpolicy.Percent(live[0].Value.Uint64(), 100)
	}
	// Sampled as the poll computes: outside the engine's fetch, whose own scope follows the heap.
	eng := &fakeEngine{today: today, sources: []string{"openai"},
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){usage.OpenAI: sc.batch},
		compute: func() {
			runtime.GC()
			// The scope's watcher sets the target within a few of its 10 ms ticks.
			for deadline := time.Now().Add(2 * time.Second); gcPercent() != expect() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			during, want = append(during, gcPercent()), append(want, expect())
		}}
	p, _ := newPoller(t, eng, "", func(o *Options) { o.RestGCPercent = 30 })
	debug.SetGCPercent(70)
	for range 2 {
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := gcPercent(); got != 30 {
			t.Fatalf("GC percent after a poll %d, want the rest target 30", got)
		}
	}
	if !slices.Equal(during, want) {
		t.Fatalf("GC percent during the polls %v, want %v (gcpolicy.Percent of the live heap, from 100)", during, want)
	}
	untouched, _ := newPoller(t, eng, "")
	debug.SetGCPercent(70)
	expect = func() int { return 70 }
	if err := untouched.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := gcPercent(); got != 70 || during[2] != 70 {
		t.Fatalf("without RestGCPercent: GC percent %d during the poll and %d after, want 70 (untouched)", during[2], got)
	}
}

func TestPoll_RevisionsAddTheDifferenceAndFallsGoToAdjustments(t *testing.T) {
	const today = usage.Day(20000)
	sc := &script{cost: map[usage.Day]ledger.Money{today - 1: usd(t, "10.00"), today: usd(t, "2.50")}}
	eng := &fakeEngine{today: today, sources: []string{"openai"},
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){usage.OpenAI: sc.batch}}
	p, _ := newPoller(t, eng, filepath.Join(t.TempDir(), "state.json"))
	key := seriesKey{Provider: "openai", Model: "gpt-4o", Customer: "cus_A"}
	adj := adjustmentKey{"openai", "cus_A"}
	steps := []struct {
		name    string
		change  func()
		cost    string
		adjust  string
		tokensI int64
	}{
		{"first fill", func() {}, "12.50", "0", 12_500_000},
		{"today accrues", func() { sc.set(today, usd(t, "4.00")) }, "14.00", "0", 14_000_000},
		{"yesterday revised up", func() { sc.set(today-1, usd(t, "10.75")) }, "14.75", "0", 14_750_000},
		{"yesterday revised down", func() { sc.set(today-1, usd(t, "9.00")) }, "14.75", "1.75", 14_750_000},
		{"back up: only the rise counts", func() { sc.set(today-1, usd(t, "9.50")) }, "15.25", "1.75", 14_750_000},
		{"bucket vanishes", func() { sc.set(today, 0); delete(sc.cost, today) }, "15.25", "5.75", 14_750_000},
	}
	for _, st := range steps {
		st.change()
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := p.state.totals
		if got.Cost[key] != usd(t, st.cost) || got.Adjustments[adj] != usd(t, st.adjust) || got.Tokens[key][0] != st.tokensI {
			t.Fatalf("%s: cost %s adjustments %s input tokens %d; want %s, %s, %d", st.name,
				got.Cost[key], got.Adjustments[adj], got.Tokens[key][0], st.cost, st.adjust, st.tokensI)
		}
		// The invariant: net cost is what the provider bills now.
		var billed ledger.Money
		for _, c := range sc.cost {
			billed += c
		}
		if n := netCost(p); n != billed {
			t.Fatalf("%s: net cost %s, billed %s", st.name, n, billed)
		}
	}
}

func TestPoll_DaysLeavingTheTrailingWindowFreeze(t *testing.T) {
	const today = usage.Day(20000)
	sc := &script{cost: map[usage.Day]ledger.Money{}}
	for d := today - 31; d <= today; d++ {
		sc.cost[d] = usd(t, "1.00")
	}
	eng := &fakeEngine{today: today, sources: []string{"openai"},
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){usage.OpenAI: sc.batch}}
	p, _ := newPoller(t, eng, "", func(o *Options) { o.TrailingDays = 2 })
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netCost(p); got != usd(t, "32.00") {
		t.Fatalf("first fill %s, want 32.00", got)
	}
	if since := p.state.Since["openai"]; since != today-2 {
		t.Fatalf("since %s, want %s", since, today-2)
	}
	// A day outside the trailing window is final: a later change there is not read.
	sc.set(today-5, usd(t, "100.00"))
	sc.set(today-1, usd(t, "2.00"))
	eng.mu.Lock()
	eng.today = today + 1
	eng.mu.Unlock()
	sc.set(today+1, usd(t, "0.50"))
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netCost(p); got != usd(t, "33.50") {
		t.Fatalf("after a day %s, want 33.50 (yesterday's +1.00, today's 0.50)", got)
	}
	for k := range p.state.cost {
		if k.Day < today-1 && k.Day < usage.DayOf(today.Time().AddDate(0, 0, 1-today.Time().Day())) {
			t.Fatalf("bucket %v outside the window and the month was kept", k)
		}
	}
}

func TestPoll_SkipsAnOverlappingCycle(t *testing.T) {
	sc := &script{cost: map[usage.Day]ledger.Money{100: usd(t, "1.00")}}
	eng := &fakeEngine{today: 100, sources: []string{"openai"}, block: make(chan struct{}), entered: make(chan struct{}),
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){usage.OpenAI: sc.batch}}
	p, logs := newPoller(t, eng, "")
	done := make(chan error)
	go func() { done <- p.Poll(context.Background()) }()
	<-eng.entered
	if err := p.Poll(context.Background()); !errors.Is(err, ErrPollSkipped) {
		t.Fatalf("overlapping poll: %v, want ErrPollSkipped", err)
	}
	close(eng.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "poll skipped") {
		t.Fatalf("no log of the skip:\n%s", logs)
	}
	if got := netCost(p); got != usd(t, "1.00") {
		t.Fatalf("net cost %s, want 1.00 counted once", got)
	}
}

func newTestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// After a poll each source's last good facts keep only the days a later poll reads (its Since):
// the first fill's whole window is not held until the next poll. A source failing at that next
// poll still serves them, and the counters neither move nor lose anything.
func TestPoll_LastGoodKeepsTheTrailingDaysAndAnOutageMovesNothing(t *testing.T) {
	w, eng := simWorld(t)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := netCost(p)
	if want := truth(t, w, eng); before != want {
		t.Fatalf("net cost %s after the first fill, billed %s", before, want)
	}
	trimmed := 0
	for _, l := range p.stores {
		f := l.last
		if f == nil || f.Batch == nil {
			continue
		}
		since, ok := p.state.Since[string(f.Name)]
		if !ok {
			t.Fatalf("%s: no Since after the first fill", f.Name)
		}
		if f.Window.From != since || f.Batch.Window.From != since {
			t.Fatalf("%s: last good window %v (batch %v), want from %s", f.Name, f.Window, f.Batch.Window, since)
		}
		for _, r := range f.Batch.Usage {
			if r.Day < since {
				t.Fatalf("%s: usage of %s kept, before %s", f.Name, r.Day, since)
			}
		}
		for _, r := range f.Batch.Costs {
			if r.Day < since {
				t.Fatalf("%s: cost of %s kept, before %s", f.Name, r.Day, since)
			}
		}
		trimmed++
	}
	if trimmed < 3 {
		t.Fatalf("%d providers' last good facts checked, want every provider's", trimmed)
	}
	for _, src := range []string{"openai", "anthropic", "openrouter"} {
		w.SetFailing(src, http.StatusForbidden)
	}
	if err := p.Poll(context.Background()); err == nil {
		t.Fatal("every provider failing, want an error")
	}
	if got := netCost(p); got != before {
		t.Fatalf("net cost %s after an outage on the trimmed facts, was %s", got, before)
	}
}

// A scrape at rest hands the memory it left back (releaseDelay after it); while a poll runs,
// nothing is released under it.
func TestPoll_AScrapeAtRestReleasesItsMemory(t *testing.T) {
	_, eng := simWorld(t) // releaseDelay is 10 ms in these tests (TestMain)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	forced := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	// The poll's own release, refreshes included (gcpolicy.Release): wait until it is done.
	for last := forced(); ; {
		time.Sleep(5 * releaseDelay)
		now := forced()
		if now == last {
			break
		}
		last = now
	}
	p.polling.Store(true)
	before := forced()
	p.releaseAtRest()
	time.Sleep(5 * releaseDelay)
	if got := forced(); got != before {
		t.Fatalf("forced collections %d -> %d while a poll runs", before, got)
	}
	p.polling.Store(false)
	e := NewExposition(prometheus.NewRegistry(), p.Collector(), nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for forced() == before {
		if time.Now().After(deadline) {
			t.Fatal("no release after a scrape at rest")
		}
		time.Sleep(releaseDelay)
	}
}
