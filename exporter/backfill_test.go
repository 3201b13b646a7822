package exporter

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/marginhq/margin/internal/ledger"
)

// backfillOptions are the label choices the backfill must reproduce exactly.
var backfillOptions = []struct {
	name string
	mod  func(*Options)
}{
	{"defaults", func(*Options) {}},
	{"max_customers", func(o *Options) { o.MaxCustomers = 5 }},
	{"drop_model_label", func(o *Options) { o.DropModelLabel = true }},
	{"feature_label", func(o *Options) { o.FeatureLabel = true }},
}

// The backfill tests are the package's slowest (a simulated month, polled and backfilled) and
// share nothing: they run in parallel.
func TestBackfill_LastPointsEqualTheExportersFirstFill(t *testing.T) {
	t.Parallel()
	for _, tt := range backfillOptions {
		for _, res := range []Resolution{Daily, Hourly} {
			t.Run(tt.name+"/"+[]string{"1d", "1h"}[res], func(t *testing.T) {
				t.Parallel()
				_, eng := simWorld(t)
				p, _ := newPoller(t, eng, "", tt.mod)
				if err := p.Poll(context.Background()); err != nil {
					t.Fatal(err)
				}
				want := exposedBusiness(t, gather(t, p))

				_, eng = simWorld(t) // a fresh world: the backfill shares nothing with the poller
				file, _ := backfill(t, eng, res, tt.mod)
				got := map[string]float64{}
				for s, pts := range parseOpenMetrics(t, file) {
					got[s] = pts[len(pts)-1].v
					if last := pts[len(pts)-1].ts; last != float64(worldNow.UnixMilli())/1000 {
						t.Fatalf("%s: last point at %v, want now %v", s, last, worldNow.Unix())
					}
				}
				if len(got) != len(want) {
					t.Errorf("backfill has %d series, the exporter %d", len(got), len(want))
				}
				for s, v := range want {
					if g, ok := got[s]; !ok || g != v {
						t.Errorf("%s: backfill ends at %v (present %v), exporter exposes %v", s, g, ok, v)
					}
				}
			})
		}
	}
}

// Hourly points split each day exactly: at every day's end they equal the daily points, and no
// counter ever decreases.
func TestBackfill_HourlyPointsMeetTheDailyOnesAndCountersNeverDecrease(t *testing.T) {
	t.Parallel()
	_, eng := simWorld(t)
	daily, dstats := backfill(t, eng, Daily, nil)
	hourly, stats := backfill(t, eng, Hourly, nil)
	d, h := parseOpenMetrics(t, daily), parseOpenMetrics(t, hourly)
	if len(d) != len(h) || stats.Series != len(h) {
		t.Fatalf("daily %d series, hourly %d, stats %d", len(d), len(h), stats.Series)
	}
	for s, dps := range d {
		at := map[float64]float64{}
		for _, p := range h[s] {
			at[p.ts] = p.v
		}
		for _, p := range dps {
			if v, ok := at[p.ts]; !ok || v != p.v {
				t.Fatalf("%s at %v: hourly %v (present %v), daily %v", s, p.ts, v, ok, p.v)
			}
		}
		counter := strings.HasPrefix(s, "margin_") && strings.Contains(s, "_total{")
		for i := 1; i < len(h[s]); i++ {
			if h[s][i].ts <= h[s][i-1].ts {
				t.Fatalf("%s: timestamps not increasing at %d", s, i)
			}
			if counter && h[s][i].v < h[s][i-1].v {
				t.Fatalf("%s: counter fell from %v to %v", s, h[s][i-1].v, h[s][i].v)
			}
		}
	}
	if stats.Samples < 20*dstats.Samples {
		t.Fatalf("hourly file has %d samples, the daily %d: not hourly", stats.Samples, dstats.Samples)
	}
}

func TestBackfill_PromtoolCreatesBlocks(t *testing.T) {
	t.Parallel()
	promtool := tool(t, "promtool", "PROMTOOL_BIN")
	// The simulated world's month daily, five days of the small golden world hourly.
	_, sim := simWorld(t)
	for _, tt := range []struct {
		eng  Engine
		res  Resolution
		days int
	}{{sim, Daily, 31}, {goldenEngine(t), Hourly, 5}} {
		file, _ := backfill(t, tt.eng, tt.res, func(o *Options) { o.FeatureLabel, o.BackfillDays = true, tt.days })
		dir := t.TempDir()
		in := filepath.Join(dir, "margin.om")
		if err := os.WriteFile(in, file, 0o644); err != nil {
			t.Fatal(err)
		}
		// One block per month rather than per 2h: Debian's 2.42 takes the flag too, though its
		// --help does not show it.
		args := []string{"tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", in, filepath.Join(dir, "data")}
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
		blocks, _ := filepath.Glob(filepath.Join(dir, "data", "*", "meta.json"))
		// A month at most spans three 720h-aligned blocks; 2h blocks would be one per day or hour.
		if len(blocks) == 0 || len(blocks) > 3 {
			t.Fatalf("promtool wrote %d blocks, want 1 to 3:\n%s", len(blocks), out)
		}
	}
}

func TestParseResolution(t *testing.T) {
	tests := []struct {
		in      string
		want    Resolution
		wantErr bool
	}{
		{"1d", Daily, false},
		{"1h", Hourly, false},
		{"5m", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseResolution(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseResolution(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestBackfill_EscapesLabelValuesAndEndsWithEOF(t *testing.T) {
	eng := goldenEngine(t)
	eng.revenue.Customers[1].Name = "Bolt \"Co\"\\ltd\nsecond line"
	file, _ := backfill(t, eng, Daily, nil)
	if !bytes.HasSuffix(file, []byte("\n# EOF\n")) {
		t.Fatalf("file does not end with # EOF:\n%s", file[max(0, len(file)-200):])
	}
	want := `margin_customer_info{customer_id="cus_B",name="Bolt \"Co\"\\ltd\nsecond line",plan="Starter"} 1`
	if !bytes.Contains(file, []byte(want)) {
		t.Fatalf("no escaped info line %s in:\n%s", want, file)
	}
	if !bytes.Contains(file, []byte("# TYPE margin_llm_cost_usd counter\n")) {
		t.Fatal("counter family not named without _total")
	}
	// 13.845678901 USD for cus_A over two days, exact in the last point.
	pts := parseOpenMetrics(t, file)[`margin_llm_cost_usd_total{provider="openai",model="gpt-4o",customer_id="cus_A"}`]
	if len(pts) == 0 || pts[len(pts)-1].v != ledger.Money(13_845_678_901).Float64() {
		t.Fatalf("cus_A gpt-4o points %v", pts)
	}
}

func backfill(t *testing.T, eng Engine, res Resolution, mod func(*Options)) ([]byte, BackfillStats) {
	t.Helper()
	opts := Options{Engine: eng, Now: func() time.Time { return worldNow }}
	if mod != nil {
		mod(&opts)
	}
	fill, err := FirstFill(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	stats, err := fill.WriteBackfill(&b, res)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), stats
}

type omPoint struct{ v, ts float64 }

// parseOpenMetrics reads the backfill file back: series (name and labels as written) to points.
func parseOpenMetrics(t *testing.T, file []byte) map[string][]omPoint {
	t.Helper()
	out := map[string][]omPoint{}
	for _, line := range strings.Split(strings.TrimSuffix(string(file), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		fields := strings.Fields(line[end+1:])
		if end < 0 || len(fields) != 2 {
			t.Fatalf("bad sample line %q", line)
		}
		v, err1 := strconv.ParseFloat(fields[0], 64)
		ts, err2 := strconv.ParseFloat(fields[1], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad sample line %q", line)
		}
		s := line[:end+1]
		out[s] = append(out[s], omPoint{v, ts})
	}
	return out
}

// exposedBusiness is the business series of a text exposition, written as the backfill writes
// them (labels in the family's order), with their values.
func exposedBusiness(t *testing.T, exposition []byte) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		if strings.HasPrefix(name, "margin_source_") || name == "margin_state_recovered" { // operational, not backfilled
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			var order []string
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			// Label order of the backfill: provider, model, customer_id, feature, token_type.
			for _, n := range []string{"provider", "model", "customer_id", "name", "plan", "feature", "token_type"} {
				if v, ok := labels[n]; ok {
					order = append(order, n+`="`+string(appendEscaped(nil, v, true))+`"`)
				}
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[name+"{"+strings.Join(order, ",")+"}"] = v
		}
	}
	return out
}
