package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The slow tests of this package (promtool's suite, its mutated subset, the Prometheus
// integration) run in parallel: each works in its own directory, ports and processes.
func TestRules_PromtoolCheckAndUnitTests(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The unit tests are only worth something if they fail when a threshold moves: in a copy of the
// rules, raise the spike factor tenfold and lower the projected-underwater floor from $10 to $5 (the
// quiet neighbour, $9 short, then fires); promtool must report both alerts' tests as failed. One
// mutated copy for all, tested with only the test groups where a mutated alert fires (the groups
// that must now fail; TestRules_PromtoolCheckAndUnitTests runs the whole suite on the real rules),
// so the slow suite runs once.
func TestRules_UnitTestsFailWhenAThresholdChanges(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := string(raw)
	mutations := []struct{ from, to, alert string }{
		{
			from:  "record: margin:threshold:spike_factor\n        expr: vector(3)",
			to:    "record: margin:threshold:spike_factor\n        expr: vector(30)",
			alert: "MarginCustomerSpendSpike",
		},
		{
			from:  "record: margin:threshold:projected_underwater_floor_usd\n        expr: vector(10)",
			to:    "record: margin:threshold:projected_underwater_floor_usd\n        expr: vector(5)",
			alert: "MarginCustomerProjectedUnderwater",
		},
	}
	for _, m := range mutations {
		if !strings.Contains(rules, m.from) {
			t.Fatalf("%s no longer contains %q; update this test", rulesFile, m.from)
		}
		rules = strings.Replace(rules, m.from, m.to, 1)
	}
	dir := t.TempDir()
	alerts := map[string]bool{}
	for _, m := range mutations {
		alerts[m.alert] = true
	}
	tests := testGroupsWhereAlertsFire(t, alerts)
	write(t, filepath.Join(dir, filepath.Base(rulesFile)), rules)
	write(t, filepath.Join(dir, filepath.Base(rulesTestFile)), tests)
	cmd := exec.Command(bin, "test", "rules", filepath.Base(rulesTestFile))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("promtool test passed with the thresholds changed:\n%s", out)
	}
	for _, m := range mutations {
		if !strings.Contains(string(out), "alertname: "+m.alert+",") {
			t.Errorf("want %s's test to fail after %q, got:\n%s", m.alert, m.to, out)
		}
	}
}

// testGroupsWhereAlertsFire is the rules' unit test file with only the test groups in which one
// of alerts is expected to fire; every one of alerts must fire in some group.
func testGroupsWhereAlertsFire(t *testing.T, alerts map[string]bool) string {
	t.Helper()
	raw, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	tests := mappingValue(doc.Content[0], "tests")
	if tests == nil || tests.Kind != yaml.SequenceNode {
		t.Fatalf("%s: no tests sequence", rulesTestFile)
	}
	fired := map[string]bool{}
	var kept []*yaml.Node
	for _, group := range tests.Content {
		keep := false
		if art := mappingValue(group, "alert_rule_test"); art != nil {
			for _, a := range art.Content {
				name, exp := mappingValue(a, "alertname"), mappingValue(a, "exp_alerts")
				if name != nil && alerts[name.Value] && exp != nil && len(exp.Content) > 0 {
					keep, fired[name.Value] = true, true
				}
			}
		}
		if keep {
			kept = append(kept, group)
		}
	}
	for a := range alerts {
		if !fired[a] {
			t.Fatalf("%s: no test group where %s fires", rulesTestFile, a)
		}
	}
	tests.Content = kept
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// mappingValue is the value of key in a YAML mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every alert has a unit test where it fires and one where it stays quiet.
func TestRules_EveryAlertHasAFiringAndAQuietUnitTest(t *testing.T) {
	var tf struct {
		Tests []struct {
			Name          string `yaml:"name"`
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, rulesTestFile, &tf)
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	alerts := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if fires[r.Alert] == 0 {
				t.Errorf("%s: no unit test where it fires", r.Alert)
			}
			if quiet[r.Alert] == 0 {
				t.Errorf("%s: no unit test where it stays quiet", r.Alert)
			}
		}
	}
	if alerts < 10 {
		t.Errorf("%d alerts, want the nine of the issue (spike, underwater, margin, unattributed, unpriced, down, stale, absent, resets) and the month-end forecast", alerts)
	}
}

func TestRules_PromQLNamesOnlyExportedMetricsAndRecordedSeries(t *testing.T) {
	known, from := exportedMetrics(t)
	t.Logf("exporter metrics from %s", from)
	allowed := map[string]bool{}
	for _, m := range known {
		allowed[m] = true
	}
	rf := loadRules(t)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				allowed[r.Record] = true
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			names, err := metricNames(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(names) == 0 && !strings.HasPrefix(r.Record, "margin:threshold:") {
				t.Errorf("%s reads no metric", name)
			}
			for _, n := range names {
				if !allowed[n] {
					t.Errorf("%s: %s is neither an exporter metric nor a recording rule", name, n)
				}
			}
		}
	}
}

// The header of the rules file documents every threshold with its value; the two must agree.
func TestRules_ThresholdsAreDocumentedWithTheirValues(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]float64{}
	line := regexp.MustCompile(`(?m)^#\s+(margin:threshold:[a-z_]+)\s+([0-9.]+)\s`)
	for _, m := range line.FindAllStringSubmatch(string(raw), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		doc[m[1]] = v
	}
	constant := regexp.MustCompile(`^vector\(([0-9.]+)\)$`)
	found := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if !strings.HasPrefix(r.Record, "margin:threshold:") {
				continue
			}
			found++
			m := constant.FindStringSubmatch(strings.TrimSpace(r.Expr))
			if m == nil {
				t.Errorf("%s: want a constant vector(N), got %q", r.Record, r.Expr)
				continue
			}
			v, _ := strconv.ParseFloat(m[1], 64)
			if d, ok := doc[r.Record]; !ok {
				t.Errorf("%s is not documented in the file header", r.Record)
			} else if d != v {
				t.Errorf("%s: header says %v, rule says %v", r.Record, d, v)
			}
			delete(doc, r.Record)
		}
	}
	for name := range doc {
		t.Errorf("the header documents %s, which no rule records", name)
	}
	if found == 0 {
		t.Error("no margin:threshold:* rules")
	}
}
