package anthropic

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/pagecontract"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// The simulator's Anthropic Admin API pages are the real API's: the client's own Fetch and Check
// read every endpoint from the simulated world, and each page they read decodes into the
// client's page type with unknown fields rejected, with the fields of the testdata pages (the
// documented API) and no invented ones.
func TestContract_SimulatorPagesMatchTheClientAndTheFixtures(t *testing.T) {
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)})
	rec := &pagecontract.Recorder{Next: w.Transport()}
	_, base, _, _ := simulator.BaseURLs("http://sim.invalid")
	c, err := New(Options{AdminKey: secret.String(simulator.AnthropicAdminKey), BaseURL: base,
		HTTPClient: &http.Client{Transport: rec}, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check against the simulator: %v", err)
	}
	if _, err := c.Fetch(ctx, usage.LastCompleteDays(w.Now(), 31)); err != nil {
		t.Fatalf("Fetch from the simulator: %v", err)
	}
	const prefix = "/anthropic"
	pagecontract.Run(t, rec, []pagecontract.Endpoint{
		{Name: usageEndpoint, Match: pagecontract.Path(prefix + usageEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "usage_page1.json", "usage_page2.json"),
				func(p apiclient.CursorEnvelope[UsageBucket]) int { return len(p.Data) })
		}},
		{Name: costEndpoint, Match: pagecontract.Path(prefix + costEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "cost_page1.json", "cost_page2.json"),
				func(p apiclient.CursorEnvelope[CostBucket]) int { return len(p.Data) })
		}},
		{Name: workspacesEndpoint, Match: pagecontract.Path(prefix + workspacesEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "workspaces_page1.json", "workspaces_page2.json"),
				func(p apiclient.ListEnvelope[Workspace]) int { return len(p.Data) })
		}},
		{Name: apiKeysEndpoint, Match: pagecontract.Path(prefix + apiKeysEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "api_keys_page1.json", "api_keys_page2.json"),
				func(p apiclient.ListEnvelope[APIKey]) int { return len(p.Data) })
		}},
	})
}
