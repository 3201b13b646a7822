package exporter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// familyBlocks splits a text exposition into its families (HELP, TYPE and samples), sorted, so
// two expositions that differ only in family order compare equal.
func familyBlocks(text []byte) []string {
	blocks := strings.Split(string(text), "# HELP ")
	slices.Sort(blocks)
	return blocks
}

func TestExposition_IsWhatTheRegistryWritesByteForByte(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"defaults", func(*Options) {}},
		{"max_customers", func(o *Options) { o.MaxCustomers = 1 }},
		{"drop_model_label", func(o *Options) { o.DropModelLabel = true }},
		{"feature_label", func(o *Options) { o.FeatureLabel = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := goldenEngine(t)
			eng.revenue.Customers[1].Name = "Bolt \"Co\"\\ltd\nsecond line" // every escape
			p, _ := newPoller(t, eng, "", tt.mod)
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := gather(t, p)
			ops := prometheus.NewPedanticRegistry()
			ops.MustRegister(p.Collector().Health())
			e := NewExposition(ops, p.Collector(), nil)
			var got bytes.Buffer
			if err := e.Write(&got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(familyBlocks(got.Bytes()), familyBlocks(want)) {
				t.Fatalf("exposition differs from the registry's:\n--- got\n%s\n--- want\n%s", got.Bytes(), want)
			}
			promtoolCheckMetrics(t, got.Bytes())

			srv := httptest.NewServer(e)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || !bytes.Equal(body, got.Bytes()) {
				t.Fatalf("served %q with %d bytes, want the text format and the written exposition", ct, len(body))
			}
		})
	}
}

func TestExposition_BeforeTheFirstSnapshotHasOnlyTheOperationalMetrics(t *testing.T) {
	c := NewCollector(Labels{})
	ops := prometheus.NewRegistry()
	ops.MustRegister(c.Health(), prometheus.NewGauge(prometheus.GaugeOpts{Name: "up_probe", Help: "A probe."}))
	var b bytes.Buffer
	if err := NewExposition(ops, c, nil).Write(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "up_probe 0") || strings.Contains(got, "margin_") {
		t.Fatalf("exposition before any snapshot:\n%s", got)
	}
}
