package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/testbin"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/internal/plugintest"
)

// TestMain removes the executables testbin built for this run.
func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

// launch starts the plugin as Grafana does: go-plugin with the SDK's handshake over gRPC.
func launch(t *testing.T, bin string) (pluginv2.DataClient, pluginv2.DiagnosticsClient, pluginv2.ResourceClient) {
	t.Helper()
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
		}},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: io.Discard}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	dispense := func(name string) any {
		raw, err := rpc.Dispense(name)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	return dispense("data").(pluginv2.DataClient), dispense("diagnostics").(pluginv2.DiagnosticsClient), dispense("resource").(pluginv2.ResourceClient)
}

// TestPluginProtocol builds gpx_margin, launches it like Grafana, and runs CheckHealth, a customers
// query and a resource call against the simulated world served over loopback HTTP, checking the
// decoded frames against the engine's own numbers for the same days.
func TestPluginProtocol(t *testing.T) {
	world := simulator.New(simulator.Config{}) // the plugin runs on the real clock, so the world does too
	srv := httptest.NewServer(world.Handler())
	t.Cleanup(srv.Close)
	jsonData, secure := plugintest.Settings(world, srv.URL)

	dataC, diagC, resC := launch(t, testbin.Path(t, testbin.Plugin))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pctx := func(updated int64, secure map[string]string) *pluginv2.PluginContext {
		return &pluginv2.PluginContext{OrgId: 1, PluginId: "marginhq-margin-datasource",
			DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
				Id: 1, Uid: "margin", Name: "Margin", JsonData: jsonData, DecryptedSecureJsonData: secure, LastUpdatedMS: updated,
			}}
	}

	health, err := diagC.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx(1, secure)})
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != pluginv2.CheckHealthResponse_OK || health.Message != "Connected to openai, anthropic, openrouter, stripe" {
		t.Fatalf("health %v %q", health.Status, health.Message)
	}

	// Closed days only, so the answer does not depend on the second the query runs.
	today := usage.DayOf(world.Now())
	w := usage.Window{From: today - 10, To: today - 3}
	query, _ := json.Marshal(map[string]any{"queryType": "customers"})
	resp, err := dataC.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx(1, secure), Queries: []*pluginv2.DataQuery{{
		RefId: "A", QueryType: "customers", Json: query,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: w.From.Time().UnixMilli(), ToEpochMS: w.To.Time().UnixMilli()},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Responses["A"]
	if a.Error != "" {
		t.Fatalf("query error: %s", a.Error)
	}
	frames, err := data.UnmarshalArrowFrames(a.Frames)
	if err != nil {
		t.Fatal(err)
	}

	eng, err := engine.New(simengine.Options(world, srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	facts, err := eng.Fetch(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := engine.SummarizeFor(eng.Compute(facts), "usd", engine.DefaultTargetMargin)
	if len(frames) != 1 || frames[0].Meta == nil || frames[0].Meta.Type != data.FrameTypeNumericLong {
		t.Fatalf("want one numeric-long frame, got %d frames", len(frames))
	}
	f := frames[0]
	if f.Rows() != len(rep.Customers) || f.Rows() == 0 {
		t.Fatalf("%d rows, the engine has %d customers", f.Rows(), len(rep.Customers))
	}
	idx := map[string]int{}
	for i, fl := range f.Fields {
		idx[fl.Name] = i
	}
	if unit := f.Fields[idx["cost_usd"]].Config.Unit; unit != "currencyUSD" {
		t.Fatalf("cost_usd unit %q", unit)
	}
	for i, c := range rep.Customers {
		row := struct {
			id                    string
			revenue, cost, margin float64
			tokens                int64
		}{
			f.Fields[idx["customer_id"]].At(i).(string),
			f.Fields[idx["revenue_usd"]].At(i).(float64),
			f.Fields[idx["cost_usd"]].At(i).(float64),
			f.Fields[idx["gross_margin_usd"]].At(i).(float64),
			f.Fields[idx["tokens"]].At(i).(int64),
		}
		if row.id != c.CustomerID || row.revenue != c.Revenue.Float64() || row.cost != c.Cost.Float64() ||
			row.margin != c.GrossMargin.Float64() || row.tokens != c.Tokens {
			t.Errorf("row %d: %+v; engine: %s revenue %s cost %s margin %s tokens %d", i, row, c.CustomerID, c.Revenue, c.Cost, c.GrossMargin, c.Tokens)
		}
	}

	st, err := resC.CallResource(ctx, &pluginv2.CallResourceRequest{PluginContext: pctx(1, secure), Path: "providers", Method: "GET", Url: "providers"})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	code := int32(0)
	for {
		r, err := st.Recv()
		if err != nil {
			break
		}
		if r.Code != 0 {
			code = r.Code
		}
		body = append(body, r.Body...)
	}
	if code != 200 || string(body) != "[\"openai\",\"anthropic\",\"openrouter\"]\n" {
		t.Fatalf("providers: %d %s", code, body)
	}

	// Changed settings (a newer LastUpdatedMS) make a new instance: a wrong Stripe key now fails.
	changed := map[string]string{}
	for k, v := range secure {
		changed[k] = v
	}
	changed["stripeApiKey"] = "rk_test_wrong000000000000000000000"
	health, err = diagC.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx(2, changed)})
	if err != nil {
		t.Fatal(err)
	}
	want := "stripe: the key was rejected (HTTP 401): check that it is correct and not revoked (working: openai, anthropic, openrouter)"
	if health.Status != pluginv2.CheckHealthResponse_ERROR || health.Message != want {
		t.Fatalf("after the settings change: %v %q, want ERROR %q", health.Status, health.Message, want)
	}
}
