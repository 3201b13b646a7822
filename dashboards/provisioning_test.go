package dashboards

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/simulator"
)

// dsFile is a Grafana datasource provisioning file.
type dsFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		URL            string            `yaml:"url"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// marginDatasourceUID is the uid both modes provision the Margin datasource under; the alert rules
// query it.
const marginDatasourceUID = "margin"

func TestProvisioning_DatasourcesAgreeAcrossModesAndDemoReadsTheSimulator(t *testing.T) {
	for _, mode := range []string{"demo", "live"} {
		t.Run(mode, func(t *testing.T) {
			var f dsFile
			readYAML(t, filepath.Join("provisioning/datasources", mode, "margin.yaml"), &f)
			if f.APIVersion != 1 {
				t.Errorf("apiVersion %d, want 1", f.APIVersion)
			}
			byType := map[string]int{}
			for i, ds := range f.Datasources {
				byType[ds.Type] = i
			}
			pi, okP := byType["prometheus"]
			mi, okM := byType[marginPluginID]
			if !okP || !okM || len(f.Datasources) != 2 {
				t.Fatalf("want one prometheus and one %s datasource, got %+v", marginPluginID, f.Datasources)
			}
			if p := f.Datasources[pi]; p.UID != "prometheus" || p.URL != "http://prometheus:9090" {
				t.Errorf("prometheus datasource uid %q url %q, want prometheus at http://prometheus:9090 (the compose service)", p.UID, p.URL)
			}
			m := f.Datasources[mi]
			if m.UID != marginDatasourceUID {
				t.Errorf("margin datasource uid %q, want %q", m.UID, marginDatasourceUID)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range m.SecureJSONData {
					if !yield(k) {
						return
					}
				}
			})
			if want := []string{"anthropicAdminKey", "openaiAdminKey", "openrouterManagementKey", "stripeApiKey"}; !slices.Equal(keys, want) {
				t.Errorf("secureJsonData keys %v, want %v", keys, want)
			}
			mapping, _ := m.JSONData["customerMapping"].(string)
			customers, err := config.ParseCustomers("customerMapping", mapping)
			if err != nil {
				t.Fatalf("customerMapping: %v", err)
			}
			if mode == "live" {
				for k, v := range m.SecureJSONData {
					if v != "$"+envName(k) {
						t.Errorf("live %s = %q, want it from the environment ($%s)", k, v, envName(k))
					}
				}
				return
			}
			world := simulator.New(simulator.Config{})
			if want := world.ConfigCustomers(); !sameMapping(customers, want) {
				t.Errorf("demo customerMapping differs from the simulator's config-mapped customers")
			}
			featureText, _ := m.JSONData["featureMapping"].(string)
			features, err := config.ParseFeatures("featureMapping", featureText)
			if err != nil {
				t.Fatalf("featureMapping: %v", err)
			}
			if !maps.Equal(features, world.Features()) {
				t.Errorf("demo featureMapping differs from the simulator's features")
			}
			oa, an, or, st := simulator.BaseURLs(simulatorRoot)
			for field, want := range map[string]string{"openaiBaseUrl": oa, "anthropicBaseUrl": an, "openrouterBaseUrl": or, "stripeBaseUrl": st} {
				if got, _ := m.JSONData[field].(string); got != want {
					t.Errorf("demo %s = %q, want %q", field, got, want)
				}
			}
			for field, want := range map[string]string{"openaiAdminKey": simulator.OpenAIAdminKey, "anthropicAdminKey": simulator.AnthropicAdminKey,
				"openrouterManagementKey": simulator.OpenRouterManagementKey, "stripeApiKey": simulator.StripeAPIKey} {
				if m.SecureJSONData[field] != want {
					t.Errorf("demo %s is not the simulator's demo key", field)
				}
			}
		})
	}
}

// envName maps a secureJsonData field to the environment variable docker-compose passes to Grafana.
func envName(field string) string {
	return map[string]string{"openaiAdminKey": "OPENAI_ADMIN_KEY", "anthropicAdminKey": "ANTHROPIC_ADMIN_KEY",
		"openrouterManagementKey": "OPENROUTER_MANAGEMENT_KEY", "stripeApiKey": "STRIPE_API_KEY"}[field]
}

var (
	mathRef = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)
	sqlRef  = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(\w+)`)
)

// alertFile is Grafana's alerting file-provisioning format.
type alertFile struct {
	APIVersion int `yaml:"apiVersion"`
	Groups     []struct {
		OrgID    int         `yaml:"orgId"`
		Name     string      `yaml:"name"`
		Folder   string      `yaml:"folder"`
		Interval string      `yaml:"interval"`
		Rules    []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

type alertRule struct {
	UID       string `yaml:"uid"`
	Title     string `yaml:"title"`
	Condition string `yaml:"condition"`
	For       string `yaml:"for"`
	Data      []struct {
		RefID             string         `yaml:"refId"`
		DatasourceUID     string         `yaml:"datasourceUid"`
		RelativeTimeRange map[string]int `yaml:"relativeTimeRange"`
		Model             map[string]any `yaml:"model"`
	} `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	Labels       map[string]string `yaml:"labels"`
	Annotations  map[string]string `yaml:"annotations"`
}

func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	files, _ := filepath.Glob("provisioning/alerting/*.yaml")
	if len(files) == 0 {
		t.Fatal("no Grafana alert provisioning files")
	}
	var rules []alertRule
	for _, f := range files {
		var af alertFile
		readYAML(t, f, &af)
		if af.APIVersion != 1 || len(af.Groups) == 0 {
			t.Fatalf("%s: want apiVersion 1 and groups", f)
		}
		for _, g := range af.Groups {
			if g.OrgID != 1 || g.Name == "" || g.Folder == "" || g.Interval == "" {
				t.Errorf("%s: group %q needs orgId, name, folder and interval", f, g.Name)
			}
			rules = append(rules, g.Rules...)
		}
	}
	return rules
}

func TestProvisioning_GrafanaAlertRulesQueryTheMarginDatasource(t *testing.T) {
	types, _ := servedQueryTypes(t)
	groupBys := servedGroupBys(t)
	expressionTypes := []string{"reduce", "math", "threshold", "resample", "classic_conditions", "sql"}
	rules := loadAlertRules(t)
	var titles []string
	for _, r := range rules {
		titles = append(titles, r.Title)
		t.Run(r.UID, func(t *testing.T) {
			if r.UID == "" || r.Title == "" || r.For == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule needs uid, title, for, a severity label and a summary")
			}
			if !slices.Contains([]string{"OK", "NoData", "Alerting", "KeepLast"}, r.NoDataState) || !slices.Contains([]string{"OK", "Error", "Alerting", "KeepLast"}, r.ExecErrState) {
				t.Errorf("noDataState %q / execErrState %q", r.NoDataState, r.ExecErrState)
			}
			refs := map[string]bool{}
			margin := 0
			for _, d := range r.Data {
				if refs[d.RefID] || d.RefID == "" || d.Model["refId"] != d.RefID {
					t.Errorf("refId %q: missing, duplicated or different in the model", d.RefID)
				}
				refs[d.RefID] = true
				switch d.DatasourceUID {
				case marginDatasourceUID:
					margin++
					qt, _ := d.Model["queryType"].(string)
					if !slices.Contains(types, qt) {
						t.Errorf("%s: queryType %q is not served", d.RefID, qt)
					}
					if gb, ok := d.Model["groupBy"].(string); ok && !slices.Contains(groupBys, gb) {
						t.Errorf("%s: groupBy %q", d.RefID, gb)
					}
					if d.RelativeTimeRange["from"] <= d.RelativeTimeRange["to"] {
						t.Errorf("%s: relativeTimeRange %v is empty", d.RefID, d.RelativeTimeRange)
					}
				case "__expr__":
					typ, _ := d.Model["type"].(string)
					if !slices.Contains(expressionTypes, typ) {
						t.Errorf("%s: expression type %q", d.RefID, typ)
					}
				default:
					t.Errorf("%s: datasourceUid %q is neither the Margin datasource (%s) nor __expr__", d.RefID, d.DatasourceUID, marginDatasourceUID)
				}
			}
			if margin == 0 {
				t.Error("the rule queries no Margin datasource")
			}
			if !refs[r.Condition] {
				t.Errorf("condition %q names no refId", r.Condition)
			}
			// Every expression reads refIds the rule defines.
			for _, d := range r.Data {
				if d.DatasourceUID != "__expr__" {
					continue
				}
				expr, _ := d.Model["expression"].(string)
				var reads []string
				switch d.Model["type"] {
				case "math":
					for _, m := range mathRef.FindAllStringSubmatch(expr, -1) {
						reads = append(reads, m[1]+m[2])
					}
				case "sql":
					for _, m := range sqlRef.FindAllStringSubmatch(expr, -1) {
						reads = append(reads, m[1])
					}
				default:
					reads = []string{expr}
				}
				if len(reads) == 0 {
					t.Errorf("%s reads no query: %q", d.RefID, expr)
				}
				for _, ref := range reads {
					if !refs[ref] || ref == d.RefID {
						t.Errorf("%s reads %q, which is not another refId of the rule", d.RefID, ref)
					}
				}
			}
		})
	}
	for _, want := range []string{"spike", "margin"} {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(strings.ToLower(s), want) }) {
			t.Errorf("no Grafana-managed %s alert among %v", want, titles)
		}
	}
}
