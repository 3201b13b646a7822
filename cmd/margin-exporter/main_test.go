package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/marginhq/margin/internal/simulator"
)

// worldNow pins the demo world, so tests can rebuild the same world and compare.
var worldNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

func init() { demoNow = func() time.Time { return worldNow } }

// start runs the exporter with args on a free loopback port until the test ends; it returns the
// base URL, the stop function (as SIGTERM would) and the run's result channel.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"--web.listen-address=127.0.0.1:0"}, args...), io.Discard, &syncWriter{b: &logs}, func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		stopped := false
		stop := func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			return <-done
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + a, stop
	case err := <-done:
		cancel()
		t.Fatalf("exporter exited: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("exporter did not start")
	}
	return "", nil
}

type syncWriter struct{ b *bytes.Buffer }

func (w *syncWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

func get(t *testing.T, url string, auth ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// tool finds a Prometheus binary: $env, else PATH, else fails; under -short it skips the test.
func tool(t *testing.T, name, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: runs %s", name)
	}
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found: set %s or put it on PATH (apt-get install prometheus, or "+
		"go install github.com/prometheus/prometheus/cmd/%s@v0.316.0; `make test` does this)", name, env, name)
	return ""
}

func TestRun_DemoScrapePassesPromtool(t *testing.T) {
	base, stop := start(t, "--demo")
	status, body := get(t, base+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{"margin_llm_cost_usd_total{", "margin_customer_info{", "margin_source_up{source=\"stripe\"} 1",
		"margin_exporter_build_info{", "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		rest := line[strings.LastIndex(line, "}")+1:]
		if !strings.Contains(line, "{") { // a series without labels: name, then the value
			_, rest, _ = strings.Cut(line, " ")
		}
		if strings.HasPrefix(line, "margin_") && len(strings.Fields(rest)) != 1 {
			t.Fatalf("sample with a timestamp or junk: %q", line)
		}
	}
	if !testing.Short() { // -short runs no peers; the rest of this test still runs
		cmd := exec.Command(tool(t, "promtool", "PROMTOOL_BIN"), "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
	status, landing := get(t, base+"/")
	if status != http.StatusOK || !strings.Contains(landing, `href="/metrics"`) {
		t.Fatalf("landing page %d does not link /metrics:\n%s", status, landing)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// simulatorConfig writes a config file for a simulated world served over HTTP until the test ends.
func simulatorConfig(t *testing.T, dir string) string {
	t.Helper()
	w := simulator.New(simulator.Config{Now: worldNow})
	sim := httptest.NewServer(w.Handler())
	t.Cleanup(sim.Close)
	oa, an, or, st := simulator.BaseURLs(sim.URL)
	cfg := fmt.Sprintf(`state_file: state.json
providers:
  openai: {admin_key: %s, base_url: %s}
  anthropic: {admin_key: %s, base_url: %s}
  openrouter: {management_key: %s, base_url: %s}
stripe: {api_key: %s, base_url: %s}
fx_rates: {eur: 1.08, gbp: 1.27}
`, simulator.OpenAIAdminKey, oa, simulator.AnthropicAdminKey, an, simulator.OpenRouterManagementKey, or, simulator.StripeAPIKey, st)
	file := filepath.Join(dir, "margin.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRun_FlushesTheStateFileOnShutdownAndContinuesFromIt(t *testing.T) {
	dir := t.TempDir()
	file := simulatorConfig(t, dir)
	base, stop := start(t, "--config.file="+file)
	_, first := get(t, base+"/metrics")
	if err := os.Remove(filepath.Join(dir, "state.json")); err != nil {
		t.Fatalf("no state file after the first fill: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		t.Fatalf("shutdown did not flush the state file: %v", err)
	}
	base, _ = start(t, "--config.file="+file)
	_, second := get(t, base+"/metrics")
	// The config run keeps the real clock, so today's estimate may have grown a little between
	// the runs; nothing may fall, and nothing may be counted twice.
	a, b := seriesValues(first), seriesValues(second)
	var sumA, sumB float64
	for k, v := range a {
		if b[k] < v {
			t.Errorf("%s fell from %v to %v across the restart", k, v, b[k])
		}
		sumA += v
	}
	for _, v := range b {
		sumB += v
	}
	if len(a) == 0 || sumB > sumA*1.001 {
		t.Fatalf("cost and revenue summed to %v before the restart and %v after: counted twice?", sumA, sumB)
	}
}

// seriesValues maps each cost and revenue series of an exposition to its value.
func seriesValues(exposition string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(l, "margin_llm_cost_usd_total{") || strings.HasPrefix(l, "margin_revenue_usd_total{") {
			i := strings.LastIndex(l, " ")
			v, err := strconv.ParseFloat(l[i+1:], 64)
			if err == nil {
				out[l[:i]] = v
			}
		}
	}
	return out
}

func TestRun_WebConfigRequiresBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := start(t, "--demo", "--web.config.file="+webConfig)
	if status, _ := get(t, base+"/metrics"); status != http.StatusUnauthorized {
		t.Fatalf("no credentials: status %d, want 401", status)
	}
	if status, body := get(t, base+"/metrics", "prometheus", "s3cret"); status != http.StatusOK || !strings.Contains(body, "margin_llm_cost_usd_total") {
		t.Fatalf("with credentials: status %d", status)
	}
}

func TestRun_RejectsABadWebConfig(t *testing.T) {
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--demo", "--web.config.file=" + webConfig}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--web.config.file") {
		t.Fatalf("err %v", err)
	}
}
