package plugin

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/simulator"
)

// closedPort returns a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestCheckHealth_PerFailureClass(t *testing.T) {
	const wrongKey = "sk-ant-admin01-wrong-0000000000000000000000"
	for _, tc := range []struct {
		name    string
		edit    func(j map[string]any, secure map[string]string)
		failing string // simulator API answering 403
		status  backend.HealthStatus
		message string
		class   string // the failing source's class in the JSON details
	}{
		{name: "ok", status: backend.HealthStatusOk, message: "Connected to openai, anthropic, openrouter, stripe"},
		{name: "bad key", edit: func(_ map[string]any, s map[string]string) { s["anthropicAdminKey"] = wrongKey },
			status: backend.HealthStatusError, class: "auth",
			message: "anthropic: the key was rejected (HTTP 401): check that it is correct and not revoked (working: openai, openrouter, stripe)"},
		{name: "missing permission", failing: "stripe", status: backend.HealthStatusError, class: "permission",
			message: "stripe: the key lacks permission (HTTP 403): an admin or management key is needed (working: openai, anthropic, openrouter)"},
		{name: "unreachable", edit: func(j map[string]any, _ map[string]string) { j["openrouterBaseUrl"] = closedPort(t) },
			status: backend.HealthStatusError, class: "unreachable",
			message: "openrouter: unreachable: no response from the API (working: openai, anthropic, stripe)"},
		{name: "invalid settings", edit: func(j map[string]any, s map[string]string) {
			j["openaiBaseUrl"] = "api.openai.com"
			j["fxRates"] = map[string]any{"EUR": 1.08}
			delete(s, "stripeApiKey")
		}, status: backend.HealthStatusError,
			message: `Settings: openaiBaseUrl: want an absolute http or https URL, got "api.openai.com"; fxRates.EUR: want a 3-letter lower-case currency code such as eur`},
		{name: "no provider key", edit: func(_ map[string]any, s map[string]string) {
			delete(s, "openaiAdminKey")
			delete(s, "anthropicAdminKey")
			delete(s, "openrouterManagementKey")
		}, status: backend.HealthStatusError,
			message: "Settings: secureJsonData: no provider key: set openaiAdminKey, anthropicAdminKey or openrouterManagementKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t, simulator.Config{})
			if tc.failing != "" {
				s.world.SetFailing(tc.failing, 403)
			}
			ds := s.datasource(t, tc.edit)
			res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Message != tc.message {
				t.Fatalf("got %v %q\nwant %v %q", res.Status, res.Message, tc.status, tc.message)
			}
			for _, k := range []string{wrongKey, simulator.OpenAIAdminKey, simulator.AnthropicAdminKey, simulator.OpenRouterManagementKey, simulator.StripeAPIKey} {
				if strings.Contains(res.Message, k) || strings.Contains(string(res.JSONDetails), k) {
					t.Fatalf("health result echoes a key: %q %s", res.Message, res.JSONDetails)
				}
			}
			if tc.class == "" {
				return
			}
			var details struct{ Sources []SourceHealth }
			if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
				t.Fatal(err)
			}
			var classes []string
			for _, sh := range details.Sources {
				if !sh.OK {
					classes = append(classes, sh.Source+"="+sh.Class)
				}
			}
			if len(classes) != 1 || !strings.HasSuffix(classes[0], "="+tc.class) {
				t.Fatalf("failing sources %v, want one with class %s", classes, tc.class)
			}
		})
	}
}
