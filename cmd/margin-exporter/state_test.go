package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/simulator"
)

// An unusable state file without a previous generation stops the exporter with an error naming
// the file; --state.reset lets it start from zero.
func TestRun_UnusableStateFileNeedsStateReset(t *testing.T) {
	w := simulator.New(simulator.Config{Now: worldNow})
	sim := httptest.NewServer(w.Handler())
	defer sim.Close()
	dir := t.TempDir()
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
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte(`{"version":1,"cost_buckets":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--config.file=" + file, "--web.listen-address=127.0.0.1:0"}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), state) || !strings.Contains(err.Error(), "--state.reset") {
		t.Fatalf("run: %v, want a refusal naming %s", err, state)
	}
	base, stop := start(t, "--config.file="+file, "--state.reset")
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, "margin_llm_cost_usd_total") ||
		!strings.Contains(body, "margin_state_recovered 0") {
		t.Fatalf("after --state.reset: no counters or no margin_state_recovered 0:\n%s", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state + ".corrupt"); err != nil {
		t.Fatalf("the unusable file was not set aside: %v", err)
	}
}
