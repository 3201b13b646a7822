package dashboards

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// The slow tests of this package (promtool's suite, its mutated subset, the Prometheus
// integration) run in parallel: each works in its own directory, ports and processes. promtool
// evaluates one test group after another, so the suite runs as two shards, two processes.
func TestRules_PromtoolCheckAndUnitTests(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	if out, err := exec.Command(bin, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, shard := range testShards(t, 2) {
		t.Run(fmt.Sprintf("shard %d", i), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, filepath.Join(dir, filepath.Base(rulesFile)), string(rules))
			write(t, filepath.Join(dir, filepath.Base(rulesTestFile)), shard)
			cmd := exec.Command(bin, "test", "rules", filepath.Base(rulesTestFile))
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool test rules (%s, shard %d): %v\n%s", rulesTestFile, i, err, out)
			}
		})
	}
}

// testShards splits the rules' unit test file into n files of about equal cost, together holding
// every group once. promtool evaluates every rule at each evaluation interval up to a group's last
// eval_time, and each evaluation reads the input samples so far: a group's cost grows with its
// last eval_time d, and more than linearly with its samples per series, d/interval (measured:
// 174h of 5m samples costs more than 216h of hourly ones).
func testShards(t *testing.T, n int) []string {
	t.Helper()
	doc, tests := readTestFile(t)
	groups := tests.Content
	cost := make([]float64, len(groups))
	for i, g := range groups {
		var last time.Duration
		for _, kind := range []string{"alert_rule_test", "promql_expr_test"} {
			if seq := mappingValue(g, kind); seq != nil {
				for _, c := range seq.Content {
					if et := mappingValue(c, "eval_time"); et != nil {
						d, err := model.ParseDuration(et.Value)
						if err != nil {
							t.Fatalf("%s: group %d: eval_time %q: %v", rulesTestFile, i, et.Value, err)
						}
						last = max(last, time.Duration(d))
					}
				}
			}
		}
		interval := time.Minute // promtool's default input series interval
		if iv := mappingValue(g, "interval"); iv != nil {
			d, err := model.ParseDuration(iv.Value)
			if err != nil || d <= 0 {
				t.Fatalf("%s: group %d: interval %q: %v", rulesTestFile, i, iv.Value, err)
			}
			interval = time.Duration(d)
		}
		samples := float64(last / interval)
		cost[i] = last.Hours() * (1 + samples/4000) // the weight fitted to promtool 2.42's time per group
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost[b], cost[a]) })
	shards := make([][]*yaml.Node, n)
	load := make([]float64, n)
	for _, i := range order { // the costliest group to the least loaded shard
		s := slices.Index(load, slices.Min(load))
		shards[s] = append(shards[s], groups[i])
		load[s] += cost[i]
	}
	var out []string
	total := 0
	for _, s := range shards {
		if len(s) == 0 {
			continue
		}
		total += len(s)
		tests.Content = s
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(raw))
	}
	tests.Content = groups
	if total != len(groups) || len(groups) == 0 {
		t.Fatalf("shards hold %d of %d test groups", total, len(groups))
	}
	return out
}

// readTestFile parses the rules' unit test file, returning the document and its tests sequence.
func readTestFile(t *testing.T) (*yaml.Node, *yaml.Node) {
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
	return &doc, tests
}

// The unit tests are only worth something if they fail when a threshold moves: in a copy of the
// rules, raise the spike factor tenfold and lower the projected-underwater floor from $10 to $5 (the
// quiet neighbour, $9 short, then fires); promtool must report both alerts' tests as failed.
// TestRules_PromtoolCheckAndUnitTests runs the whole suite on the real rules; this one runs only
// what the two alerts are made of, so promtool's slow suite is not evaluated a second time: the test
// groups where a mutated alert fires, with only those alerts' assertions, against only the rules
// the two alerts read (transitively). A rule reads nothing it does not name, so the dropped rules
// cannot change the kept alerts, which pass on the real rules in the whole suite: the mutation, not
// the subset, is what fails them here.
func TestRules_UnitTestsFailWhenAThresholdChanges(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	mutated := string(raw)
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
	alerts := map[string]bool{}
	for _, m := range mutations {
		if !strings.Contains(mutated, m.from) {
			t.Fatalf("%s no longer contains %q; update this test", rulesFile, m.from)
		}
		mutated = strings.Replace(mutated, m.from, m.to, 1)
		alerts[m.alert] = true
	}
	tests := testGroupsWhereAlertsFire(t, alerts)
	dir := t.TempDir()
	write(t, filepath.Join(dir, filepath.Base(rulesFile)), rulesAlertsRead(t, mutated, alerts))
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

// rulesAlertsRead is the rule file text with only alerts and the recording rules they read,
// directly or through other recording rules, each group keeping its order.
func rulesAlertsRead(t *testing.T, text string, alerts map[string]bool) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	groups := mappingValue(doc.Content[0], "groups")
	if groups == nil {
		t.Fatalf("%s: no groups", rulesFile)
	}
	reads := map[string][]string{} // rule name → the metric names its expression reads
	for _, g := range groups.Content {
		for _, r := range mappingValue(g, "rules").Content {
			name := ruleName(r)
			names, err := metricNames(mappingValue(r, "expr").Value)
			if err != nil {
				t.Fatalf("%s: %s: %v", rulesFile, name, err)
			}
			reads[name] = names
		}
	}
	keep := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		for _, n := range reads[name] {
			if n == "ALERTS" || n == "ALERTS_FOR_STATE" {
				t.Fatalf("%s reads %s: the other alerts are not independent of it; update this test", name, n)
			}
			if _, isRule := reads[n]; isRule {
				visit(n)
			}
		}
	}
	for a := range alerts {
		if _, ok := reads[a]; !ok {
			t.Fatalf("%s has no alert %s", rulesFile, a)
		}
		visit(a)
	}
	for _, g := range groups.Content {
		rs := mappingValue(g, "rules")
		rs.Content = slices.DeleteFunc(rs.Content, func(r *yaml.Node) bool { return !keep[ruleName(r)] })
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// ruleName is a rule's record or alert name.
func ruleName(r *yaml.Node) string {
	if n := mappingValue(r, "record"); n != nil {
		return n.Value
	}
	if n := mappingValue(r, "alert"); n != nil {
		return n.Value
	}
	return ""
}

// testGroupsWhereAlertsFire is the rules' unit test file with only the test groups in which one
// of alerts is expected to fire, each keeping only the assertions on alerts; every one of alerts
// must fire in some group.
func testGroupsWhereAlertsFire(t *testing.T, alerts map[string]bool) string {
	t.Helper()
	doc, tests := readTestFile(t)
	fired := map[string]bool{}
	var kept []*yaml.Node
	for _, group := range tests.Content {
		art := mappingValue(group, "alert_rule_test")
		if art == nil {
			continue
		}
		keep := false
		for _, a := range art.Content {
			name, exp := mappingValue(a, "alertname"), mappingValue(a, "exp_alerts")
			if name != nil && alerts[name.Value] && exp != nil && len(exp.Content) > 0 {
				keep, fired[name.Value] = true, true
			}
		}
		if !keep {
			continue
		}
		art.Content = slices.DeleteFunc(art.Content, func(a *yaml.Node) bool {
			name := mappingValue(a, "alertname")
			return name == nil || !alerts[name.Value]
		})
		// Assertions on recorded series may read rules the subset drops.
		for i := 0; i+1 < len(group.Content); i += 2 {
			if group.Content[i].Value == "promql_expr_test" {
				group.Content = slices.Delete(group.Content, i, i+2)
				break
			}
		}
		kept = append(kept, group)
	}
	for a := range alerts {
		if !fired[a] {
			t.Fatalf("%s: no test group where %s fires", rulesTestFile, a)
		}
	}
	tests.Content = kept
	out, err := yaml.Marshal(doc)
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
