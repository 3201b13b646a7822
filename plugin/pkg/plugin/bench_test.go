package plugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/simulator"
)

// benchWorld is the simulated company with 1,000 extra OpenAI keys of 10 models each, served
// over loopback HTTP like a real API.
func benchWorld(b *testing.B) *sim {
	return newSim(b, simulator.Config{ExtraOpenAIKeys: 1000, ModelsPerKey: 10})
}

func customersQuery(b *testing.B, ds *Datasource) {
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: "customers", TimeRange: days(31), JSON: json.RawMessage(`{"queryType":"customers"}`),
	}}})
	if err != nil {
		b.Fatal(err)
	}
	if r := resp.Responses["A"]; r.Error != nil || r.Frames[0].Rows() == 0 {
		b.Fatalf("error %v", r.Error)
	}
}

// BenchmarkCustomersQuery_Cold is a 31-day customers query on a fresh instance: every day of
// every source is fetched from the simulator, then computed.
func BenchmarkCustomersQuery_Cold(b *testing.B) {
	s := benchWorld(b)
	b.ReportAllocs()
	for b.Loop() {
		ds, err := newDatasource(context.Background(), s.settings(b, nil), deps{now: s.world.Now})
		if err != nil {
			b.Fatal(err)
		}
		customersQuery(b, ds)
		ds.Dispose()
	}
}

// BenchmarkCustomersQuery_Warm repeats the query on one instance: the days and the computed
// window come from the cache.
func BenchmarkCustomersQuery_Warm(b *testing.B) {
	s := benchWorld(b)
	ds := s.datasource(b, nil)
	customersQuery(b, ds)
	b.ReportAllocs()
	for b.Loop() {
		customersQuery(b, ds)
	}
}
