package exporter

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// For generated snapshots (every family of every label choice, a family whose HELP has every
// escape, label values with quotes, backslashes, newlines, spaces and braces, values from zero
// to beyond 1e21, negative and fractional), the text converted to OpenMetrics is what render
// writes in OpenMetrics, and back.
func TestConvert_IsWhatRenderWritesInTheOtherFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	texts := []string{"a", "Bolt \"Co\"", `back\slash`, "two\nlines", "with space", "{brace}", "é", ""}
	escaped := newFamily("margin_test_escapes_total", `HELP with "quotes", a back\slash and a`+"\nnewline", prometheus.CounterValue, true, "customer_id")
	gauge := newFamily("margin_test_gauge", `a "gauge"`, prometheus.GaugeValue, false, "customer_id", "name")
	for round := range 200 {
		l := Labels{DropModel: r.IntN(2) == 0, Feature: r.IntN(2) == 0}
		fams := append(newFamilies(l).all(), escaped, gauge)
		s := &Snapshot{}
		for _, f := range fams {
			x := series{fam: f}
			for range r.IntN(6) {
				labels := make([]string, len(f.labels))
				for i := range labels {
					labels[i] = texts[r.IntN(len(texts))] + texts[r.IntN(len(texts))]
				}
				var n int64
				switch r.IntN(5) {
				case 0:
					n = 0
				case 1:
					n = -r.Int64N(1e12)
				case 2:
					n = math.MaxInt64 - r.Int64N(1000) // 9.2e18 nano-dollars, 9.2e9 USD
				default:
					n = r.Int64N(1e15)
				}
				x.samples = append(x.samples, sample{labels, n})
			}
			s.business = append(s.business, x)
		}
		text, om := s.render(formatText), s.render(formatOpenMetrics)
		if got := convert(text, formatOpenMetrics); !bytes.Equal(got, om) {
			t.Fatalf("round %d: text converted to OpenMetrics:\n%s\nwant\n%s", round, got, om)
		}
		if got := convert(om, formatText); !bytes.Equal(got, text) {
			t.Fatalf("round %d: OpenMetrics converted to text:\n%s\nwant\n%s", round, got, text)
		}
	}
	// Values only a float64 holds: exponents, NaN and infinities are written the same in both.
	for _, v := range []float64{1e21, 1.5e-7, -3e30, math.NaN(), math.Inf(1), math.Inf(-1), 2, -7, 0.25} {
		var tb, ob []byte
		tb = formatText.appendValue(tb, v)
		ob = formatOpenMetrics.appendValue(ob, v)
		if got := convertValue(nil, tb, formatOpenMetrics); !bytes.Equal(got, ob) {
			t.Errorf("%v: %s converted to OpenMetrics is %s, want %s", v, tb, got, ob)
		}
		if got := convertValue(nil, ob, formatText); !bytes.Equal(got, tb) {
			t.Errorf("%v: %s converted to text is %s, want %s", v, ob, got, tb)
		}
	}
}

// A poll lets go of its series once the scraped format is prepared, and still serves both formats
// byte for byte as a poller that keeps them, with gzip and without, and pushes the same text.
func TestPoll_LetsGoOfTheSeriesAndServesBothFormatsAlike(t *testing.T) {
	for _, om := range []bool{false, true} {
		eng := goldenEngine(t)
		eng.revenue.Customers[1].Name = "Bolt \"Co\"\\ltd\nsecond line" // every escape
		keep, _ := newPoller(t, eng, "", func(o *Options) { o.FeatureLabel = true })
		drop, _ := newPoller(t, eng, "", func(o *Options) { o.FeatureLabel = true; o.keepSeries = false })
		first, second := "text/plain", "application/openmetrics-text"
		if om {
			first, second = second, first
		}
		var bodies [2]map[string][]byte
		for i, p := range []*Poller{keep, drop} {
			ops := prometheus.NewPedanticRegistry()
			ops.MustRegister(p.Collector().Health())
			srv := httptest.NewServer(NewExposition(ops, p.Collector(), nil))
			scrapeAccept(t, srv.URL, first, "gzip") // the format the poll prepares
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if kept := p.Collector().snap.Load().business != nil; kept != (p == keep) {
				t.Fatalf("series kept after the poll: %v", kept)
			}
			bodies[i] = map[string][]byte{}
			for _, accept := range []string{first, second} {
				for _, enc := range []string{"identity", "gzip"} {
					_, body := scrapeAccept(t, srv.URL, accept, enc)
					if enc == "gzip" {
						body = gunzipOneMember(t, body)
					}
					bodies[i][accept+" "+enc] = dropOperational(body)
				}
			}
			srv.Close()
		}
		for k, want := range bodies[0] {
			if got := bodies[1][k]; !bytes.Equal(got, want) {
				t.Fatalf("first scrape %s, then %s: the poller without its series serves\n%s\nwant\n%s", first, k, got, want)
			}
		}
	}
}

// dropOperational keeps an exposition's business families: the operational ones (durations,
// the Go and process metrics) differ between two pollers.
func dropOperational(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.Contains(line, []byte("margin_source_")) || bytes.Contains(line, []byte("margin_state_")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}
