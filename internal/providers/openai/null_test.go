package openai

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// A page whose data (or a bucket's results) is null or missing is a decode error naming the
// provider, the endpoint and the field, on every endpoint Fetch reads: never a smaller bill.
func TestFetch_NullOrMissingDataIsADecodeError(t *testing.T) {
	w := usage.Window{From: day("2026-08-09"), To: day("2026-08-10")}
	c, f, _ := setup(t, emptyRoutes)
	if _, err := c.Fetch(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	var endpoints []string
	for _, r := range f.requests() {
		if p := strings.TrimPrefix(r.Path, "/v1"); !slices.Contains(endpoints, p) {
			endpoints = append(endpoints, p)
		}
	}
	if !slices.Contains(endpoints, costsEndpoint) || !slices.Contains(endpoints, "/organization/usage/completions") {
		t.Fatalf("Fetch read %v: want the costs and usage endpoints among them", endpoints)
	}
	bodies := []struct{ name, body, field string }{
		{"data null", `{"object":"page","data":null,"has_more":false,"next_page":null}`, "data"},
		{"data missing", `{"object":"page","has_more":false,"next_page":null}`, "data"},
		{"results null", `{"object":"page","data":[{"object":"bucket","start_time":1786233600,"end_time":1786320000,"results":null}],"has_more":false,"next_page":null}`, "data[0].results"},
		{"results missing", `{"object":"page","data":[{"object":"bucket","start_time":1786233600,"end_time":1786320000}],"has_more":false,"next_page":null}`, "data[0].results"},
	}
	for _, ep := range endpoints {
		for _, b := range bodies {
			if strings.HasPrefix(ep, projectsEndpoint) && strings.HasPrefix(b.field, "data[0]") {
				continue // lists have no buckets
			}
			t.Run(ep+" "+b.name, func(t *testing.T) {
				c, _, _ := setup(t, func(rw http.ResponseWriter, r *http.Request) {
					if strings.TrimPrefix(r.URL.Path, "/v1") == ep {
						writeJSON(rw, http.StatusOK, b.body)
						return
					}
					emptyRoutes(rw, r)
				})
				batch, err := c.Fetch(context.Background(), w)
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Fetch: %v (batch %v), want a *apiclient.DecodeError", err, batch)
				}
				for _, want := range []string{"openai", ep, b.field + " is null or missing"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
}
