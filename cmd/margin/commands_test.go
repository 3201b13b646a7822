package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/simulator"
)

// lockedBuffer is a bytes.Buffer a command may write to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// worldConfig writes a config file for the simulated world served at root and returns its path.
func worldConfig(t *testing.T, root string) string {
	t.Helper()
	oa, an, or, st := simulator.BaseURLs(root)
	cfg := fmt.Sprintf(`providers:
  openai: {admin_key: %s, base_url: %s}
  anthropic: {admin_key: %s, base_url: %s}
  openrouter: {management_key: %s, base_url: %s}
stripe: {api_key: %s, base_url: %s}
fx_rates: {eur: 1.08, gbp: 1.27}
`, simulator.OpenAIAdminKey, oa, simulator.AnthropicAdminKey, an, simulator.OpenRouterManagementKey, or, simulator.StripeAPIKey, st)
	file := filepath.Join(t.TempDir(), "margin.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// margin simulate serves a world the other commands can read, until its context ends.
func TestSimulate_ServesAWorldThatCheckPassesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"simulate", "--listen=127.0.0.1:0"}, &out, &bytes.Buffer{}) }()
	serving := regexp.MustCompile(`Simulated world serving on (http://127\.0\.0\.1:\d+)\n`)
	var root string
	for deadline := time.Now().Add(30 * time.Second); root == ""; {
		if m := serving.FindStringSubmatch(out.String()); m != nil {
			root = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("simulate ended: %v\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("simulate printed no address:\n%s", out.String())
		}
	}
	oa, _, _, st := simulator.BaseURLs(root)
	for _, u := range []string{oa, st} {
		if !strings.Contains(out.String(), u) {
			t.Errorf("simulate did not print %s:\n%s", u, out.String())
		}
	}
	stdout, stderr, err := runCLI(t, "check", "--config.file="+worldConfig(t, root))
	if err != nil || !strings.Contains(stdout, "config: ok") {
		t.Fatalf("check against the served world: %v\n%s%s", err, stdout, stderr)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("simulate after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("simulate did not stop when cancelled")
	}
	if resp, err := http.Get(st + "/v1/customers"); err == nil { // #nosec G107 -- the test's own loopback server
		resp.Body.Close()
		t.Error("the simulator still answers after it stopped")
	}
}

func TestSimulate_BusyAddressIsAUsageErrorNamingTheFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, _, err = runCLI(t, "simulate", "--listen="+busy.Addr().String())
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--listen "+busy.Addr().String()) {
		t.Fatalf("err %v (code %d), want code 2 naming --listen", err, exitCode(err))
	}
	// The exit code wraps the cause, so callers can still tell what happened.
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("%v does not unwrap to EADDRINUSE", err)
	}
}

func TestVersion_PrintsTheBuildInfo(t *testing.T) {
	stdout, _, err := runCLI(t, "version")
	if err != nil || !strings.HasPrefix(stdout, "margin, version ") || !strings.Contains(stdout, "go version:") {
		t.Fatalf("version: %v\n%s", err, stdout)
	}
}

func TestReport_NegativeDaysIsAUsageError(t *testing.T) {
	_, _, err := runCLI(t, "report", "--demo", "--days=-3")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--days -3") {
		t.Fatalf("err %v (code %d)", err, exitCode(err))
	}
}

func TestProgressPrinter_OneLinePerSourceEvent(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b)
	p("openai", false, 0, nil)
	p("openai", true, 1234567*time.Microsecond, nil)
	p("stripe", true, 2*time.Second, errors.New("HTTP 401"))
	want := "  openai     fetching…\n  openai     done in 1.235s\n  stripe     failed after 2s\n"
	if b.String() != want {
		t.Errorf("progress:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestIsTerminal_FilesAndBuffersAreNot(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	closed, err := os.CreateTemp(t.TempDir(), "closed")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close() // Stat fails
	for name, out := range map[string]interface{ Write([]byte) (int, error) }{
		"buffer": &bytes.Buffer{}, "regular file": f, "pipe": w, "closed file": closed,
	} {
		if isTerminal(out) {
			t.Errorf("%s reported as a terminal", name)
		}
	}
}

// Backfill from a config file continues the exporter of that config; a failed source, an output
// directory that does not exist and an output path that is a directory are errors that leave no
// file behind.
func TestBackfill_ConfigFileAndItsFailures(t *testing.T) {
	w := simulator.New(simulator.Config{Now: time.Now()})
	h := w.Handler()
	var failOpenAI bool
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := failOpenAI
		mu.Unlock()
		if fail && strings.HasPrefix(r.URL.Path, "/openai/") {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusUnauthorized)
			_, _ = rw.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`))
			return
		}
		h.ServeHTTP(rw, r)
	}))
	defer srv.Close()
	cfg := worldConfig(t, srv.URL)
	dir := t.TempDir()

	out := filepath.Join(dir, "margin.om")
	stdout, _, err := runCLI(t, "backfill", "--config.file="+cfg, "--output="+out)
	if err != nil || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("backfill from the config file: %v\n%s", err, stdout)
	}
	if data, err := os.ReadFile(out); err != nil || !bytes.Contains(data, []byte("margin_llm_cost_usd_total{")) {
		t.Fatalf("%s: %v, no cost samples", out, err)
	}

	_, _, err = runCLI(t, "backfill", "--config.file="+cfg, "--output="+filepath.Join(dir, "missing", "x.om"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
		t.Errorf("output in a missing directory: %v", err)
	}
	asDir := filepath.Join(dir, "adir")
	if err := os.MkdirAll(filepath.Join(asDir, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err = runCLI(t, "backfill", "--config.file="+cfg, "--output="+asDir); err == nil || !strings.Contains(err.Error(), asDir) {
		t.Errorf("output onto a directory: %v", err)
	}

	mu.Lock()
	failOpenAI = true
	mu.Unlock()
	failed := filepath.Join(dir, "failed.om")
	_, _, err = runCLI(t, "backfill", "--config.file="+cfg, "--output="+failed)
	if exitCode(err) != 1 || !strings.HasPrefix(err.Error(), "backfill:\n  ") ||
		!strings.Contains(err.Error(), "openai: GET /organization/projects: HTTP 401") { // sources are listed first: they size the pages
		t.Fatalf("backfill with openai refusing the key: %v (code %d)", err, exitCode(err))
	}
	if _, err := os.Stat(failed); err == nil {
		t.Error("a failed backfill left its output file")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
