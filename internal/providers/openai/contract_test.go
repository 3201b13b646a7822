package openai

import (
	"context"
	"net/http"
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
	is := func(path string) func(string) bool { return pagecontract.Path(prefix + path) }
	keys := func(p string) bool {
		return strings.HasPrefix(p, prefix+"/organization/projects/") && strings.HasSuffix(p, "/api_keys")
	}
	endpoints := make([]pagecontract.Endpoint, 0, len(usageEndpoints)+3)
	for _, ep := range usageEndpoints {
		fixtures := []string{string(ep) + ".json"}
		if ep == Completions {
			fixtures = []string{"completions_page1.json", "completions_page2.json"}
		}
		endpoints = append(endpoints, pagecontract.Endpoint{Name: string(ep), Match: is(ep.Path()), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, fixtures...), func(p apiclient.CursorEnvelope[UsageBucket]) int { return len(p.Data) })
		}})
	}
	pagecontract.Run(t, rec, append(endpoints,
		pagecontract.Endpoint{Name: "costs", Match: is(costsEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "costs_page1.json", "costs_page2.json"),
				func(p apiclient.CursorEnvelope[CostBucket]) int { return len(p.Data) })
		}},
		pagecontract.Endpoint{Name: "projects", Match: is(projectsEndpoint), Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "projects_page1.json", "projects_page2.json"),
				func(p apiclient.ListEnvelope[Project]) int { return len(p.Data) })
		}},
		pagecontract.Endpoint{Name: "api_keys", Match: keys, Check: func(t *testing.T, pages [][]byte) (int, error) {
			return pagecontract.Count(pages, pagecontract.Fixtures(t, "keys_acme_page1.json", "keys_acme_page2.json", "keys_pilot.json"),
				func(p apiclient.ListEnvelope[ProjectAPIKey]) int { return len(p.Data) })
		}},
	))
}
