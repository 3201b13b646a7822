package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/simulator"
)

// A source answering "data": null is a failed source: the report exits non-zero naming it,
// instead of printing numbers without it.
func TestReport_NullDataExitsNonZeroNamingTheSource(t *testing.T) {
	for _, tc := range []struct{ name, suffix, source string }{
		{"openrouter activity", "/activity", "openrouter"},
		{"openai costs", "/organization/costs", "openai"},
		{"anthropic cost report", "/cost_report", "anthropic"},
		{"stripe invoices", "/v1/invoices", "stripe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := simulator.New(simulator.Config{Now: time.Now()})
			h := w.Handler()
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, tc.suffix) {
					rw.Header().Set("Content-Type", "application/json")
					_, _ = rw.Write([]byte(`{"object":"list","data":null,"has_more":false,"next_page":null}`))
					return
				}
				h.ServeHTTP(rw, r)
			}))
			defer srv.Close()
			oa, an, or, st := simulator.BaseURLs(srv.URL)
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
			out, _, err := runCLI(t, "report", "--config.file="+file, "--days=3")
			if exitCode(err) == 0 || !strings.Contains(err.Error(), tc.source) || !strings.Contains(err.Error(), "null or missing") {
				t.Fatalf("report: exit %d, err %v, want non-zero naming %s; stdout:\n%s", exitCode(err), err, tc.source, out)
			}
		})
	}
}

// margin check reports a key of the wrong kind with its key path, before calling any API.
func TestCheck_WrongKeyKindNamesThePath(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "margin.yaml")
	if err := os.WriteFile(cfg, []byte("providers:\n  openai:\n    admin_key: sk-proj-SECRETSECRET123\n    base_url: http://127.0.0.1:1/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "check", "--config.file="+cfg)
	if exitCode(err) != 2 {
		t.Fatalf("exit %d (%v), want 2 for a config problem", exitCode(err), err)
	}
	all := out + errOut + err.Error()
	if !strings.Contains(all, "providers.openai.admin_key: this is an OpenAI project API key") || !strings.Contains(all, "sk-admin-") {
		t.Fatalf("check does not name the key path and the kind needed:\n%s", all)
	}
	if strings.Contains(all, "SECRETSECRET") {
		t.Fatal("the key leaked into the output")
	}
}
