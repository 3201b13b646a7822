package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/floor"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/plugin/pkg/internal/plugintest"
)

// benchSim is the simulated company with 1,000 extra OpenAI keys of 10 models each, served with
// indented JSON over loopback HTTP like a real API, through a recorder that counts the bytes and
// keeps the pages for the floor client.
type benchSim struct {
	world *simulator.World
	srv   *httptest.Server
	rec   *floor.Recorder
}

func newBenchSim(b *testing.B) *benchSim {
	w := simulator.New(simulator.Config{Now: testNow, ExtraOpenAIKeys: 1000, ModelsPerKey: 10, Indent: !floor.Compact()})
	rec := &floor.Recorder{}
	srv := httptest.NewServer(rec.Handler(w.Handler()))
	b.Cleanup(srv.Close)
	return &benchSim{world: w, srv: srv, rec: rec}
}

func (s *benchSim) datasource(b *testing.B) *Datasource {
	raw, secure := plugintest.Settings(s.world, s.srv.URL)
	ds, err := newDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "margin-bench", Name: "Margin", Type: PluginID, JSONData: raw, DecryptedSecureJSONData: secure}, deps{now: s.world.Now})
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

func customersQuery(b *testing.B, ds *Datasource) {
	if err := tryCustomersQuery(ds); err != nil {
		b.Fatal(err)
	}
}

func tryCustomersQuery(ds *Datasource) error {
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: "customers", TimeRange: days(31), JSON: json.RawMessage(`{"queryType":"customers"}`),
	}}})
	if err != nil {
		return err
	}
	if r := resp.Responses["A"]; r.Error != nil || r.Frames[0].Rows() == 0 {
		return fmt.Errorf("query: %w", r.Error)
	}
	return nil
}

// floorOf measures the floor client reading the pages one cold query reads.
func (s *benchSim) floorOf(b *testing.B) {
	s.rec.Reset()
	ds := s.datasource(b)
	_ = tryCustomersQuery(ds) // records the pages; a failing source still shows which pages it asked for
	ds.Dispose()
	reqs := s.rec.Recorded()
	floor.Measure(b, s.rec, func() {
		if _, err := floor.Replay(context.Background(), http.DefaultTransport, reqs); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCustomersQuery_Cold is a 31-day customers query on a fresh instance: every day of
// every source is fetched from the simulator, then computed; beside it the floor client reads the
// same pages.
func BenchmarkCustomersQuery_Cold(b *testing.B) {
	s := newBenchSim(b)
	b.Run("margin", func(b *testing.B) {
		floor.Measure(b, s.rec, func() {
			ds := s.datasource(b)
			customersQuery(b, ds)
			ds.Dispose()
		})
	})
	b.Run("floor", s.floorOf)
}

// BenchmarkCustomersQuery_Warm repeats the query on one instance: the days and the computed
// window come from the cache; the floor is still the cold query's pages, what a warm query saves.
func BenchmarkCustomersQuery_Warm(b *testing.B) {
	s := newBenchSim(b)
	b.Run("margin", func(b *testing.B) {
		ds := s.datasource(b)
		defer ds.Dispose()
		customersQuery(b, ds)
		floor.Measure(b, s.rec, func() { customersQuery(b, ds) })
	})
	b.Run("floor", s.floorOf)
}
