package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackfill_DemoWritesOpenMetricsEndingWithEOF(t *testing.T) {
	for _, res := range []string{"1d", "1h"} {
		t.Run(res, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "margin.om")
			stdout, _, err := runCLI(t, "backfill", "--demo", "--output="+out, "--resolution="+res)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(data, []byte("\n# EOF\n")) || !bytes.Contains(data, []byte("# TYPE margin_llm_cost_usd counter\n")) {
				t.Fatalf("%s is not a Margin OpenMetrics file:\n%s", out, data[:min(len(data), 400)])
			}
			if !strings.Contains(stdout, "wrote "+out) || !strings.Contains(stdout, "promtool tsdb create-blocks-from openmetrics") {
				t.Fatalf("stdout %q", stdout)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*"))
			if len(leftovers) > 0 {
				t.Fatalf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestBackfill_BadUsageExitsWithCode2(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"backfill", "--demo"}, "--output is required"},
		{[]string{"backfill", "--demo", "--output=" + filepath.Join(dir, "x"), "--resolution=5m"}, `resolution "5m": want 1d or 1h`},
		{[]string{"backfill", "--output=" + filepath.Join(dir, "x")}, "--config.file is required"},
		{[]string{"backfill", "--config.file=" + filepath.Join(dir, "missing.yaml"), "--output=" + filepath.Join(dir, "x")}, "missing.yaml"},
	}
	for _, tt := range tests {
		_, _, err := runCLI(t, tt.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v (code %d), want code 2 and %q", tt.args, err, exitCode(err), tt.want)
		}
		if _, statErr := os.Stat(filepath.Join(dir, "x")); statErr == nil {
			t.Errorf("%v wrote the output file", tt.args)
		}
	}
}
