// Package testbin gives tests that run this module's programs as processes (the exporter, the
// CLI, the Grafana plugin) their executables. `make test` builds each once and names the directory
// in $MARGIN_TEST_BIN, so every test package of the run shares them; without it (a plain `go test`)
// each is built at most once per test binary, into a directory that Main removes. Tests only: no
// product code imports this package.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// envDir names the directory of prebuilt executables; `make test` sets it.
const envDir = "MARGIN_TEST_BIN"

// Program is one executable of this module.
type Program struct {
	Name string   // the executable's file name
	Pkg  string   // its main package, relative to the module root
	Tags []string // build tags
}

// The programs tests run, built as the release builds them: CGO_ENABLED=0 (the Makefile's test
// target builds the same list).
var (
	Margin         = Program{Name: "margin", Pkg: "./cmd/margin"}
	MarginExporter = Program{Name: "margin-exporter", Pkg: "./cmd/margin-exporter"}
	Plugin         = Program{Name: "gpx_margin", Pkg: "./plugin/pkg", Tags: []string{"arrow_json_stdlib"}}
)

var (
	mu    sync.Mutex
	dir   string                // this process's build directory, made on first use
	built = map[string]string{} // Name → path, or "" after a failed build
	fails = map[string]string{} // Name → the failed build's output
)

// Path returns p's executable: from $MARGIN_TEST_BIN when set, else built on first use.
// Under -short it skips the test: building and running processes is the slow part of the suite.
func Path(t testing.TB, p Program) string {
	t.Helper()
	return path(t, p, false)
}

// Released returns p's executable built with exactly the -ldflags `make build` uses (`make
// ldflags`), so its version and build info come from git: from $MARGIN_TEST_BIN when set (`make
// test` builds those with them), else built on first use.
func Released(t testing.TB, p Program) string {
	t.Helper()
	return path(t, p, true)
}

func path(t testing.TB, p Program, released bool) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: runs %s as a process", p.Name)
	}
	if d := os.Getenv(envDir); d != "" {
		path := filepath.Join(d, p.Name)
		if _, err := os.Stat(path); err != nil { // #nosec G703 -- a test-only folder the Makefile names
			t.Fatalf("$%s: %v (make test builds it; unset %s to build here)", envDir, err, envDir)
		}
		return path
	}
	key := p.Name
	if released {
		key += " (make build's -ldflags)"
	}
	mu.Lock()
	defer mu.Unlock()
	if path, ok := built[key]; ok {
		if path == "" {
			t.Fatalf("go build %s failed earlier:\n%s", p.Pkg, fails[key])
		}
		return path
	}
	path, err := build(p, released)
	if err != nil {
		built[key], fails[key] = "", err.Error()
		t.Fatalf("go build %s: %v", p.Pkg, err)
	}
	built[key] = path
	return path
}

func build(p Program, released bool) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "margin-testbin-"); err != nil {
			return "", err
		}
	}
	out := dir
	args := []string{"build"}
	if released {
		ldflags, err := exec.Command("make", "-s", "-C", root, "ldflags").Output() // #nosec G204 -- this module's own Makefile, in tests
		if err != nil {
			return "", fmt.Errorf("make ldflags: %w", err)
		}
		args = append(args, "-ldflags", strings.TrimSpace(string(ldflags)))
		out = filepath.Join(dir, "released")
		if err := os.MkdirAll(out, 0o750); err != nil {
			return "", err
		}
	}
	path := filepath.Join(out, p.Name)
	args = append(args, "-o", path)
	if len(p.Tags) > 0 {
		args = append(args, "-tags", strings.Join(p.Tags, ","))
	}
	cmd := exec.Command(GoTool(), append(args, p.Pkg)...) // #nosec G204 -- the go tool building this module's own packages, in tests
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return path, nil
}

// Main runs m and then removes what Path built: call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// GoTool is the go command: the one on PATH (what runs the tests), else $GOROOT's.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if r := os.Getenv("GOROOT"); r != "" {
		return filepath.Join(r, "bin", "go")
	}
	return "go"
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		d = parent
	}
}
