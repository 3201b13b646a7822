package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/testbin"
)

// launchPlugin starts gpx_margin as Grafana does: go-plugin with the SDK's handshake over gRPC.
func launchPlugin(t *testing.T, bin string) pluginv2.DataClient {
	t.Helper()
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: {
			"data": &grpcplugin.DataGRPCPlugin{},
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
	raw, err := rpc.Dispense("data")
	if err != nil {
		t.Fatal(err)
	}
	return raw.(pluginv2.DataClient)
}

// demoSettings is the Margin datasource the compose demo provisions, pointed at root instead of the
// simulator service: the test exercises the provisioning file itself.
func demoSettings(t *testing.T, root string) ([]byte, map[string]string) {
	t.Helper()
	var f dsFile
	readYAML(t, "provisioning/datasources/demo/margin.yaml", &f)
	for _, ds := range f.Datasources {
		if ds.Type != marginPluginID {
			continue
		}
		jsonData := map[string]any{}
		for k, v := range ds.JSONData {
			if s, ok := v.(string); ok {
				v = strings.ReplaceAll(s, simulatorRoot, root)
			}
			jsonData[k] = v
		}
		raw, err := json.Marshal(jsonData)
		if err != nil {
			t.Fatal(err)
		}
		return raw, ds.SecureJSONData
	}
	t.Fatal("no Margin datasource in the demo provisioning")
	return nil, nil
}

// Every Margin-datasource panel query and every Grafana alert rule query returns frames through
// the plugin protocol, with the demo provisioning's settings, against the simulated world.
func TestIntegration_MarginQueriesReturnFramesThroughThePlugin(t *testing.T) {
	world := simulator.New(simulator.Config{}) // the plugin runs on the real clock, so the world does too
	srv := httptest.NewServer(world.Handler())
	t.Cleanup(srv.Close)
	jsonData, secure := demoSettings(t, srv.URL)
	dataC := launchPlugin(t, testbin.Path(t, testbin.Plugin))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pctx := &pluginv2.PluginContext{OrgId: 1, PluginId: marginPluginID,
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id: 1, Uid: marginDatasourceUID, Name: "Margin", JsonData: jsonData, DecryptedSecureJsonData: secure, LastUpdatedMS: 1,
		}}
	now := time.Now()
	query := func(t *testing.T, model map[string]any, from, to time.Time) data.Frames {
		t.Helper()
		q := map[string]any{}
		for k, v := range model {
			if k != "datasource" {
				q[k] = v
			}
		}
		raw, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		qt, _ := q["queryType"].(string)
		resp, err := dataC.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{{
			RefId: "A", QueryType: qt, Json: raw, MaxDataPoints: 1000, IntervalMS: 86_400_000,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Responses["A"]
		if a == nil || a.Error != "" {
			t.Fatalf("query %s: error %v", raw, a)
		}
		frames, err := data.UnmarshalArrowFrames(a.Frames)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, f := range frames {
			rows += f.Rows()
		}
		if len(frames) == 0 || rows == 0 {
			t.Fatalf("query %s: %d frames, %d rows", raw, len(frames), rows)
		}
		return frames
	}

	panels := 0
	for _, d := range loadDashboards(t) {
		tm, _ := d.doc["time"].(map[string]any)
		if str(tm["from"]) != "now-30d" {
			t.Fatalf("%s: this test assumes the default range now-30d", d.file)
		}
		for _, tg := range d.targets() {
			if tg.datasourceType() != marginPluginID {
				continue
			}
			panels++
			t.Run(d.file+"/"+tg.panel, func(t *testing.T) {
				query(t, tg.q, now.Add(-30*24*time.Hour), now)
			})
		}
	}
	if panels < 6 {
		t.Errorf("%d Margin panel queries, want one per view at least", panels)
	}

	sqlField := regexp.MustCompile(`(?i)SUM\((\w+)\)`)
	for _, r := range loadAlertRules(t) {
		for _, d := range r.Data {
			if d.DatasourceUID != marginDatasourceUID {
				continue
			}
			t.Run(r.UID+"/"+d.RefID, func(t *testing.T) {
				from := now.Add(-time.Duration(d.RelativeTimeRange["from"]) * time.Second)
				to := now.Add(-time.Duration(d.RelativeTimeRange["to"]) * time.Second)
				frames := query(t, d.Model, from, to)
				for _, e := range r.Data {
					if e.DatasourceUID != "__expr__" {
						continue
					}
					expr, _ := e.Model["expression"].(string)
					switch e.Model["type"] {
					case "reduce", "math":
						if expr == d.RefID || strings.Contains(expr, "$"+d.RefID) {
							checkOneSeriesPerFrame(t, frames)
						}
					case "sql":
						if sqlRef.FindStringSubmatch(expr)[1] != d.RefID {
							continue
						}
						for _, m := range sqlField.FindAllStringSubmatch(expr, -1) {
							if !hasNumberField(frames, m[1]) {
								t.Errorf("SQL expression %s reads %s, which the %s frames lack", e.RefID, m[1], d.Model["queryType"])
							}
						}
					}
				}
			})
		}
	}
}

// checkOneSeriesPerFrame asserts what Grafana's reduce and math expressions need: every frame one
// time field and one number field, each series identified by distinct labels.
func checkOneSeriesPerFrame(t *testing.T, frames data.Frames) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range frames {
		numbers := 0
		var labels data.Labels
		for _, fl := range f.Fields {
			if fl.Type().Numeric() {
				numbers++
				labels = fl.Labels
			}
		}
		if numbers != 1 {
			t.Errorf("frame %q has %d number fields; reduce/math need exactly one", f.Name, numbers)
		}
		key := fmt.Sprint(labels)
		if seen[key] {
			t.Errorf("two series with labels %v: alert instances would collide", labels)
		}
		seen[key] = true
	}
}

func hasNumberField(frames data.Frames, name string) bool {
	for _, f := range frames {
		for _, fl := range f.Fields {
			if fl.Name == name && fl.Type().Numeric() {
				return true
			}
		}
	}
	return false
}
