package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/plugin/pkg/internal/plugintest"
)

// update rewrites the golden frames in testdata/ instead of comparing against them.
var update = flag.Bool("update", false, "rewrite testdata/*.jsonc golden frames")

// testNow pins the world's and the plugin's clock: mid-morning, so today is partial.
var testNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// sim is the simulated world served over loopback HTTP, counting requests.
type sim struct {
	world    *simulator.World
	srv      *httptest.Server
	requests atomic.Int64
}

func newSim(t testing.TB, cfg simulator.Config) *sim {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = testNow
	}
	s := &sim{world: simulator.New(cfg)}
	h := s.world.Handler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// settings returns the datasource settings for the world, with edit applied to the decoded
// jsonData and secureJsonData.
func (s *sim) settings(t testing.TB, edit func(jsonData map[string]any, secure map[string]string)) backend.DataSourceInstanceSettings {
	t.Helper()
	raw, secure := plugintest.Settings(s.world, s.srv.URL)
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m, secure)
		var err error
		if raw, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	return backend.DataSourceInstanceSettings{UID: "margin-test", Name: "Margin", Type: PluginID, JSONData: raw, DecryptedSecureJSONData: secure}
}

func (s *sim) datasource(t testing.TB, edit func(map[string]any, map[string]string)) *Datasource {
	t.Helper()
	ds, err := newDatasource(context.Background(), s.settings(t, edit), deps{now: s.world.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ds.Dispose)
	return ds
}

// days returns the time range of the n days before the pinned today, ending at midnight.
func days(n int) backend.TimeRange {
	midnight := testNow.Truncate(24 * time.Hour)
	return backend.TimeRange{From: midnight.AddDate(0, 0, -n), To: midnight}
}

// query runs one query and returns its response.
func query(t testing.TB, ds *Datasource, tr backend.TimeRange, queryJSON string) backend.DataResponse {
	t.Helper()
	return queryCtx(t, context.Background(), ds, tr, queryJSON)
}

// queryCtx is query with the request's context.
func queryCtx(t testing.TB, ctx context.Context, ds *Datasource, tr backend.TimeRange, queryJSON string) backend.DataResponse {
	t.Helper()
	var m struct {
		QueryType string `json:"queryType"`
	}
	_ = json.Unmarshal([]byte(queryJSON), &m)
	resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{
		{RefID: "A", QueryType: m.QueryType, TimeRange: tr, JSON: json.RawMessage(queryJSON)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Responses["A"]
}
