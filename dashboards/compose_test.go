package dashboards

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// simulatorRoot is where the compose stack serves `margin simulate`: the service name and port.
const simulatorRoot = "http://simulator:8089"

// buildOutputs are mounted host paths that a build creates rather than the repository holds.
var buildOutputs = map[string]string{"plugin/dist": "make plugin"}

func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	var pairs []string
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot), cli.WithName("margin"), cli.WithEnv(pairs))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go: %v", err)
	}
	return p
}

func TestCompose_LoadsAndEveryMountedPathExists(t *testing.T) {
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"demo", "live"} {
		t.Run(mode, func(t *testing.T) {
			p := loadCompose(t, map[string]string{"MARGIN_MODE": mode})
			want := []string{"backfill", "exporter", "grafana", "prometheus", "prometheus-backfill", "simulator"}
			if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, want) {
				t.Fatalf("services %v, want %v", got, want)
			}
			binds := 0
			for name, svc := range p.Services {
				for _, v := range svc.Volumes {
					if v.Type != types.VolumeTypeBind {
						continue
					}
					binds++
					rel, err := filepath.Rel(abs, v.Source)
					if err != nil || strings.HasPrefix(rel, "..") {
						t.Errorf("%s: mount %s is outside the repository", name, v.Source)
						continue
					}
					if hint, ok := buildOutputs[filepath.ToSlash(rel)]; ok {
						t.Logf("%s: %s is created by `%s`", name, rel, hint)
						continue
					}
					if _, err := os.Stat(v.Source); err != nil {
						t.Errorf("%s: mounted path %s does not exist", name, rel)
					}
					if !v.ReadOnly {
						t.Errorf("%s: bind mount %s should be read-only", name, rel)
					}
				}
			}
			if binds < 7 {
				t.Errorf("%d bind mounts: the compose file lost some", binds)
			}
			g := p.Services["grafana"]
			if v := g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]; v == nil || *v != marginPluginID {
				t.Errorf("grafana must allow the unsigned %s plugin", marginPluginID)
			}
			exp := p.Services["exporter"]
			if exp.Build == nil || exp.Build.Target != "exporter" || p.Services["simulator"].Build.Target != "cli" {
				t.Error("exporter and simulator must build the Dockerfile's exporter and cli targets")
			}
			wantCfg := "--config.file=/etc/margin/" + mode + ".yaml"
			if !slices.Contains(exp.Command, wantCfg) {
				t.Errorf("exporter command %v, want %s", exp.Command, wantCfg)
			}
			if _, err := os.Stat(filepath.Join("compose", mode+".yaml")); err != nil {
				t.Errorf("MARGIN_MODE=%s: %v", mode, err)
			}
		})
	}
}

// The README's table of services lists the same images and host ports as the compose file.
func TestCompose_ImagesAndPortsMatchTheREADME(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([\\w-]+)` \\| `([^`]+)` \\| (\\d+|—) \\|")
	readme := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		readme[m[1]] = m[2] + " " + m[3]
	}
	p := loadCompose(t, nil)
	got := map[string]string{}
	for name, svc := range p.Services {
		if len(svc.Ports) == 0 {
			got[name] = svc.Image + " —" // a one-shot job
			continue
		}
		if len(svc.Ports) != 1 {
			t.Errorf("%s: want one published port, got %d", name, len(svc.Ports))
			continue
		}
		port := svc.Ports[0]
		if port.HostIP != "127.0.0.1" {
			t.Errorf("%s: port published on %q, want 127.0.0.1 (revenue data is sensitive)", name, port.HostIP)
		}
		got[name] = svc.Image + " " + port.Published
	}
	if !maps.Equal(got, readme) {
		t.Errorf("compose services (image port) %v\nREADME table             %v", got, readme)
	}
}

// Each service listens where the others expect it: Prometheus scrapes the exporter's listen port,
// Grafana's datasource points at Prometheus, the configs at the simulator.
func TestCompose_ServicesFindEachOther(t *testing.T) {
	p := loadCompose(t, nil)
	listen := ""
	for _, a := range p.Services["exporter"].Command {
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			listen = v
		}
	}
	if listen != ":9479" || p.Services["exporter"].Ports[0].Target != 9479 {
		t.Errorf("exporter listens on %q, publishes %d; want :9479", listen, p.Services["exporter"].Ports[0].Target)
	}
	checkBackfillWiring(t, p)
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || !slices.Equal(prom.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"exporter:9479"}) {
		t.Errorf("prometheus scrapes %+v, want exporter:9479", prom.ScrapeConfigs)
	}
	// The rule file Prometheus loads is the one mounted from dashboards/alerts.
	mounted := containerPaths(t, p, "prometheus")
	for _, rf := range prom.RuleFiles {
		host, ok := mounted.resolve(rf)
		if !ok {
			t.Errorf("rule file %s is not under a mounted directory", rf)
		} else if _, err := os.Stat(host); err != nil {
			t.Errorf("rule file %s: %v", rf, err)
		}
	}
	if len(prom.RuleFiles) == 0 {
		t.Error("prometheus loads no rule files")
	}
	if !testing.Short() { // -short runs no peers; the other checks of this test still run
		out, err := exec.Command(promtool(t), "check", "config", "--syntax-only", "prometheus/prometheus.yml").CombinedOutput()
		if err != nil {
			t.Errorf("promtool check config: %v\n%s", err, out)
		}
	}
	// Grafana's dashboard provider reads the directory the dashboards are mounted at.
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "provisioning/dashboards/margin.yaml", &prov)
	host, ok := containerPaths(t, p, "grafana").resolve(prov.Providers[0].Options.Path + "/margin-overview.json")
	if !ok {
		t.Fatalf("dashboard provider path %s is not mounted", prov.Providers[0].Options.Path)
	}
	if _, err := os.Stat(host); err != nil {
		t.Errorf("dashboards: %v", err)
	}
}

type mounts map[string]string // container path -> host path

func containerPaths(t *testing.T, p *types.Project, service string) mounts {
	t.Helper()
	m := mounts{}
	for _, v := range p.Services[service].Volumes {
		if v.Type == types.VolumeTypeBind {
			m[v.Target] = v.Source
		}
	}
	return m
}

// resolve maps a container path to the host path of the deepest bind mount holding it.
func (m mounts) resolve(path string) (string, bool) {
	best := ""
	for target := range m {
		if (path == target || strings.HasPrefix(path, target+"/")) && len(target) > len(best) {
			best = target
		}
	}
	if best == "" {
		return "", false
	}
	return filepath.Join(m[best], strings.TrimPrefix(path, best)), true
}

func TestComposeConfigs_DemoReadsTheSimulatorLiveReadsTheEnvironment(t *testing.T) {
	world := simulator.New(simulator.Config{})
	wantCustomers := world.ConfigCustomers()
	oa, an, or, st := simulator.BaseURLs(simulatorRoot)

	demo := parseConfig(t, "compose/demo.yaml", nil)
	for _, c := range []struct {
		name      string
		src       config.Source
		key, base string
	}{
		{"openai", demo.OpenAI, simulator.OpenAIAdminKey, oa},
		{"anthropic", demo.Anthropic, simulator.AnthropicAdminKey, an},
		{"openrouter", demo.OpenRouter, simulator.OpenRouterManagementKey, or},
		{"stripe", demo.Stripe, simulator.StripeAPIKey, st},
	} {
		if c.src.Key.Reveal() != c.key || c.src.BaseURL != c.base {
			t.Errorf("demo %s: base URL %s (want %s), key matches the simulator's: %v", c.name, c.src.BaseURL, c.base, c.src.Key.Reveal() == c.key)
		}
	}
	if !sameMapping(demo.Customers, wantCustomers) {
		t.Errorf("demo customers differ from the simulator's config-mapped customers:\n got %v\nwant %v", demo.Customers, wantCustomers)
	}
	if !maps.Equal(demo.Features, world.Features()) {
		t.Errorf("demo features differ from the simulator's")
	}
	if !filepath.IsAbs(demo.StateFile) || !strings.HasPrefix(demo.StateFile, "/var/lib/margin/") {
		t.Errorf("demo state_file %s, want it on the margin-state volume", demo.StateFile)
	}

	off := parseConfig(t, "compose/live.yaml", nil)
	if off.OpenAI.Enabled() || off.Anthropic.Enabled() || off.OpenRouter.Enabled() || off.Stripe.Enabled() {
		t.Error("live.yaml without keys in the environment: every source should be off")
	}
	on := parseConfig(t, "compose/live.yaml", map[string]string{
		"OPENAI_ADMIN_KEY": "sk-admin-x", "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-x",
		"OPENROUTER_MANAGEMENT_KEY": "sk-or-x", "STRIPE_API_KEY": "rk_live_x"})
	if !on.OpenAI.Enabled() || !on.Anthropic.Enabled() || !on.OpenRouter.Enabled() || !on.Stripe.Enabled() {
		t.Error("live.yaml with every key set: every source should be on")
	}
	if on.OpenAI.BaseURL != config.DefaultOpenAIBaseURL || on.Stripe.BaseURL != config.DefaultStripeBaseURL {
		t.Errorf("live.yaml must read the real APIs, got %s and %s", on.OpenAI.BaseURL, on.Stripe.BaseURL)
	}

	// The env file switches modes and names exactly the variables the compose file passes on.
	env := readEnvFile(t, filepath.Join(repoRoot, "margin.env.example"))
	if env["MARGIN_MODE"] != "live" {
		t.Errorf("margin.env.example: MARGIN_MODE=%q, want live", env["MARGIN_MODE"])
	}
	compose, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range env {
		if !strings.Contains(string(compose), "${"+k+":-") {
			t.Errorf("margin.env.example sets %s, which docker-compose.yml never reads", k)
		}
	}
}

func parseConfig(t *testing.T, path string, env map[string]string) *config.Config {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw, config.ParseOptions{BaseDir: filepath.Dir(path), LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

func sameMapping(a, b map[string][]usage.SourceRef) bool {
	return maps.EqualFunc(a, b, func(x, y []usage.SourceRef) bool {
		return slices.Equal(slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(y)))
	})
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=value", path, line)
		}
		out[k] = v
	}
	return out
}

// The day-one history path: backfill reads the exporter's config and writes a file on a volume that
// prometheus-backfill reads, which writes blocks to the volume Prometheus stores its TSDB on, before
// Prometheus starts.
func checkBackfillWiring(t *testing.T, p *types.Project) {
	t.Helper()
	flag := func(args []string, name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
		return ""
	}
	volumeAt := func(service, target string) string {
		for _, v := range p.Services[service].Volumes {
			if v.Type == types.VolumeTypeVolume && (target == v.Target || strings.HasPrefix(target, v.Target+"/")) {
				return v.Source
			}
		}
		return ""
	}
	bf, pb, prom := p.Services["backfill"], p.Services["prometheus-backfill"], p.Services["prometheus"]
	if got, want := flag(bf.Command, "--config.file"), flag(p.Services["exporter"].Command, "--config.file"); got != want || got == "" {
		t.Errorf("backfill reads %q, the exporter %q: they must count the same", got, want)
	}
	out := flag(bf.Command, "--output")
	script := strings.Join(pb.Command, " ")
	tsdb := flag(prom.Command, "--storage.tsdb.path")
	if out == "" || !strings.Contains(script, "openmetrics --max-block-duration=744h "+out+" "+tsdb) {
		t.Errorf("prometheus-backfill must turn %s into blocks in %s, runs %q", out, tsdb, script)
	}
	if v := volumeAt("backfill", out); v == "" || v != volumeAt("prometheus-backfill", out) {
		t.Errorf("%s is not on a volume both backfill and prometheus-backfill mount", out)
	}
	if v := volumeAt("prometheus", tsdb); v == "" || v != volumeAt("prometheus-backfill", tsdb) {
		t.Errorf("prometheus-backfill does not write Prometheus' TSDB volume at %s", tsdb)
	}
	if d, ok := prom.DependsOn["prometheus-backfill"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Error("prometheus must wait for prometheus-backfill to complete")
	}
	if d, ok := pb.DependsOn["backfill"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Error("prometheus-backfill must wait for backfill to complete")
	}
}
