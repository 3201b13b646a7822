package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/usage"
)

// recorder is a decorator that records the window each source was asked for, and can fail a
// source while still serving what it read before (the exporter's last-good store does that).
type recorder struct {
	mu     sync.Mutex
	asked  map[engine.SourceName][]usage.Window
	fail   map[engine.SourceName]bool
	served map[engine.SourceName]*engine.SourceFacts
}

type recorded struct {
	engine.Source
	r *recorder
}

func (d recorded) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	d.r.mu.Lock()
	d.r.asked[d.Name()] = append(d.r.asked[d.Name()], w)
	fail, last := d.r.fail[d.Name()], d.r.served[d.Name()]
	d.r.mu.Unlock()
	if fail {
		return last, errors.New("outage")
	}
	f, err := d.Source.Fetch(ctx, w)
	if err == nil {
		d.r.mu.Lock()
		d.r.served[d.Name()] = f
		d.r.mu.Unlock()
	}
	return f, err
}

func newRecorder() *recorder {
	return &recorder{asked: map[engine.SourceName][]usage.Window{}, fail: map[engine.SourceName]bool{}, served: map[engine.SourceName]*engine.SourceFacts{}}
}

func (r *recorder) wrap(s engine.Source) engine.Source { return recorded{s, r} }

func TestWrap_EveryFetchGoesThroughTheDecoratorOverThePlannedWindow(t *testing.T) {
	_, eng := demoWorld(t)
	rec := newRecorder()
	wrapped := eng.Wrap(rec.wrap)
	today := eng.Today()
	asked := usage.Window{From: today - 400, To: today + 10}
	if _, err := wrapped.Fetch(context.Background(), asked, nil); err != nil {
		t.Fatal(err)
	}
	if got := wrapped.Names(); len(got) != 4 || got[0] != engine.SourceOpenAI || got[3] != engine.SourceStripe {
		t.Fatalf("names %v: want the three providers, then stripe", got)
	}
	for _, n := range wrapped.Names() {
		ws := rec.asked[n]
		if len(ws) != 1 {
			t.Fatalf("%s fetched %d times through the decorator, want once", n, len(ws))
		}
		want := eng.Plan(n, asked)
		if ws[0] != want {
			t.Errorf("%s asked for %v, want the plan %v", n, ws[0], want)
		}
		if p, ok := n.Provider(); ok && want != p.Served(today) {
			t.Errorf("%s: plan %v, want all it serves, %v", n, want, p.Served(today))
		}
	}
	if got := eng.Plan(engine.SourceStripe, usage.Window{From: today - 3, To: today + 1}); got != (usage.Window{From: today - 3, To: today.NextMonthStart()}) {
		t.Errorf("stripe: plan %v, want it to run on to the month's end", got)
	}
	// The undecorated engine still reads directly.
	if _, err := eng.Fetch(context.Background(), usage.Window{From: today - 2, To: today}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.asked[engine.SourceOpenAI]); n != 1 {
		t.Errorf("the undecorated engine went through the decorator (%d fetches)", n)
	}
}

func TestFetchEach_KeepsStaleFactsBesideTheErrorAndFetchNamesTheSource(t *testing.T) {
	_, eng := demoWorld(t)
	rec := newRecorder()
	wrapped := eng.Wrap(rec.wrap)
	today := eng.Today()
	w := usage.Window{From: today - 3, To: today + 1}
	all := func(engine.SourceName) usage.Window { return w }
	for _, r := range wrapped.FetchEach(context.Background(), all, nil) {
		if r.Err != nil || r.Facts == nil || r.Facts.Today != today {
			t.Fatalf("%s: %+v", r.Name, r)
		}
	}
	rec.fail[engine.SourceAnthropic] = true
	results := wrapped.FetchEach(context.Background(), all, nil)
	for _, r := range results {
		if r.Name == engine.SourceAnthropic {
			if r.Err == nil || r.Facts == nil || r.Facts.Batch == nil {
				t.Errorf("anthropic: want its last facts beside the error, got %+v", r)
			}
		} else if r.Err != nil {
			t.Errorf("%s failed with anthropic: %v", r.Name, r.Err)
		}
	}
	_, err := wrapped.Fetch(context.Background(), w, nil)
	var se *engine.SourceError
	if !errors.As(err, &se) || se.Source != "anthropic" {
		t.Fatalf("Fetch error %v: want a SourceError naming anthropic", err)
	}
	// A source whose window is empty is not read.
	only := wrapped.FetchEach(context.Background(), func(n engine.SourceName) usage.Window {
		if n == engine.SourceOpenAI {
			return w
		}
		return usage.Window{}
	}, nil)
	if len(only) != 1 || only[0].Name != engine.SourceOpenAI {
		t.Errorf("results %+v: want openai alone", only)
	}
}

func TestForecastMonth_ReadsSubscriptionsThroughTheDecoratedStripeSource(t *testing.T) {
	_, eng := demoWorld(t)
	rec := newRecorder()
	fc, res, err := eng.Wrap(rec.wrap).ForecastMonth(context.Background(), []usage.Provider{usage.OpenAI})
	if err != nil {
		t.Fatal(err)
	}
	today := eng.Today()
	if res.Window != engine.ForecastWindow(today) {
		t.Errorf("result window %v, want %v", res.Window, engine.ForecastWindow(today))
	}
	if len(rec.asked[engine.SourceAnthropic]) != 0 || len(rec.asked[engine.SourceOpenAI]) != 1 {
		t.Errorf("asked %v: want openai alone among the providers", rec.asked)
	}
	stripe := rec.served[engine.SourceStripe]
	if stripe == nil || stripe.Subscriptions == nil || len(stripe.Subscriptions.Subscriptions) == 0 {
		t.Fatalf("stripe facts %+v: want the live subscriptions among them", stripe)
	}
	if len(fc.Customers) == 0 || fc.Month != today.Time().Format("2006-01") {
		t.Errorf("forecast %+v: want this month's customers", fc)
	}
	run := false
	for _, l := range fc.Customers {
		run = run || slices.Contains(l.Basis, engine.BasisRunRate)
	}
	if !run {
		t.Error("no customer projected from a subscription's run rate: subscriptions did not reach the forecast")
	}
}

func TestRangeWindow_ClampsToWhatMarginReadsAndSaysSo(t *testing.T) {
	_, eng := demoWorld(t) // OpenAI, Anthropic and OpenRouter: 365 days readable, OpenRouter documents 30
	today := eng.Today()
	at := func(d usage.Day) time.Time { return d.Time() }
	cases := []struct {
		from, to   usage.Day
		want       usage.Window
		noticeHas  []string
		noticeNone bool
	}{
		{today - 7, today + 1, usage.Window{From: today - 7, To: today + 1}, nil, true},
		{today - 7, today + 40, usage.Window{From: today - 7, To: today + 1}, nil, true},
		{today - 500, today, usage.Window{From: today - 365, To: today}, []string{"Margin reads at most 365 days", "openrouter documents its last 30 completed days"}, false},
		{today - 900, today - 800, usage.Window{From: today - 365, To: today - 365}, []string{"nothing to show"}, false},
	}
	for _, c := range cases {
		got, notice := eng.RangeWindow(at(c.from), at(c.to))
		if got != c.want {
			t.Errorf("%s..%s: window %v, want %v", c.from, c.to, got, c.want)
		}
		if c.noticeNone && notice != "" {
			t.Errorf("%s..%s: notice %q, want none", c.from, c.to, notice)
		}
		for _, s := range c.noticeHas {
			if !strings.Contains(notice, s) {
				t.Errorf("%s..%s: notice %q lacks %q", c.from, c.to, notice, s)
			}
		}
	}
}

// Report computes once over the report's days and the forecast's month together; it must say
// exactly what computing each window on its own says.
func TestReport_OneComputeEqualsOnePerWindow(t *testing.T) {
	_, eng := demoWorld(t)
	ctx := context.Background()
	today := eng.Today()
	fw := engine.ForecastWindow(today)
	for _, days := range []int{1, 3, 10, 31, 45} {
		w, _ := eng.Window(days)
		got, err := eng.Report(ctx, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		fetched := usage.Window{From: min(w.From, fw.From), To: today + 1}
		var facts []*engine.SourceFacts
		for _, r := range eng.FetchEach(ctx, func(engine.SourceName) usage.Window { return fetched }, nil) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			facts = append(facts, r.Facts)
		}
		want := engine.SummarizeFor(eng.Compute(engine.FactsOf(w, today, facts...)), "usd", engine.DefaultTargetMargin)
		month := engine.FactsOf(fw, today, facts...)
		var subs *engine.SubscriptionFacts
		for _, f := range facts {
			if f.Subscriptions != nil {
				subs = f.Subscriptions
			}
		}
		want.Forecast = eng.Forecast(eng.Compute(month), month.Revenue, subs)
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("--days %d: the report of one compute differs from one compute per window:\n got %.600s\nwant %.600s", days, gotJSON, wantJSON)
		}
	}
}

func TestResult_HistoryNoticeSaysWhichFirstDayHadData(t *testing.T) {
	today, _ := usage.ParseDay("2026-11-27")
	row := func(p usage.Provider, d usage.Day) engine.CostRow { return engine.CostRow{Provider: p.ID(), Day: d} }
	long := usage.Window{From: today - 45, To: today}
	res := &engine.Result{Window: long, Rows: []engine.CostRow{
		row(usage.OpenAI, today-35), row(usage.OpenAI, today-3), row(usage.Anthropic, today-45), row(usage.OpenRouter, today-20),
	}}
	all := []usage.Provider{usage.OpenAI, usage.Anthropic, usage.OpenRouter}
	got := res.HistoryNotice(today, all)
	if want := "openai: the first day with data is " + (today - 35).String() + ", not " + long.From.String(); !strings.Contains(got, want) {
		t.Errorf("notice %q lacks %q", got, want)
	}
	if strings.Contains(got, "anthropic") || strings.Contains(got, "openrouter") {
		t.Errorf("notice %q: anthropic had data on the first day, openrouter documents its retention", got)
	}
	if got := res.HistoryNotice(today, []usage.Provider{usage.Anthropic}); got != "" {
		t.Errorf("anthropic alone: notice %q, want none", got)
	}
	short := &engine.Result{Window: usage.Window{From: today - 10, To: today}}
	if got := short.HistoryNotice(today, all); got != "" {
		t.Errorf("a window within one page of buckets: notice %q, want none", got)
	}
}

// keeping is a decorator that keeps every batch it hands out, as the exporter's last-good store
// does.
type keeping struct {
	engine.Source
	kept map[engine.SourceName][]*usage.Batch
	lens map[*usage.Batch]int
}

func (k *keeping) Fetch(ctx context.Context, w usage.Window) (*engine.SourceFacts, error) {
	f, err := k.Source.Fetch(ctx, w)
	if f != nil && f.Batch != nil {
		k.kept[k.Name()] = append(k.kept[k.Name()], f.Batch)
		k.lens[f.Batch] = len(f.Batch.Usage)
	}
	return f, err
}

// Report lets go of the usage records it computed from only when it read them itself: a
// decorated source's batches, which the decorator may keep, keep their usage, and the report
// over them is the plain engine's byte for byte.
func TestReport_KeepsTheBatchesADecoratorHolds(t *testing.T) {
	_, eng := demoWorld(t)
	ctx := context.Background()
	w, _ := eng.Window(31)
	plain, err := eng.Report(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	var decorators []*keeping
	wrapped := eng.Wrap(func(s engine.Source) engine.Source {
		k := &keeping{Source: s, kept: map[engine.SourceName][]*usage.Batch{}, lens: map[*usage.Batch]int{}}
		decorators = append(decorators, k)
		return k
	})
	got, err := wrapped.Report(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for _, k := range decorators {
		for _, b := range k.kept[k.Name()] {
			if len(b.Usage) != k.lens[b] {
				t.Errorf("%s: a kept batch has %d usage records after Report, %d before", k.Name(), len(b.Usage), k.lens[b])
			}
			records += len(b.Usage)
		}
	}
	if records == 0 {
		t.Fatal("no usage records kept: the test checks nothing")
	}
	gotJSON, _ := json.Marshal(got)
	plainJSON, _ := json.Marshal(plain)
	if !bytes.Equal(gotJSON, plainJSON) {
		t.Errorf("the report through a decorator differs from the plain engine's:\n got %.600s\nwant %.600s", gotJSON, plainJSON)
	}
}
