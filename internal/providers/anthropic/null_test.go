package anthropic

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// A report or list page whose data, or a bucket's results, is null or missing is a decode error
// naming the provider, the endpoint and the field: never a bill silently replaced by estimates.
func TestFetch_NullOrMissingDataIsADecodeError(t *testing.T) {
	report := []struct{ name, body, field string }{
		{"data null", `{"data":null,"has_more":false,"next_page":null}`, "data"},
		{"data missing", `{"has_more":false,"next_page":null}`, "data"},
		{"results null", `{"data":[{"starting_at":"2026-08-01T00:00:00Z","ending_at":"2026-08-02T00:00:00Z","results":null}],"has_more":false,"next_page":null}`, "data[0].results"},
		{"results missing", `{"data":[{"starting_at":"2026-08-01T00:00:00Z","ending_at":"2026-08-02T00:00:00Z"}],"has_more":false,"next_page":null}`, "data[0].results"},
	}
	list := []struct{ name, body, field string }{
		{"data null", `{"data":null,"has_more":false,"first_id":null,"last_id":null}`, "data"},
		{"data missing", `{"has_more":false,"first_id":null,"last_id":null}`, "data"},
	}
	cases := map[string][]struct{ name, body, field string }{
		usageEndpoint: report, costEndpoint: report, workspacesEndpoint: list, apiKeysEndpoint: list,
	}
	for ep, bodies := range cases {
		for _, b := range bodies {
			t.Run(ep+" "+b.name, func(t *testing.T) {
				f := newFake(t)
				f.handle(ep, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(b.body))
				})
				c, _ := newTestClient(t, f)
				_, err := c.Fetch(context.Background(), fixtureWindow(t))
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Fetch: %v, want a *apiclient.DecodeError", err)
				}
				for _, want := range []string{"anthropic", ep, b.field + " is null or missing"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
}
