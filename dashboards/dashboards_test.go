package dashboards

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafanadash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func TestDashboards_HaveUIDTitleTagsAndTheDefaultRange(t *testing.T) {
	want := map[string]bool{"margin-overview.json": false, "customer.json": false, "last-31-days.json": false, "exporter-health.json": false}
	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			want[d.file] = true
			uid, title := str(d.doc["uid"]), str(d.doc["title"])
			if uid == "" || title == "" {
				t.Errorf("uid %q, title %q: both are required", uid, title)
			}
			if other, dup := uids[uid]; dup {
				t.Errorf("uid %q is also used by %s", uid, other)
			}
			uids[uid] = d.file
			if tags, _ := d.doc["tags"].([]any); !slices.Contains(tags, any("margin")) {
				t.Errorf("tags %v: want the tag margin (the dashboards link to each other by it)", d.doc["tags"])
			}
			tm, _ := d.doc["time"].(map[string]any)
			if str(tm["from"]) != "now-30d" || str(tm["to"]) != "now" {
				t.Errorf("time %v: want now-30d to now", d.doc["time"])
			}
			if _, ok := d.doc["id"]; ok {
				t.Error("an id is instance-specific: remove it so the dashboard imports anywhere")
			}
			if len(d.panels()) == 0 {
				t.Error("no panels")
			}
		})
	}
	for f, found := range want {
		if !found {
			t.Errorf("%s is missing", f)
		}
	}
}

// Every datasource reference must be a variable of type datasource, so a dashboard imports into any
// Grafana; a hard-coded uid only works where it was exported.
func TestDashboards_UseDatasourceVariablesOnly(t *testing.T) {
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			dsVars := map[string]string{} // variable name -> plugin type it selects
			for _, v := range d.variables() {
				if str(v["type"]) == "datasource" {
					dsVars[str(v["name"])] = str(v["query"])
				}
			}
			if len(dsVars) == 0 {
				t.Fatal("no datasource variable")
			}
			for _, want := range []string{"prometheus", marginPluginID} {
				for name, typ := range dsVars {
					if typ == want && !strings.Contains(string(d.raw), "${"+name+"}") {
						t.Errorf("datasource variable %s is never used", name)
					}
				}
			}
			var refs []map[string]any
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case map[string]any:
					for k, child := range x {
						if k == "datasource" {
							if m, ok := child.(map[string]any); ok {
								refs = append(refs, m)
							} else if s, ok := child.(string); ok {
								refs = append(refs, map[string]any{"uid": s})
							}
						}
						walk(child)
					}
				case []any:
					for _, child := range x {
						walk(child)
					}
				}
			}
			walk(d.doc)
			if len(refs) == 0 {
				t.Fatal("no datasource references")
			}
			for _, ref := range refs {
				uid := str(ref["uid"])
				m := grafanaVar.FindStringSubmatch(uid)
				if m == nil || m[0] != uid {
					t.Errorf("datasource %v: uid must be a datasource variable such as ${datasource}", ref)
					continue
				}
				typ, ok := dsVars[m[1]+m[2]]
				if !ok {
					t.Errorf("datasource %v: %s is not a datasource variable of this dashboard", ref, uid)
				} else if ref["type"] != nil && str(ref["type"]) != typ {
					t.Errorf("datasource %v: the variable selects %s datasources", ref, typ)
				}
			}
		})
	}
}

// The foundation SDK's strict decoder knows Grafana's dashboard schema: unknown fields, wrong types
// and missing required fields are errors.
func TestDashboards_StrictUnmarshalWithFoundationSDK(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			var dash grafanadash.Dashboard
			if err := dash.UnmarshalJSONStrict(d.raw); !noErrors(err) {
				t.Fatalf("strict unmarshal: %v", err)
			}
			if err := dash.Validate(); !noErrors(err) {
				t.Fatalf("validate: %v", err)
			}
			if dash.Uid == nil || *dash.Uid != str(d.doc["uid"]) {
				t.Errorf("decoded uid %v, want %q", dash.Uid, d.doc["uid"])
			}
		})
	}
}

// The strict decoder catches what the test above relies on it to catch.
func TestStrictUnmarshal_RejectsAnUnknownPanelField(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw := []byte(`{"title":"x","uid":"x","schemaVersion":39,"templating":{"list":[]},"annotations":{"list":[]},
		"panels":[{"type":"stat","title":"p","bogusField":1}]}`)
	var dash grafanadash.Dashboard
	if err := dash.UnmarshalJSONStrict(raw); noErrors(err) {
		t.Fatal("an unknown panel field passed the strict decoder")
	}
}

// noErrors reports whether err is empty: the SDK returns a typed-nil cog.BuildErrors on success, so
// err != nil even then.
func noErrors(err error) bool {
	if err == nil {
		return true
	}
	var errs cog.BuildErrors
	return errors.As(err, &errs) && len(errs) == 0
}

func TestDashboards_PromQLParsesAndNamesOnlyExportedMetrics(t *testing.T) {
	known, from := exportedMetrics(t)
	t.Logf("exporter metrics from %s", from)
	allowed := map[string]bool{}
	for _, m := range known {
		allowed[m] = true
	}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				allowed[r.Record] = true
			}
		}
	}
	count := 0
	for _, d := range loadDashboards(t) {
		for _, tg := range d.targets() {
			if tg.datasourceType() != "prometheus" {
				continue
			}
			expr := str(tg.q["expr"])
			if expr == "" {
				t.Errorf("%s / %s: Prometheus target %s without expr", d.file, tg.panel, tg.q["refId"])
				continue
			}
			checkExpr(t, d.file+" / "+tg.panel, substituteVariables(expr, d.constantValues()), allowed)
			count++
		}
		for _, v := range d.variables() {
			if str(v["type"]) != "query" {
				continue
			}
			q := str(v["definition"])
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: variable %s: want label_values(metric, label), got %q", d.file, v["name"], q)
				continue
			}
			checkExpr(t, d.file+" / variable "+str(v["name"]), m[1], allowed)
		}
	}
	if count < 30 {
		t.Errorf("only %d PromQL targets found: the walk over panels is broken", count)
	}
}

func checkExpr(t *testing.T, where, expr string, allowed map[string]bool) {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	if len(names) == 0 {
		t.Errorf("%s: reads no metric: %s", where, expr)
	}
	for _, n := range names {
		if !allowed[n] {
			t.Errorf("%s: %s is neither an exporter metric nor a recording rule", where, n)
		}
	}
}

func TestMetricNames_FlagsUnknownAndUnnamedSelectors(t *testing.T) {
	tests := []struct {
		expr    string
		want    []string
		wantErr bool
	}{
		{expr: `sum by (customer_id) (increase(margin_llm_cost_usd_total[1d]))`, want: []string{"margin_llm_cost_usd_total"}},
		{expr: `a / on () group_left () b:c`, want: []string{"a", "b:c"}},
		{expr: `{__name__=~"margin_.+"}`, wantErr: true},
		{expr: `sum(rate(x[5m]`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := metricNames(tt.expr)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, want error %v", tt.expr, err, tt.wantErr)
		}
		if !tt.wantErr && !slices.Equal(got, tt.want) {
			t.Errorf("%s: names %v, want %v", tt.expr, got, tt.want)
		}
	}
	if got := substituteVariables(`x{customer_id="$customer_id"}[$__range] ${datasource} / (1 - $target_margin)`, map[string]string{"target_margin": "0.65"}); got != `x{customer_id="cus_Test"}[5m] cus_Test / (1 - 0.65)` {
		t.Errorf("substituteVariables: %s", got)
	}
}

func TestDashboards_MarginTargetsUseServedQueryTypes(t *testing.T) {
	types, from := servedQueryTypes(t)
	t.Logf("query types from %s: %v", from, types)
	groupBys := servedGroupBys(t)
	seen := map[string]bool{}
	for _, d := range loadDashboards(t) {
		for _, tg := range d.targets() {
			if tg.datasourceType() != marginPluginID {
				continue
			}
			qt := str(tg.q["queryType"])
			if !slices.Contains(types, qt) {
				t.Errorf("%s / %s: queryType %q is not served (want one of %v)", d.file, tg.panel, qt, types)
			}
			if gb, ok := tg.q["groupBy"]; ok && !slices.Contains(groupBys, str(gb)) {
				t.Errorf("%s / %s: groupBy %v is not one of %v", d.file, tg.panel, gb, groupBys)
			}
			seen[qt] = true
		}
	}
	// The Last 31 days dashboard shows every view the datasource has.
	for _, qt := range designQueryTypes {
		if !seen[qt] {
			t.Errorf("no dashboard panel uses the %s query", qt)
		}
	}
}
