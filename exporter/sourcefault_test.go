package exporter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// nullData answers OpenRouter's /activity with "data": null while on is set, and passes every
// other request to the simulated world.
type nullData struct {
	base http.RoundTripper
	on   atomic.Bool
}

func (n *nullData) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.on.Load() && strings.HasSuffix(r.URL.Path, "/activity") {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"data":null}`)), Request: r}, nil
	}
	return n.base.RoundTrip(r)
}

// A source whose answer cannot be read is a failed source: margin_source_up 0, its last good data
// kept, never a smaller number.
func TestPoll_UndecodableSourceIsDownAndKeepsItsLastGoodData(t *testing.T) {
	w := simulator.New(simulator.Config{Now: worldNow})
	tr := &nullData{base: w.Transport()}
	eng, err := engine.New(simengine.Options(w, "http://sim.invalid", &http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := truth(t, w, eng)
	before := counted(p, "openrouter")
	if before.cost == 0 {
		t.Fatal("no openrouter spend in the world: the test proves nothing")
	}
	tr.on.Store(true)
	for range 2 {
		err := p.Poll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "openrouter") || !strings.Contains(err.Error(), "data is null or missing") {
			t.Fatalf("poll with data null: %v, want the openrouter decode error", err)
		}
		if h := p.health["openrouter"]; h.Up {
			t.Fatal("openrouter still up with an undecodable answer")
		}
		if got := counted(p, "openrouter"); got != before {
			t.Fatalf("openrouter counters moved from %+v to %+v while it could not be read", before, got)
		}
	}
	tr.on.Store(false)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netCost(p); got != want {
		t.Fatalf("net cost %s after recovery, billed %s", got, want)
	}
}

// The last-good store, as the engine's fan-out sees it: nothing beside the error before the first
// success; after one, a failure is an error (the source is down) with the last good facts beside
// it, read on the day they were read; the next success replaces them.
func TestLastGood_ServesTheLastGoodFactsBesideTheError(t *testing.T) {
	const today = usage.Day(20000)
	errDown := errors.New("openai is down")
	var down atomic.Bool
	calls := 0
	eng := &fakeEngine{today: today, sources: []string{"openai"},
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){usage.OpenAI: func(w usage.Window) (*usage.Batch, error) {
			if down.Load() {
				return nil, errDown
			}
			calls++
			return &usage.Batch{Provider: usage.OpenAI, Window: w, Usage: []usage.UsageRecord{{Provider: usage.OpenAI.ID(), Day: today, Requests: int64(calls)}}}, nil
		}}}
	wrapped := eng.Wrap(func(s engine.Source) engine.Source { return &lastGood{Source: s} })
	fetch := func() engine.SourceResult {
		rs := wrapped.FetchEach(context.Background(), func(engine.SourceName) usage.Window { return usage.Window{From: today - 3, To: today + 1} }, nil)
		if len(rs) != 1 || rs[0].Name != engine.SourceOpenAI {
			t.Fatalf("results %+v, want openai's alone", rs)
		}
		return rs[0]
	}
	down.Store(true)
	if r := fetch(); !errors.Is(r.Err, errDown) || r.Facts != nil {
		t.Fatalf("before any success: %+v, want the error and no facts", r)
	}
	down.Store(false)
	good := fetch()
	if good.Err != nil || good.Facts == nil || good.Facts.Today != today || good.Facts.Batch.Usage[0].Requests != 1 {
		t.Fatalf("first success: %+v", good)
	}
	down.Store(true)
	eng.mu.Lock()
	eng.today = today + 1
	eng.mu.Unlock()
	stale := fetch()
	if !errors.Is(stale.Err, errDown) || stale.Facts != good.Facts || stale.Facts.Today != today {
		t.Fatalf("failure after a success: %+v, want the error beside the facts read on day %v", stale, today)
	}
	down.Store(false)
	if fresh := fetch(); fresh.Err != nil || fresh.Facts == good.Facts || fresh.Facts.Today != today+1 || fresh.Facts.Batch.Usage[0].Requests != 2 {
		t.Fatalf("recovery: %+v, want new facts of day %v", fresh, today+1)
	}
}
