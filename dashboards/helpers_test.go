package dashboards

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/testbin"
)

// repoRoot is the repository root, one level above this package.
const repoRoot = ".."

const (
	marginPluginID = "marginhq-margin-datasource"
	rulesFile      = "alerts/margin-rules.yml"
	rulesTestFile  = "alerts/margin-rules_test.yml"
)

// designMetrics is DESIGN.md §4.3, the fallback when neither docs/exporter.md nor exporter/*.go is in
// the checkout yet.
var designMetrics = []string{
	"margin_llm_cost_usd_total", "margin_llm_cost_adjustments_usd_total", "margin_llm_tokens_total",
	"margin_llm_requests_total", "margin_llm_unpriced_tokens_total", "margin_revenue_usd_total",
	"margin_customer_cost_month_to_date_usd", "margin_customer_revenue_month_to_date_usd",
	"margin_customer_revenue_projected_month_end_usd", "margin_customer_info", "margin_source_up", "margin_source_last_success_timestamp_seconds",
	"margin_source_poll_duration_seconds", "margin_exporter_build_info",
}

// designQueryTypes is DESIGN.md §4.4, the fallback before the plugin backend is in the checkout.
var designQueryTypes = []string{"customers", "costs", "margin", "unattributed", "reconciliation", "plans"}

// dashboard is one dashboards/*.json file, raw and decoded into generic JSON.
type dashboard struct {
	file string
	raw  []byte
	doc  map[string]any
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("want at least the four bundled dashboards, found %v", files)
	}
	var out []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, dashboard{file: f, raw: raw, doc: doc})
	}
	return out
}

// panels returns every panel, including those nested in collapsed rows.
func (d dashboard) panels() []map[string]any {
	var out []map[string]any
	var walk func(list any)
	walk = func(list any) {
		items, _ := list.([]any)
		for _, it := range items {
			p, ok := it.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, p)
			walk(p["panels"])
		}
	}
	walk(d.doc["panels"])
	return out
}

// targets returns every query target with the title of its panel.
func (d dashboard) targets() []target {
	var out []target
	for _, p := range d.panels() {
		list, _ := p["targets"].([]any)
		for _, it := range list {
			if m, ok := it.(map[string]any); ok {
				out = append(out, target{panel: str(p["title"]), panelDS: dsRef(p["datasource"]), q: m})
			}
		}
	}
	return out
}

type target struct {
	panel   string
	panelDS map[string]any
	q       map[string]any
}

// datasourceType is the plugin type the target queries: its own datasource, else its panel's.
func (t target) datasourceType() string {
	if ds := dsRef(t.q["datasource"]); ds != nil {
		return str(ds["type"])
	}
	return str(t.panelDS["type"])
}

func (d dashboard) variables() []map[string]any {
	tpl, _ := d.doc["templating"].(map[string]any)
	list, _ := tpl["list"].([]any)
	var out []map[string]any
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func dsRef(v any) map[string]any { m, _ := v.(map[string]any); return m }

func str(v any) string { s, _ := v.(string); return s }

// grafanaVar matches Grafana template variables in a query: $name, ${name} and ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// substituteVariables makes a dashboard query plain PromQL: Grafana's interval variables become a
// duration, a variable in values its value, and every other variable a label value.
func substituteVariables(expr string, values map[string]string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if strings.HasPrefix(name, "__") {
			return "5m"
		}
		if v, ok := values[name]; ok {
			return v
		}
		return "cus_Test"
	})
}

// constantValues returns the current value of each custom, constant and textbox variable: numbers
// such as target_margin that the PromQL computes with, not label values.
func (d dashboard) constantValues() map[string]string {
	out := map[string]string{}
	for _, v := range d.variables() {
		switch str(v["type"]) {
		case "custom", "constant", "textbox":
			cur, _ := v["current"].(map[string]any)
			out[str(v["name"])] = str(cur["value"])
		}
	}
	return out
}

var promql = parser.NewParser(parser.Options{})

// labelValues matches a label_values(metric, label) variable query and captures the metric.
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?)\s*,\s*\w+\s*\)$`)

// metricNames parses expr and returns the metric names its selectors use. A selector without a
// name is an error: the check could not prove what it reads.
func metricNames(expr string) ([]string, error) {
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var unnamed error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				unnamed = &unnamedSelectorError{vs.String()}
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, unnamed
}

type unnamedSelectorError struct{ sel string }

func (e *unnamedSelectorError) Error() string { return "selector without a metric name: " + e.sel }

// ruleFile is the subset of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	if len(rf.Groups) == 0 {
		t.Fatalf("%s: no rule groups", rulesFile)
	}
	return rf
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// exportedMetrics is the exporter's metric list: docs/exporter.md's tables when present, else the
// metric name literals of exporter/*.go and cmd/margin-exporter/*.go once the command exists, else
// DESIGN.md §4.3. It returns where the list came from.
func exportedMetrics(t *testing.T) ([]string, string) {
	t.Helper()
	name := regexp.MustCompile("`(margin_[a-z0-9_]+)`")
	if raw, err := os.ReadFile(filepath.Join(repoRoot, "docs/exporter.md")); err == nil {
		var out []string
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "|") {
				if m := name.FindStringSubmatch(line); m != nil {
					out = append(out, m[1])
				}
			}
		}
		if len(out) > 0 {
			return uniq(out), "docs/exporter.md"
		}
	}
	// The exporter has landed once its command exists; until then its package may be half-built and
	// its list incomplete (margin_exporter_build_info comes with the command).
	cmdFiles, _ := filepath.Glob(filepath.Join(repoRoot, "cmd", "margin-exporter", "*.go"))
	var files []string
	if len(cmdFiles) > 0 {
		files, _ = filepath.Glob(filepath.Join(repoRoot, "exporter", "*.go"))
	}
	literal := regexp.MustCompile(`"(margin_[a-z0-9_]+)"`)
	// The version collector (client_golang collectors/version) names its metric <namespace>_build_info.
	buildInfo := regexp.MustCompile(`[vV]ersion\w*\.NewCollector\("([a-z0-9_]+)"\)`)
	var out []string
	for _, f := range append(files, cmdFiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(raw), -1) {
			out = append(out, m[1])
		}
		for _, m := range buildInfo.FindAllStringSubmatch(string(raw), -1) {
			out = append(out, m[1]+"_build_info")
		}
	}
	if len(out) > 0 {
		return uniq(out), "exporter/*.go and cmd/margin-exporter/*.go"
	}
	return designMetrics, "DESIGN.md §4.3 (exporter not in this checkout yet)"
}

// servedQueryTypes is the plugin backend's QueryType constants when the backend is present, else
// DESIGN.md §4.4.
func servedQueryTypes(t *testing.T) ([]string, string) {
	t.Helper()
	c := regexp.MustCompile(`\bQueryType\s*=\s*"([a-z]+)"`)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "plugin", "pkg", "*", "*.go"))
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range c.FindAllStringSubmatch(string(raw), -1) {
			out = append(out, m[1])
		}
	}
	if len(out) > 0 {
		return uniq(out), "plugin/pkg"
	}
	return designQueryTypes, "DESIGN.md §4.4 (plugin backend not in this checkout yet)"
}

// servedGroupBys is the plugin backend's GroupBy constants, or DESIGN.md §4.4's.
func servedGroupBys(t *testing.T) []string {
	t.Helper()
	c := regexp.MustCompile(`\bGroupBy\s*=\s*"([a-z]+)"`)
	files, _ := filepath.Glob(filepath.Join(repoRoot, "plugin", "pkg", "*", "*.go"))
	var out []string
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		for _, m := range c.FindAllStringSubmatch(string(raw), -1) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		return []string{"provider", "model", "customer"}
	}
	return uniq(out)
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// TestMain removes the executables testbin built for this run.
func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

// promtool returns the promtool binary: $PROMTOOL_BIN (set by `make test`) or promtool from PATH,
// failing (never skipping) when there is none.
func promtool(t *testing.T) string {
	t.Helper()
	return peerBinary(t, "PROMTOOL_BIN", "promtool")
}

// peerBinary finds a test peer by its environment variable, else on PATH; missing is a failure
// with an install hint. Under -short (`make test-short`, no peers needed) it skips the test.
func peerBinary(t *testing.T, env, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: runs %s", name)
	}
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found ($%s or PATH): `make tools` installs it, or apt-get install prometheus, "+
			"or go install github.com/prometheus/prometheus/cmd/%s@v0.316.0", name, env, name)
	}
	return p
}
