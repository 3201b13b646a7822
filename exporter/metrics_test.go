package exporter

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// of returns the samples of family f in s (the tests' view of a snapshot).
func (s *Snapshot) of(f *family) []sample {
	for _, x := range s.business {
		if x.fam == f {
			return x.samples
		}
	}
	return nil
}

// registryCollector is the tests' oracle for the exporter's text writer: a snapshot's families as
// client_golang const metrics, so a pedantic registry checks them (names, label sets, HELP, no
// duplicates) and expfmt writes what the exposition must equal byte for byte.
type registryCollector struct{ c *Collector }

func (r registryCollector) desc(f *family) *prometheus.Desc {
	return prometheus.NewDesc(f.name, f.help, f.labels, nil)
}

func (r registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range r.c.fams.all() {
		ch <- r.desc(f)
	}
	r.c.Health().Describe(ch)
}

func (r registryCollector) Collect(ch chan<- prometheus.Metric) {
	s := r.c.snap.Load()
	if s == nil {
		return
	}
	for _, x := range s.business {
		d := r.desc(x.fam)
		for _, smp := range x.samples {
			ch <- prometheus.MustNewConstMetric(d, x.fam.typ, x.fam.value(smp.n), smp.labels...)
		}
	}
	r.c.Health().Collect(ch)
}

var update = flag.Bool("update", false, "rewrite testdata/*.prom from the current output")

// goldenEngine is a small fixed world: two customers on two providers, unattributed spend, an
// unpriced model and Stripe revenue, on 2024-10-04 (day 20000). cus_A's gpt-4o spend serves two
// features (chat, summarizer); cus_B's OpenAI keys and the unattributed key serve none.
func goldenEngine(t *testing.T) *fakeEngine {
	const today = usage.Day(20000)
	rec := func(p usage.Provider, d usage.Day, key, model, cost string, in, out int64) usage.UsageRecord {
		r := usage.UsageRecord{Provider: p.ID(), Day: d, Key: usage.InternRef(usage.SourceRef(key)), Model: usage.Intern(model), Requests: 3,
			Tokens: usage.Tokens{Input: in, CachedInput: in / 4, CacheWrite5m: in / 10, Output: out, Reasoning: out / 2}}
		if cost != "" {
			r.Billed, r.HasBilled = usd(t, cost), true
		}
		return r
	}
	batch := func(p usage.Provider, recs ...usage.UsageRecord) func(usage.Window) (*usage.Batch, error) {
		return func(w usage.Window) (*usage.Batch, error) {
			return &usage.Batch{Provider: p, Window: w, Usage: recs}, nil
		}
	}
	return &fakeEngine{today: today, sources: []string{"openai", "anthropic", "stripe"},
		batches: map[usage.Provider]func(usage.Window) (*usage.Batch, error){
			usage.OpenAI: batch(usage.OpenAI,
				rec(usage.OpenAI, today-1, "cus_A/chat", "gpt-4o", "12.345678901", 1000, 200),
				rec(usage.OpenAI, today, "cus_A/summarizer", "gpt-4o", "1.50", 100, 20),
				rec(usage.OpenAI, today-2, "cus_B", "gpt-4o-mini", "0.25", 5000, 800),
				rec(usage.OpenAI, today-2, "", "gpt-4o", "3.00", 700, 70),
				rec(usage.OpenAI, today-1, "cus_B", "ft:custom", "", 400, 40)),
			usage.Anthropic: batch(usage.Anthropic,
				rec(usage.Anthropic, today-3, "cus_B/summarizer", "claude-sonnet-4-5", "7.10", 2000, 300)),
		},
		revenue: &engine.RevenueFacts{
			Customers: []engine.CustomerInfo{{ID: "cus_A", Name: "Acme", Plan: "Growth"}, {ID: "cus_B", Name: "Bolt & Co", Plan: "Starter"}},
			Daily: []engine.DailyRevenue{
				{Customer: "cus_A", Day: today - 40, Amount: usd(t, "99.00")}, // before the window: not counted
				{Customer: "cus_A", Day: today - 1, Amount: usd(t, "33.33")},
				{Customer: "cus_A", Day: today, Amount: usd(t, "33.34")},
				{Customer: "cus_B", Day: today, Amount: usd(t, "9.90")},
				{Customer: "cus_B", Day: today + 1, Amount: usd(t, "9.90")}, // tomorrow: not yet
			},
		},
	}
}

func TestCollector_MatchesGoldenExposition(t *testing.T) {
	tests := []struct {
		file string
		opts func(*Options)
	}{
		{"all_customers.prom", func(*Options) {}},
		{"max_customers_1.prom", func(o *Options) { o.MaxCustomers = 1 }},
		{"no_model_label.prom", func(o *Options) { o.DropModelLabel = true }},
		{"feature_label.prom", func(o *Options) { o.FeatureLabel = true }},
		{"feature_label_no_model.prom", func(o *Options) { o.FeatureLabel, o.DropModelLabel = true, true }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, _ := newPoller(t, goldenEngine(t), "", tt.opts)
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(golden, gather(t, p), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./exporter -run Golden -update to create it)", err)
			}
			defer f.Close()
			if err := testutil.CollectAndCompare(registryCollector{p.Collector()}, f); err != nil {
				t.Fatal(err)
			}
			problems, err := testutil.CollectAndLint(registryCollector{p.Collector()})
			if err != nil || len(problems) > 0 {
				t.Fatalf("lint: %v %+v", err, problems)
			}
			// The exporter's own writer, with the health registry beside it, writes the golden
			// file byte for byte: the business families sort before margin_source_*.
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			ops := prometheus.NewPedanticRegistry()
			ops.MustRegister(p.Collector().Health())
			var got bytes.Buffer
			if err := NewExposition(ops, p.Collector(), nil).Write(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("exposition differs from %s:\n%s", golden, got.Bytes())
			}
		})
	}
}

func TestCollector_ExposesNothingBeforeTheFirstSnapshot(t *testing.T) {
	if n := testutil.CollectAndCount(registryCollector{newCollector(Labels{})}); n != 0 {
		t.Fatalf("%d metrics before any snapshot", n)
	}
}

func TestSnapshot_ValuesAreTheExactTotals(t *testing.T) {
	p, _ := newPoller(t, goldenEngine(t), "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		series []string
		want   string
	}{
		{[]string{"openai", "gpt-4o", "cus_A"}, "13.845678901"},
		{[]string{"openai", "gpt-4o", engine.CustomerUnattributed}, "3.00"},
		{[]string{"anthropic", "claude-sonnet-4-5", "cus_B"}, "7.10"},
	}
	s := p.collector.snap.Load()
	for _, tt := range tests {
		found := false
		for _, x := range s.of(p.collector.fams.cost) {
			if strings.Join(x.labels, ",") == strings.Join(tt.series, ",") {
				found = true
				if want := usd(t, tt.want); ledger.Money(x.n) != want {
					t.Errorf("%v = %s, want %s", tt.series, ledger.Money(x.n), want)
				}
			}
		}
		if !found {
			t.Errorf("no series %v", tt.series)
		}
	}
	if got := p.state.totals.Revenue["cus_A"]; got != usd(t, "66.67") {
		t.Errorf("cus_A revenue %s, want 66.67 (today's included, the older day outside the window not)", got)
	}
	if got := p.state.totals.Revenue["cus_B"]; got != usd(t, "9.90") {
		t.Errorf("cus_B revenue %s, want 9.90 (tomorrow's not yet)", got)
	}
}

// gather is the collector's text exposition, as a scrape would return it.
func gather(t *testing.T, p *Poller) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(registryCollector{p.Collector()})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// Toggling feature_label (or drop_model_label) between restarts only regroups the same totals:
// every exposed counter stays the sum of the finer series, so no counter falls.
func TestFeatureLabel_TogglingAcrossRestartsKeepsCountersMonotonic(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	sumBy := func(p *Poller, customer string) ledger.Money {
		var n ledger.Money
		for _, x := range p.collector.snap.Load().of(p.collector.fams.cost) {
			if slices.Contains(x.labels, customer) {
				n += ledger.Money(x.n)
			}
		}
		return n
	}
	steps := []struct {
		name         string
		feature      bool
		wantSeriesA  int // cus_A's cost series
		wantFeatureA []string
	}{
		{"feature on", true, 2, []string{"chat", "summarizer"}},
		{"restart with feature off", false, 1, nil},
		{"restart with feature on again", true, 2, []string{"chat", "summarizer"}},
	}
	want := usd(t, "13.845678901")
	for _, st := range steps {
		p, _ := newPoller(t, goldenEngine(t), file, func(o *Options) { o.FeatureLabel = st.feature })
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := sumBy(p, "cus_A"); got != want {
			t.Fatalf("%s: cus_A cost %s, want %s", st.name, got, want)
		}
		var features []string
		n := 0
		for _, x := range p.collector.snap.Load().of(p.collector.fams.cost) {
			if x.labels[2] == "cus_A" {
				n++
				if st.feature {
					features = append(features, x.labels[3])
				}
			}
			if st.feature && x.labels[2] == engine.CustomerUnattributed && x.labels[3] != engine.UnassignedFeature {
				t.Errorf("%s: unattributed spend under feature %q, want %q", st.name, x.labels[3], engine.UnassignedFeature)
			}
		}
		slices.Sort(features)
		if n != st.wantSeriesA || !slices.Equal(features, st.wantFeatureA) {
			t.Fatalf("%s: %d cus_A series with features %v, want %d %v", st.name, n, features, st.wantSeriesA, st.wantFeatureA)
		}
	}
}
