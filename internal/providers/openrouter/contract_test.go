package openrouter

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

// The simulator's OpenRouter management API pages are the real API's: the client's own Fetch,
// Check and Credits read every endpoint from the simulated world, and each page they read decodes
// into the client's page type with unknown fields rejected, with the fields of the testdata pages
// (the documented API) and no invented ones.
func TestContract_SimulatorPagesMatchTheClientAndTheFixtures(t *testing.T) {
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)})
	rec := &pagecontract.Recorder{Next: w.Transport()}
	_, _, base, _ := simulator.BaseURLs("http://sim.invalid")
	c, err := New(Options{ManagementKey: secret.String(simulator.OpenRouterManagementKey), BaseURL: base,
		HTTPClient: &http.Client{Transport: rec}, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check against the simulator: %v", err)
	}
	if _, err := c.Credits(ctx); err != nil {
		t.Fatalf("Credits from the simulator: %v", err)
	}
	if _, err := c.Fetch(ctx, usage.LastCompleteDays(w.Now(), 30)); err != nil {
		t.Fatalf("Fetch from the simulator: %v", err)
	}
	// ListWorkspaces' page type, as workspaces_api.go declares it in place.
	type workspacesPage struct {
		Data       []Workspace `json:"data"`
		TotalCount *int        `json:"total_count"`
	}
	const prefix = "/openrouter/api/v1"
	endpoint := func(path string, check func(t *testing.T, pages [][]byte) (int, error)) pagecontract.Endpoint {
		return pagecontract.Endpoint{Name: path, Match: pagecontract.Path(prefix + path), Check: check}
	}
	pagecontract.Run(t, rec, []pagecontract.Endpoint{
		endpoint(keysEndpoint, func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "keys.json", "keys_research.json"),
				func(p apiclient.Data[[]Key]) int { return sliceLen(p.Data) })
		}),
		endpoint(activityEndpoint, func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t,
				"activity_account.json", "activity_acme.json", "activity_legacy.json", "activity_pilot.json", "activity_research.json"),
				func(p apiclient.Data[[]ActivityItem]) int { return sliceLen(p.Data) })
		}),
		endpoint(workspacesEndpoint, func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "workspaces.json"), func(p workspacesPage) int { return len(p.Data) })
		}),
		endpoint(currentKeyEndpoint, func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "key_management.json", "key_inference.json"),
				func(p apiclient.Data[CurrentKey]) int { return boolInt(p.Data != nil) })
		}),
		endpoint(creditsEndpoint, func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "credits.json"),
				func(p apiclient.Data[Credits]) int { return boolInt(p.Data != nil) })
		}),
	})
}

func sliceLen[E any](s *[]E) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
