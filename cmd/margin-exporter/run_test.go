package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/marginhq/margin/internal/simulator"
)

// simConfig writes a config file reading the simulated world over HTTP, with extra appended at
// the root; it returns the file and its directory (where the state file goes).
func simConfig(t *testing.T, extra string) (file, dir string) {
	t.Helper()
	w := simulator.New(simulator.Config{Now: worldNow})
	sim := httptest.NewServer(w.Handler())
	t.Cleanup(sim.Close)
	dir = t.TempDir()
	oa, an, or, st := simulator.BaseURLs(sim.URL)
	cfg := fmt.Sprintf(`state_file: %s
providers:
  openai: {admin_key: %s, base_url: %s}
  anthropic: {admin_key: %s, base_url: %s}
  openrouter: {management_key: %s, base_url: %s}
stripe: {api_key: %s, base_url: %s}
fx_rates: {eur: 1.08, gbp: 1.27}
%s`, filepath.Join(dir, "state.json"), simulator.OpenAIAdminKey, oa, simulator.AnthropicAdminKey, an,
		simulator.OpenRouterManagementKey, or, simulator.StripeAPIKey, st, extra)
	file = filepath.Join(dir, "margin.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, dir
}

func TestRun_WithoutConfigFileOrDemoSaysWhatIsNeeded(t *testing.T) {
	err := run(context.Background(), nil, io.Discard, io.Discard, nil)
	if err == nil || err.Error() != "--config.file is required (or --demo for the simulated world)" {
		t.Fatalf("run without flags: %v", err)
	}
}

func TestRun_ConfigErrorsNameTheFileAndKey(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if err := run(context.Background(), []string{"--config.file=" + missing}, io.Discard, io.Discard, nil); err == nil ||
		!strings.Contains(err.Error(), missing) {
		t.Fatalf("missing config file: %v, want an error naming %s", err, missing)
	}
	bad := filepath.Join(t.TempDir(), "margin.yaml")
	if err := os.WriteFile(bad, []byte("poll_interval: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"--config.file=" + bad}, io.Discard, io.Discard, nil); err == nil ||
		!strings.Contains(err.Error(), "poll_interval") {
		t.Fatalf("bad config: %v, want an error naming poll_interval", err)
	}
}

func TestRun_UnknownFlagIsKingpinsError(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--no-such-flag"}, io.Discard, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown long flag '--no-such-flag'") {
		t.Fatalf("err %v", err)
	}
}

// A port already taken fails the run with the flag named, and releases the addresses it had
// bound before it.
func TestRun_BusyListenAddressIsAnErrorAndFreesTheOthers(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	err = run(context.Background(), []string{"--demo", "--web.listen-address=" + freeAddr, "--web.listen-address=" + busy.Addr().String()},
		io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--web.listen-address") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err %v, want --web.listen-address: address already in use", err)
	}
	again, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("the first address was not released: %v", err)
	}
	again.Close()
}

// --web.systemd-socket goes through the exporter toolkit; outside systemd there is no socket, and
// the error names the flag.
func TestRun_ToolkitListenersNameTheirFlag(t *testing.T) {
	t.Setenv("LISTEN_PID", "")
	t.Setenv("LISTEN_FDS", "")
	err := run(context.Background(), []string{"--demo", "--web.systemd-socket"}, io.Discard, io.Discard, nil)
	if err == nil || err.Error() != "--web.systemd-socket: no socket activation file descriptors found" {
		t.Fatalf("--web.systemd-socket without systemd's sockets: %v", err)
	}
	// vsock addresses go through the toolkit too; their errors name the listen flag.
	err = run(context.Background(), []string{"--demo", "--web.listen-address=vsock://nope"}, io.Discard, io.Discard, nil)
	if err == nil || err.Error() != "--web.listen-address: address nope: missing port in address" {
		t.Fatalf("a vsock address without a port: %v", err)
	}
}

func TestRun_MetricsAtTheRootHaveNoLandingPage(t *testing.T) {
	base, _ := start(t, "--demo", "--web.telemetry-path=/")
	status, body := get(t, base+"/")
	if status != http.StatusOK || !strings.Contains(body, "margin_llm_cost_usd_total") || strings.Contains(body, "<html") {
		t.Fatalf("GET /: status %d, want the metrics:\n%.300s", status, body)
	}
}

// pushTarget records the bodies pushed to it and answers with status.
type pushTarget struct {
	mu     sync.Mutex
	bodies []string
	status int
}

func (p *pushTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.bodies = append(p.bodies, string(b))
	p.mu.Unlock()
	w.WriteHeader(p.status)
}

func (p *pushTarget) pushes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bodies...)
}

// Push mode sends the exposition after the first fill and once more at shutdown, so the target
// has the last values without waiting an interval.
func TestRun_PushesAfterTheFirstFillAndAtShutdown(t *testing.T) {
	target := &pushTarget{status: http.StatusNoContent}
	srv := httptest.NewServer(target)
	defer srv.Close()
	file, _ := simConfig(t, "push: {url: "+srv.URL+"/api/v1/import/prometheus, interval: 1h}\n")
	_, stop := start(t, "--config.file="+file)
	if n := len(target.pushes()); n < 1 {
		t.Fatalf("%d pushes after the first fill, want one", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := target.pushes()
	if len(got) != 2 {
		t.Fatalf("%d pushes, want two (first fill and shutdown)", len(got))
	}
	for i, b := range got {
		if !strings.Contains(b, "margin_llm_cost_usd_total{") {
			t.Errorf("push %d has no cost counters:\n%.300s", i, b)
		}
	}
}

// A push target that refuses is logged, not fatal: the exporter keeps serving and shuts down cleanly.
func TestRun_AFailingPushTargetIsLoggedNotFatal(t *testing.T) {
	target := &pushTarget{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(target)
	defer srv.Close()
	file, _ := simConfig(t, "push: {url: "+srv.URL+"/api/v1/import/prometheus}\n")
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		done <- run(ctx, []string{"--config.file=" + file, "--web.listen-address=127.0.0.1:0"}, io.Discard, &syncWriter{b: &logs},
			func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		if status, _ := get(t, "http://"+a+"/metrics"); status != http.StatusOK {
			t.Errorf("metrics status %d with a failing push target", status)
		}
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, want := range []string{`msg="push failed"`, `msg="final push failed"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

// A state file that cannot be written at shutdown is the run's error: the operator must learn
// that counters since the last save were not kept.
func TestRun_UnwritableStateAtShutdownIsAnError(t *testing.T) {
	file, dir := simConfig(t, "")
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(filepath.Join(dir, "state.json")), []byte(filepath.Join(stateDir, "state.json")), 1)
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stop := start(t, "--config.file="+file)
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), "flushing state") || !strings.Contains(err.Error(), stateDir) {
		t.Fatalf("stop: %v, want a flushing state error naming %s", err, stateDir)
	}
}
