package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/simulator"
)

// A source answering "data": null fails every query that needs it, each with its own error
// naming the source: never frames with that source's spend or revenue silently missing.
func TestQueryData_NullDataIsAnErrorPerRefID(t *testing.T) {
	for _, tc := range []struct{ name, suffix, source string }{
		{"openrouter activity", "/activity", "openrouter"},
		{"stripe invoices", "/v1/invoices", "stripe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, simulator.Config{})
			h := s.world.Handler()
			s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, tc.suffix) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"object":"list","data":null,"has_more":false}`))
					return
				}
				h.ServeHTTP(w, r)
			})
			ds := s.datasource(t, nil)
			queries := []backend.DataQuery{
				{RefID: "A", QueryType: "customers", TimeRange: days(3), JSON: json.RawMessage(`{"queryType":"customers"}`)},
				{RefID: "B", QueryType: "margin", TimeRange: days(3), JSON: json.RawMessage(`{"queryType":"margin"}`)},
			}
			resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries})
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{"A", "B"} {
				r := resp.Responses[ref]
				if r.Error == nil || !strings.Contains(r.Error.Error(), tc.source) {
					t.Fatalf("%s: error %v (%d frames), want an error naming %s", ref, r.Error, len(r.Frames), tc.source)
				}
				if r.ErrorSource != backend.ErrorSourceDownstream || r.Status != backend.StatusBadGateway {
					t.Errorf("%s: source %q status %d, want downstream 502", ref, r.ErrorSource, r.Status)
				}
			}
		})
	}
}
