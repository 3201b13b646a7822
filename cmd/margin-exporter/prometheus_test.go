package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPrometheus_ScrapesTheDemoAndAnswersPerCustomerCost runs a real Prometheus against the demo
// exporter and checks one customer's cost through PromQL against the engine's own numbers.
func TestPrometheus_ScrapesTheDemoAndAnswersPerCustomerCost(t *testing.T) {
	bin := tool(t, "prometheus", "PROMETHEUS_BIN")
	base, _ := start(t, "--demo")
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: margin\n    static_configs: [{targets: ['%s']}]\n", strings.TrimPrefix(base, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	// The engine's own number: the customer with the most spend over the first fill's windows.
	w := simulator.New(simulator.Config{Now: worldNow})
	eng, err := engine.New(simengine.Options(w, "http://sim.invalid", &http.Client{Transport: w.Transport()}))
	if err != nil {
		t.Fatal(err)
	}
	today := eng.Today()
	f, err := eng.Fetch(context.Background(), usage.Window{From: today - 31, To: today + 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	perCustomer := map[string]ledger.Money{}
	for _, r := range eng.Compute(f).Rows {
		if r.Customer != usage.NoSym && r.Day >= today-usage.Day(r.Provider.Name().RetentionDays()) {
			perCustomer[r.Customer.String()] += r.Cost
		}
	}
	var customer string
	for c, v := range perCustomer {
		if customer == "" || v > perCustomer[customer] || (v == perCustomer[customer] && c < customer) {
			customer = c
		}
	}
	want := perCustomer[customer].Float64()

	query := fmt.Sprintf(`sum(margin_llm_cost_usd_total{customer_id=%q})`, customer)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, ok := promQuery(t, "http://"+addr, query)
		if ok {
			if math.Abs(got-want) > 1e-6 {
				t.Fatalf("%s = %v, the engine says %v", query, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to %s within 60s; prometheus logs:\n%s", query, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// promQuery runs an instant query; ok is false until Prometheus answers with one sample.
func promQuery(t *testing.T, base, query string) (float64, bool) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
