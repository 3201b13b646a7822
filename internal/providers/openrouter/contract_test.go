package openrouter

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
	checked := 0
	for _, ep := range []struct {
		path  string
		check func(pages [][]byte) (elements int, err error)
	}{
		{keysEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.Data[[]Key]](pages, readFixtures(t, "keys.json", "keys_research.json"))
			return elements(got, func(p apiclient.Data[[]Key]) int { return sliceLen(p.Data) }), err
		}},
		{activityEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.Data[[]ActivityItem]](pages, readFixtures(t,
				"activity_account.json", "activity_acme.json", "activity_legacy.json", "activity_pilot.json", "activity_research.json"))
			return elements(got, func(p apiclient.Data[[]ActivityItem]) int { return sliceLen(p.Data) }), err
		}},
		{workspacesEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[workspacesPage](pages, readFixtures(t, "workspaces.json"))
			return elements(got, func(p workspacesPage) int { return len(p.Data) }), err
		}},
		{currentKeyEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.Data[CurrentKey]](pages, readFixtures(t, "key_management.json", "key_inference.json"))
			return elements(got, func(p apiclient.Data[CurrentKey]) int { return boolInt(p.Data != nil) }), err
		}},
		{creditsEndpoint, func(pages [][]byte) (int, error) {
			got, err := pagecontract.Check[apiclient.Data[Credits]](pages, readFixtures(t, "credits.json"))
			return elements(got, func(p apiclient.Data[Credits]) int { return boolInt(p.Data != nil) }), err
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

// elements counts the data elements of every page that decoded.
func elements[P any](pages []P, count func(P) int) int {
	n := 0
	for _, p := range pages {
		n += count(p)
	}
	return n
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
