package exporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// scaleState is the counter state of 1,000 customers × 20 models × 3 providers: 60,000 cost and
// request series, 300,000 token series.
func scaleState() (*State, []engine.CustomerInfo) {
	st := newState()
	var customers []engine.CustomerInfo
	for c := range 1000 {
		id := fmt.Sprintf("cus_%014d", c)
		customers = append(customers, engine.CustomerInfo{ID: id, Name: fmt.Sprintf("Customer %d", c), Plan: "Growth"})
		st.totals.Revenue[id] = ledger.Money(int64(c+1) * 1_234_567_891)
		for _, p := range usage.Providers {
			st.totals.Adjustments[adjustmentKey{string(p), id}] = ledger.Money(c * 1000)
			for m := range 20 {
				k := seriesKey{Provider: string(p), Model: fmt.Sprintf("model-%02d", m), Customer: id}
				st.totals.Cost[k] = ledger.Money(int64(c*20+m+1) * 987_654_321)
				st.totals.Requests[k] = int64(c*20 + m)
				st.totals.Tokens[k] = tokenCounts{int64(c), int64(m), 3, 4, 5}
			}
		}
	}
	return st, customers
}

// BenchmarkScrape is one scrape of the 1,000-customer snapshot as the exporter serves it
// (Exposition: the business families' text, rendered and gzipped once per poll, then the
// operational registry). "render" is that per-poll work (text and gzip); "http" and "http_gzip"
// are scrapes without and with Accept-Encoding: gzip; "registry" is the same exposition through
// client_golang's Gather and expfmt, which the exporter avoids.
func BenchmarkScrape(b *testing.B) {
	st, customers := scaleState()
	p, err := New(Options{Engine: &fakeEngine{today: 20000, sources: []string{"openai", "anthropic", "openrouter", "stripe"}}})
	if err != nil {
		b.Fatal(err)
	}
	snap := p.collector.fams.snapshot(st, view{today: 20000, customers: customers})
	ops := prometheus.NewRegistry()
	ops.MustRegister(p.Collector().Health())
	e := NewExposition(ops, p.Collector(), nil)
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fresh := &Snapshot{business: snap.business, sources: snap.sources}
			fresh.prepared(formatText)
		}
	})
	b.Run("scrape", func(b *testing.B) {
		p.collector.Set(snap)
		snap.prepared(formatText)
		b.ReportAllocs()
		for b.Loop() {
			if err := e.Write(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		p.collector.Set(snap)
		srv := httptest.NewServer(e)
		defer srv.Close()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "identity") // the uncompressed text, as before gzip
		b.ReportAllocs()
		for b.Loop() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			b.SetBytes(n)
		}
	})
	// As Prometheus scrapes: gzip, the business part compressed once by the poll (snap.prepared
	// above), the operational part per scrape. SetBytes counts the compressed bytes on the wire.
	b.Run("http_gzip", func(b *testing.B) {
		p.collector.Set(snap)
		srv := httptest.NewServer(e)
		defer srv.Close()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip") // explicit: net/http leaves the body compressed
		b.ReportAllocs()
		for b.Loop() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				b.Fatal("not gzipped")
			}
			b.SetBytes(n)
		}
	})
	b.Run("registry", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(registryCollector{p.Collector()})
		b.ReportAllocs()
		for b.Loop() {
			if err := writeExposition(io.Discard, reg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPoll is one poll cycle over the simulated world scaled to 1,000 extra OpenAI keys ×
// 10 models, with the exporter's settings (Stripe incremental, names kept an hour): the first
// fill (31 days, every bucket new), a later poll (the trailing days re-read, nothing changed) and,
// for comparison, a later poll reading all of Stripe and every name (repoll_full, as before
// incremental polls). Each reports the response bytes and requests per source (openai-B/op,
// stripe-req/op, ...), counted by a RoundTripper wrapper.
// asDeployed polls as margin-exporter does: the series let go once the text is prepared, and the
// collector's target set for the poll and for the rest after it.
func asDeployed(o *Options) { o.keepSeries, o.RestGCPercent = false, DefaultRestGCPercent }

func BenchmarkPoll(b *testing.B) {
	w := simulator.New(simulator.Config{Now: worldNow, ExtraOpenAIKeys: 1000, ModelsPerKey: 10})
	ct := newCountingTransport(w.Transport())
	opts := simengine.Options(w, "http://sim.invalid", &http.Client{Transport: ct})
	fullEng, err := engine.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	opts.StripeRefresh, opts.NamesRefresh = config.DefaultStripeRefresh, config.DefaultNamesRefresh
	eng, err := engine.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first_fill", func(b *testing.B) {
		b.ReportAllocs()
		ct.reset()
		for b.Loop() {
			p, _ := newPoller(b, fullEng, "", asDeployed)
			if err := p.Poll(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		ct.report(b)
	})
	repoll := func(eng *engine.Engine) func(b *testing.B) {
		return func(b *testing.B) {
			p, _ := newPoller(b, eng, "", asDeployed)
			if err := p.Poll(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			ct.reset()
			for b.Loop() {
				if err := p.Poll(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			ct.report(b)
		}
	}
	b.Run("repoll", repoll(eng))
	b.Run("repoll_full", repoll(fullEng))
}

// countingTransport counts, per source (the first segment of the simulator's paths: openai,
// anthropic, openrouter, stripe), the requests made and the response bytes read.
type countingTransport struct {
	next     http.RoundTripper
	mu       sync.Mutex
	bytes    map[string]int64
	requests map[string]int
}

func newCountingTransport(next http.RoundTripper) *countingTransport {
	return &countingTransport{next: next, bytes: map[string]int64{}, requests: map[string]int{}}
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	src, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	t.mu.Lock()
	t.requests[src]++
	t.mu.Unlock()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, add: func(n int) {
		t.mu.Lock()
		t.bytes[src] += int64(n)
		t.mu.Unlock()
	}}
	return resp, nil
}

func (t *countingTransport) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.bytes)
	clear(t.requests)
}

// report adds the bytes and requests per source, per operation, to the benchmark's figures.
func (t *countingTransport) report(b *testing.B) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for src, n := range t.bytes {
		b.ReportMetric(float64(n)/float64(b.N), src+"-B/op")
	}
	for src, n := range t.requests {
		b.ReportMetric(float64(n)/float64(b.N), src+"-req/op")
	}
}

type countingBody struct {
	io.ReadCloser
	add func(int)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.add(n)
	return n, err
}
