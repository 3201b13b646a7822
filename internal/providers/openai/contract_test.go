package openai

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/pagecontract"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// The simulator's OpenAI pages are the real API's: the client's own Fetch reads every endpoint
// from the simulated world, and each page it read decodes into the client's page type with
// unknown fields rejected, with the fields of the testdata pages (the documented API) and no
// invented ones.
func TestContract_SimulatorPagesMatchTheClientAndTheFixtures(t *testing.T) {
	w := simulator.New(simulator.Config{Now: time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)})
	checkContract(t, w)
}

func checkContract(t *testing.T, w *simulator.World) {
	t.Helper()
	rec := &pagecontract.Recorder{Next: w.Transport()}
	base, _, _, _ := simulator.BaseURLs("http://sim.invalid")
	c, err := New(Options{AdminKey: secret.String(simulator.OpenAIAdminKey), BaseURL: base,
		HTTPClient: &http.Client{Transport: rec}, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), usage.LastCompleteDays(w.Now(), 31)); err != nil {
		t.Fatalf("Fetch from the simulator: %v", err)
	}
	const prefix = "/openai/v1"
	is := func(path string) func(string) bool { return func(p string) bool { return p == prefix+path } }
	keys := func(p string) bool {
		return strings.HasPrefix(p, prefix+"/organization/projects/") && strings.HasSuffix(p, "/api_keys")
	}
	checked := 0
	for _, ep := range usageEndpoints {
		var fixtures []string
		switch ep {
		case Completions:
			fixtures = []string{"completions_page1.json", "completions_page2.json"}
		default:
			fixtures = []string{string(ep) + ".json"}
		}
		pages := rec.Pages(is(ep.Path()))
		checked += len(pages)
		t.Run(string(ep), func(t *testing.T) {
			got, err := pagecontract.Check[apiclient.CursorEnvelope[UsageBucket]](pages, readFixtures(t, fixtures...))
			if err != nil {
				t.Error(err)
			}
			if n := elements(got, func(p apiclient.CursorEnvelope[UsageBucket]) int { return len(p.Data) }); n == 0 {
				t.Errorf("%d pages, no bucket", len(got))
			}
		})
	}
	pages := rec.Pages(is(costsEndpoint))
	checked += len(pages)
	t.Run("costs", func(t *testing.T) {
		got, err := pagecontract.Check[apiclient.CursorEnvelope[CostBucket]](pages, readFixtures(t, "costs_page1.json", "costs_page2.json"))
		if err != nil {
			t.Error(err)
		}
		if n := elements(got, func(p apiclient.CursorEnvelope[CostBucket]) int { return len(p.Data) }); n == 0 {
			t.Errorf("%d pages, no bucket", len(got))
		}
	})
	pages = rec.Pages(is(projectsEndpoint))
	checked += len(pages)
	t.Run("projects", func(t *testing.T) {
		got, err := pagecontract.Check[apiclient.ListEnvelope[Project]](pages, readFixtures(t, "projects_page1.json", "projects_page2.json"))
		if err != nil {
			t.Error(err)
		}
		if n := elements(got, func(p apiclient.ListEnvelope[Project]) int { return len(p.Data) }); n == 0 {
			t.Errorf("%d pages, no project", len(got))
		}
	})
	pages = rec.Pages(keys)
	checked += len(pages)
	t.Run("api_keys", func(t *testing.T) {
		got, err := pagecontract.Check[apiclient.ListEnvelope[ProjectAPIKey]](pages, readFixtures(t, "keys_acme_page1.json", "keys_acme_page2.json", "keys_pilot.json"))
		if err != nil {
			t.Error(err)
		}
		if n := elements(got, func(p apiclient.ListEnvelope[ProjectAPIKey]) int { return len(p.Data) }); n == 0 {
			t.Errorf("%d pages, no key", len(got))
		}
	})
	if all := rec.Pages(func(string) bool { return true }); checked != len(all) {
		t.Errorf("checked %d of the %d pages Fetch read: %v", checked, len(all), rec.Paths())
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
