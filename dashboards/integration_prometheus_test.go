package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/testbin"
)

// Day-one history comes the documented way, as in docker-compose.yml: `margin backfill
// --resolution=1h` writes the backfill window of the simulated world as OpenMetrics with timestamps,
// promtool turns it into TSDB blocks, and Prometheus, with the rules loaded, starts on them and
// scrapes the exporter live, continuing the same counters. Every dashboard PromQL query and every
// recording rule must then return data.
func TestIntegration_PrometheusScrapesTheDemoExporterAndEveryQueryReturnsData(t *testing.T) {
	t.Parallel() // mostly waiting for Prometheus: overlaps promtool's CPU-bound rule tests
	promBin := peerBinary(t, "PROMETHEUS_BIN", "prometheus")
	exporterBin := testbin.Path(t, testbin.MarginExporter)
	marginBin := testbin.Path(t, testbin.Margin)
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)

	world := simulator.New(simulator.Config{Now: now})
	srv := httptest.NewServer(world.Handler())
	t.Cleanup(srv.Close)

	demo, err := os.ReadFile("compose/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(demo), simulatorRoot, srv.URL)
	cfg = strings.Replace(cfg, "state_file: /var/lib/margin/margin-state.json", "state_file: "+filepath.Join(dir, "state.json"), 1)
	cfgFile := filepath.Join(dir, "margin.yaml")
	write(t, cfgFile, cfg)

	om := filepath.Join(dir, "backfill.om")
	if out, err := exec.Command(marginBin, "backfill", "--config.file="+cfgFile, "--resolution=1h", "--output="+om).CombinedOutput(); err != nil {
		t.Fatalf("margin backfill: %v\n%s", err, out)
	}
	tsdb := filepath.Join(dir, "tsdb")
	if out, err := exec.Command(promtool(t), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", om, tsdb).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	exporterAddr, _ := startExporter(t, exporterBin, cfgFile)

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	promCfg := filepath.Join(dir, "prometheus.yml")
	write(t, promCfg, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: margin
    static_configs: [{targets: [%q]}]
`, rules, exporterAddr))
	promAddr := freeAddr(t)
	prom := exec.Command(promBin, "--config.file="+promCfg, "--storage.tsdb.path="+tsdb,
		"--storage.tsdb.retention.time=1y", "--web.listen-address="+promAddr)
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prom.Process.Kill(); _ = prom.Wait() })
	api := "http://" + promAddr

	// Wait until Prometheus has scraped the live exporter a few times and evaluated the rules.
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, _, err := instantQuery(api, `count_over_time(margin_exporter_build_info[1m])`)
		r, _, _ := instantQuery(api, `customer_id:margin_llm_spend_share:30d`)
		if err == nil && n > 0 && r > 0 {
			if v, _, _ := instantQuery(api, `count_over_time(margin_exporter_build_info[1m]) >= 3`); v > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the exporter and evaluate the rules in time (last error %v)\n%s", err, tail(promLog.String()))
		}
		time.Sleep(500 * time.Millisecond)
	}

	customer := world.SpikeCustomer()
	subst := func(expr string, constants map[string]string) string {
		return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
			sub := grafanaVar.FindStringSubmatch(m)
			switch name := sub[1] + sub[2]; {
			case strings.HasPrefix(name, "__"):
				return "30d"
			case name == "customer_id":
				return customer
			case constants[name] != "":
				return constants[name]
			default:
				t.Fatalf("unexpected variable %s", name)
				return ""
			}
		})
	}
	// Empty by design on the demo world: it has no model without a price.
	mayBeEmpty := map[string]string{
		"Unpriced tokens in range": "the demo world prices every model",
	}
	for _, d := range loadDashboards(t) {
		for _, tg := range d.targets() {
			if tg.datasourceType() != "prometheus" {
				continue
			}
			expr := subst(str(tg.q["expr"]), d.constantValues())
			t.Run(d.file+"/"+tg.panel+"/"+str(tg.q["refId"]), func(t *testing.T) {
				n, warn, err := instantQuery(api, expr)
				if err != nil {
					t.Fatalf("%v\n%s", err, expr)
				}
				if warn != "" {
					t.Errorf("warning %s", warn)
				}
				if reason, ok := mayBeEmpty[tg.panel]; ok {
					t.Logf("%d series (may be empty: %s)", n, reason)
					return
				}
				if n == 0 {
					t.Errorf("no data:\n%s", expr)
				}
			})
		}
	}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			t.Run("rule/"+r.Record, func(t *testing.T) {
				if n, _, err := instantQuery(api, r.Record); err != nil || n == 0 {
					t.Errorf("recording rule %s: %d series, err %v", r.Record, n, err)
				}
			})
		}
	}
	// The backfill and the live counters are one continuous series: no reset where they meet.
	if n, _, err := instantQuery(api, `ALERTS{alertname="MarginCounterReset"}`); err != nil || n != 0 {
		t.Errorf("MarginCounterReset is active (%d alerts, err %v): the backfill and the exporter's counters do not meet", n, err)
	}
	// The demo world's unattributed share is above the 15% threshold: that alert is pending or firing,
	// evaluated by the real Prometheus on the real exporter's series.
	if n, _, err := instantQuery(api, `ALERTS{alertname="MarginUnattributedSpendHigh",customer_id="unattributed"}`); err != nil || n == 0 {
		share, _, _ := instantQuery(api, `customer_id:margin_llm_spend_share:30d{customer_id="unattributed"}`)
		t.Errorf("MarginUnattributedSpendHigh is neither pending nor firing on the demo world (%d share series, err %v)", share, err)
	}
}

// startExporter runs margin-exporter on a free loopback port until its first fill is served, and
// returns its address and a stop function (also registered as cleanup).
func startExporter(t *testing.T, bin, cfgFile string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--web.listen-address="+addr)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if body, err := get("http://" + addr + "/metrics"); err == nil && strings.Contains(body, "\nmargin_llm_cost_usd_total{") {
			return addr, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exporter served no cost metrics within a minute:\n%s", tail(log.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(body), err
}

// instantQuery runs expr at the current time and returns the number of series (or 1 for a scalar).
func instantQuery(api, expr string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var r struct {
		Status   string   `json:"status"`
		Error    string   `json:"error"`
		Warnings []string `json:"warnings"`
		Data     struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, "", err
	}
	if r.Status != "success" {
		return 0, "", fmt.Errorf("query failed: %s", r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return 1, strings.Join(r.Warnings, "; "), nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(r.Data.Result, &series); err != nil {
		return 0, "", err
	}
	return len(series), strings.Join(r.Warnings, "; "), nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
