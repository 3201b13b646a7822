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
// evaluates every rule of its rule files at every step of a test group, and one group after
// another, so each group runs against only the rules its assertions read (see groupFiles), and the
// suite runs as two shards, two processes.
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
	doc, tests := readTestFile(t)
	dir := t.TempDir()
	files := groupFiles(t, dir, doc, tests.Content, string(rules))
	if len(files) != len(tests.Content) || len(files) == 0 {
		t.Fatalf("%d test files for %d test groups", len(files), len(tests.Content))
	}
	for i, shard := range shards(files, 2) {
		t.Run(fmt.Sprintf("shard %d", i), func(t *testing.T) {
			t.Parallel()
			names := make([]string, len(shard))
			for j, f := range shard {
				names[j] = f.name
			}
			cmd := exec.Command(bin, append([]string{"test", "rules"}, names...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool test rules (%s, shard %d: %v): %v\n%s", rulesTestFile, i, names, err, out)
			}
		})
	}
}

// groupFile is one test group of the rules' unit test file, written alone into a test file of its
// own beside the rule file it reads.
type groupFile struct {
	name string  // the test file, relative to its directory
	cost float64 // promtool's relative time for it
}

// groupFiles writes each of groups into dir as a test file of its own (doc's evaluation interval and
// other settings kept), reading a rule file with only the rules the group's assertions name and
// the recording rules those read, transitively, each rule group keeping its order. A rule reads
// nothing it does not name, so the rules left out cannot change what the group asserts; they only
// cost time, because promtool evaluates every rule it is given at every step.
func groupFiles(t *testing.T, dir string, doc *yaml.Node, groups []*yaml.Node, rules string) []groupFile {
	t.Helper()
	tests := mappingValue(doc.Content[0], "tests")
	ruleFiles := mappingValue(doc.Content[0], "rule_files")
	if ruleFiles == nil || ruleFiles.Kind != yaml.SequenceNode || len(ruleFiles.Content) != 1 {
		t.Fatalf("%s: want rule_files to list the one rule file", rulesTestFile)
	}
	saved, savedRules := tests.Content, ruleFiles.Content
	defer func() { tests.Content, ruleFiles.Content = saved, savedRules }()
	var files []groupFile
	for i, g := range groups {
		alerts, series := groupReads(t, g)
		subset, n := rulesRead(t, rules, alerts, series)
		ruleName := fmt.Sprintf("rules-%02d.yml", i)
		write(t, filepath.Join(dir, ruleName), subset)
		ruleFiles.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: ruleName}}
		tests.Content = []*yaml.Node{g}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("tests-%02d.yml", i)
		write(t, filepath.Join(dir, name), string(raw))
		files = append(files, groupFile{name: name, cost: groupCost(t, i, g) * float64(n)})
	}
	return files
}

// groupCost is a test group's cost per rule evaluated. promtool evaluates at each evaluation
// interval up to the group's last eval_time, and each evaluation reads the input samples so far: a
// group's cost grows with its last eval_time d, and more than linearly with its samples per
// series, d/interval (measured: 174h of 5m samples costs more than 216h of hourly ones).
func groupCost(t *testing.T, i int, g *yaml.Node) float64 {
	t.Helper()
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
	return last.Hours() * (1 + samples/4000) // the weight fitted to promtool 2.42's time per group
}

// shards splits files into at most n lists of about equal cost, the costliest file first to the
// least loaded list.
func shards(files []groupFile, n int) [][]groupFile {
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b groupFile) int { return cmp.Compare(b.cost, a.cost) })
	out := make([][]groupFile, n)
	load := make([]float64, n)
	for _, f := range order {
		s := slices.Index(load, slices.Min(load))
		out[s] = append(out[s], f)
		load[s] += f.cost
	}
	return slices.DeleteFunc(out, func(s []groupFile) bool { return len(s) == 0 })
}

// groupReads is what a test group's assertions read: the alerts its alert tests name, and the
// metric names of its PromQL tests' expressions.
func groupReads(t *testing.T, g *yaml.Node) (alerts, series []string) {
	t.Helper()
	if seq := mappingValue(g, "alert_rule_test"); seq != nil {
		for _, a := range seq.Content {
			if n := mappingValue(a, "alertname"); n != nil {
				alerts = append(alerts, n.Value)
			}
		}
	}
	if seq := mappingValue(g, "promql_expr_test"); seq != nil {
		for _, e := range seq.Content {
			names, err := metricNames(mappingValue(e, "expr").Value)
			if err != nil {
				t.Fatalf("%s: %v", rulesTestFile, err)
			}
			series = append(series, names...)
		}
	}
	return alerts, series
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
// groups where a mutated alert fires, with only those alerts' assertions, each against only the
// mutated rules those alerts read (transitively). The kept alerts pass on the real rules in the
// whole suite: the mutation, not the subset, is what fails them here.
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
	doc, groups := testGroupsWhereAlertsFire(t, alerts)
	dir := t.TempDir()
	var names []string
	for _, f := range groupFiles(t, dir, doc, groups, mutated) {
		names = append(names, f.name)
	}
	cmd := exec.Command(bin, append([]string{"test", "rules"}, names...)...)
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

// rulesRead is the rule file text with only the alerts named, the recording rules among series,
// and the recording rules those read, directly or through other recording rules, each group
// keeping its order; and how many rules it keeps. Every alert named must be in the file (promtool
// would pass a test expecting no alert from a rule that does not exist).
func rulesRead(t *testing.T, text string, alerts, series []string) (string, int) {
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
	for _, a := range alerts {
		if _, ok := reads[a]; !ok {
			t.Fatalf("%s tests alert %s, which %s does not have", rulesTestFile, a, rulesFile)
		}
		visit(a)
	}
	for _, s := range series {
		if _, isRule := reads[s]; isRule {
			visit(s)
		}
	}
	kept := 0
	for _, g := range groups.Content {
		rs := mappingValue(g, "rules")
		rs.Content = slices.DeleteFunc(rs.Content, func(r *yaml.Node) bool { return !keep[ruleName(r)] })
		kept += len(rs.Content)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), kept
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

// testGroupsWhereAlertsFire is the rules' unit test file and its test groups in which one of
// alerts is expected to fire, each keeping only the assertions on alerts; every one of alerts must
// fire in some group.
func testGroupsWhereAlertsFire(t *testing.T, alerts map[string]bool) (*yaml.Node, []*yaml.Node) {
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
		// Only the alerts' assertions: the recorded series' values are the whole suite's to pin.
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
	return doc, kept
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
