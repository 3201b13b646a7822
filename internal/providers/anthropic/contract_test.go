package anthropic

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
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
	checked := 0
	for _, ep := range []struct {
		path  string
		check func(pages [][]byte) (elements int, err error)
	}{
		{usageEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.CursorEnvelope[UsageBucket]](pages, readFixtures(t, "usage_page1.json", "usage_page2.json"))
			return elements(got, func(p apiclient.CursorEnvelope[UsageBucket]) int { return len(p.Data) }), err
		}},
		{costEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.CursorEnvelope[CostBucket]](pages, readFixtures(t, "cost_page1.json", "cost_page2.json"))
			return elements(got, func(p apiclient.CursorEnvelope[CostBucket]) int { return len(p.Data) }), err
		}},
		{workspacesEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.ListEnvelope[Workspace]](pages, readFixtures(t, "workspaces_page1.json", "workspaces_page2.json"))
			return elements(got, func(p apiclient.ListEnvelope[Workspace]) int { return len(p.Data) }), err
		}},
		{apiKeysEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.ListEnvelope[APIKey]](pages, readFixtures(t, "api_keys_page1.json", "api_keys_page2.json"))
			return elements(got, func(p apiclient.ListEnvelope[APIKey]) int { return len(p.Data) }), err
		}},
	} {
		pages := rec.Pages(func(p string) bool { return p == prefix+ep.path })
		checked += len(pages)
		t.Run(ep.path, func(t *testing.T) {
			n, err := ep.check(pages)
			if err != nil {
				t.Error(err)
			}
			if n == 0 {
				t.Errorf("%d pages, no element in any", len(pages))
			}
		})
	}
	if all := rec.Pages(func(string) bool { return true }); checked != len(all) {
		t.Errorf("checked %d of the %d pages the client read: %v", checked, len(all), rec.Paths())
	}
}

// elements counts the data elements of every page.
func elements[P any](pages []P, count func(P) int) int {
	n := 0
	for _, p := range pages {
		n += count(p)
	}
	return n
}

func readFixtures(t *testing.T, names ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
