package exporter

import (
	"os"
	"os/exec"
	"testing"
)

// tool finds a Prometheus binary: $env, else PATH. It fails (never skips) with how to install it,
// except under -short (`make test-short`, no peers needed), where it skips the test.
func tool(t testing.TB, name, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: runs %s", name)
	}
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
// Under -short it does nothing, so the calling test's own assertions still run.
func promtoolCheckMetrics(t testing.TB, exposition []byte) {
	t.Helper()
	if testing.Short() {
		return
	}
	cmd := exec.Command(tool(t, "promtool", "PROMTOOL_BIN"), "check", "metrics")
	cmd.Stdin = bytesReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
