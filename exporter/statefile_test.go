package exporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// unusable are state file contents the exporter must never read as a state.
var unusable = []struct{ name, content string }{
	{"truncated", `{"version":1,"cost_buckets":[{`},
	{"foreign version", `{"version":99}`},
	{"not json", "\x00\x01garbage"},
	{"empty", ""},
	{"null", "null"},
	{"negative counter", `{"version":1,"totals":{"series":[{"provider":"openai","model":"m","customer":"c","cost_nanos":-5}]}}`},
}

// twoGenerations polls twice so that file and file.prev both hold good states; it returns the
// poller and the totals the second poll left.
func twoGenerations(t *testing.T) (string, *Poller, totals) {
	t.Helper()
	w, eng := simWorld(t)
	file := filepath.Join(t.TempDir(), "state.json")
	p, _ := newPoller(t, eng, file)
	for range 2 {
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := loadState(file + prevSuffix); err != nil {
		t.Fatalf("no previous generation kept beside the state file: %v", err)
	}
	if got, want := netCost(p), truth(t, w, eng); got != want {
		t.Fatalf("net cost %s, billed %s", got, want)
	}
	return file, p, p.state.totals
}

func TestNew_CorruptStateFileRecoversThePreviousGeneration(t *testing.T) {
	// The two good generations are polled once; each case starts from a copy of their files, as
	// an exporter restarting on the same state directory would, with a fresh engine.
	goodFile, old, exposed := twoGenerations(t)
	generations, err := os.ReadDir(filepath.Dir(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range unusable {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), filepath.Base(goodFile))
			for _, g := range generations {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(goodFile), g.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(filepath.Dir(file), g.Name()), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(file, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, eng := simWorld(t)
			p, logs := newPoller(t, eng, file)
			if !p.recovered || !strings.Contains(logs.String(), "recovered its previous generation") ||
				!strings.Contains(logs.String(), file) {
				t.Fatalf("recovered %v, logs:\n%s", p.recovered, logs)
			}
			if got := recoveredValue(t, p); got != 1 {
				t.Fatalf("margin_state_recovered %v, want 1", got)
			}
			// The unusable file is kept for inspection, byte for byte.
			if b, err := os.ReadFile(file + corruptSuffix); err != nil || string(b) != tt.content {
				t.Fatalf("the unusable file was not set aside: %q, %v", b, err)
			}
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The first poll recounts the trailing days since the previous generation: every
			// counter is back where the lost generation had it, none fell, none doubled.
			assertNotBelow(t, exposed, p.state.totals)
			if got, want := netCost(p), netCost(old); got != want {
				t.Fatalf("net cost after recovery %s, want %s", got, want)
			}
			for k, v := range exposed.Cost {
				if p.state.totals.Cost[k] != v {
					t.Fatalf("cost %v: %s after recovery, %s before", k, p.state.totals.Cost[k], v)
				}
			}
			if _, err := loadState(file); err != nil {
				t.Fatalf("the poll did not write a good state file: %v", err)
			}
		})
	}
}

// recoveredValue is margin_state_recovered as the health collector exposes it.
func recoveredValue(t *testing.T, p *Poller) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collector().Health())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "margin_state_recovered" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no margin_state_recovered in the health collector")
	return 0
}

func TestNew_UnusableStateWithoutAPreviousGenerationIsRefused(t *testing.T) {
	_, eng := simWorld(t)
	for _, tt := range unusable {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(file, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(Options{Engine: eng, StateFile: file})
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "--state.reset") {
				t.Fatalf("New: %v, want a refusal naming %s and --state.reset", err, file)
			}
			if b, _ := os.ReadFile(file); string(b) != tt.content {
				t.Fatal("the refused file was changed")
			}
		})
	}
	t.Run("previous generation unusable too", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "state.json")
		for _, f := range []string{file, file + prevSuffix} {
			if err := os.WriteFile(f, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := New(Options{Engine: eng, StateFile: file})
		if err == nil || !strings.Contains(err.Error(), file+prevSuffix) {
			t.Fatalf("New: %v, want both files named", err)
		}
	})
}

func TestNew_StateResetStartsFromZeroOnlyWhenNothingIsUsable(t *testing.T) {
	w, eng := simWorld(t)
	want := truth(t, w, eng)
	file := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"cost_buckets":[{`), 0o600); err != nil {
		t.Fatal(err)
	}
	reset := func(o *Options) { o.StateReset = true }
	p, logs := newPoller(t, eng, file, reset)
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "counter reset") {
		t.Fatalf("want one log line announcing the counter reset, got:\n%s", logs)
	}
	if recoveredValue(t, p) != 0 || len(p.state.totals.Cost) != 0 {
		t.Fatal("a reset state is not a recovery and counts nothing yet")
	}
	if _, err := os.Stat(file + corruptSuffix); err != nil {
		t.Fatalf("the unusable file was not set aside: %v", err)
	}
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := netCost(p); got != want {
		t.Fatalf("recount %s, billed %s", got, want)
	}
	// The flag never discards a usable state.
	again, logs := newPoller(t, eng, file, reset)
	if !strings.Contains(logs.String(), "state loaded") || netCost(again) != want {
		t.Fatalf("--state.reset with a good state file: net %s, logs:\n%s", netCost(again), logs)
	}
}

// A crash after the new generation is written and before it is renamed leaves the old file and a
// temporary one: the next start loads the old state, removes the leftover, and counts on.
func TestSave_CrashBetweenWriteAndRenameKeepsTheOldState(t *testing.T) {
	file, old, exposed := twoGenerations(t)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// What Save does up to the rename, then the crash: half the bytes of a newer state.
	data := good[:len(good)/2]
	tmp, err := writeTemp(filepath.Dir(file), filepath.Base(file), data)
	if err != nil {
		t.Fatal(err)
	}
	p, logs := newPoller(t, old.opts.Engine, file)
	if p.recovered || !strings.Contains(logs.String(), "state loaded") {
		t.Fatalf("recovered %v, logs:\n%s", p.recovered, logs)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("the crash's temporary file %s is still there: %v", tmp, err)
	}
	assertNotBelow(t, exposed, p.state.totals)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if netCost(p) != netCost(old) {
		t.Fatalf("net cost %s after the crash, %s before", netCost(p), netCost(old))
	}

	// A crash after the current file became the previous generation and before the new one
	// landed (where hard links are unsupported): only file.prev is left, and it is recovered.
	if err := os.Rename(file, file+prevSuffix); err != nil {
		t.Fatal(err)
	}
	p, logs = newPoller(t, old.opts.Engine, file)
	if !p.recovered || recoveredValue(t, p) != 1 {
		t.Fatalf("want a recovery from %s, logs:\n%s", file+prevSuffix, logs)
	}
	assertNotBelow(t, exposed, p.state.totals)
}

func TestSave_KeepsThePreviousGenerationAndFailsNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json")
	st := newState()
	st.Since["openai"] = 7
	if err := st.Save(file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file + prevSuffix); !os.IsNotExist(err) {
		t.Fatalf("the first save has no previous generation to keep: %v", err)
	}
	st.Since["openai"] = 8
	if err := st.Save(file); err != nil {
		t.Fatal(err)
	}
	prev, err := loadState(file + prevSuffix)
	if err != nil || prev.Since["openai"] != 7 {
		t.Fatalf("previous generation %+v, %v; want since 7", prev, err)
	}
	cur, err := loadState(file)
	if err != nil || cur.Since["openai"] != 8 {
		t.Fatalf("current generation %+v, %v; want since 8", cur, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files beside the state: %v, want the state and its previous generation", entries)
	}
	missing := filepath.Join(dir, "no-such-dir", "state.json")
	if err := st.Save(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Save into a missing directory: %v, want an error naming %s", err, missing)
	}
}
