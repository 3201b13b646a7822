package exporter

import (
	"os"
	"os/exec"
	"testing"
)

// tool finds a Prometheus binary: $env, else PATH. It fails (never skips) with how to install it.
func tool(t testing.TB, name, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found: set %s or put it on PATH (apt-get install prometheus, or "+
		"go install github.com/prometheus/prometheus/cmd/%s@v0.316.0; `make test` does this)", name, env, name)
	return ""
}

// promtoolCheckMetrics runs `promtool check metrics` on an exposition and fails on any finding.
func promtoolCheckMetrics(t testing.TB, exposition []byte) {
	t.Helper()
	cmd := exec.Command(tool(t, "promtool", "PROMTOOL_BIN"), "check", "metrics")
	cmd.Stdin = bytesReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
