package exporter

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
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
