package testbin

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// recorder is a testing.TB whose Fatalf and Skipf end only the call under test, so what Path
// says can be checked.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs Path with a recorder on its own goroutine, as Fatalf's Goexit requires.
func call(t *testing.T, p Program) (path string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = Path(r, p)
	}()
	<-done
	return path, r
}

// setShort sets -test.short for the rest of the test.
func setShort(t *testing.T, v bool) {
	t.Helper()
	was := testing.Short()
	if err := flag.Set("test.short", strconv.FormatBool(v)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.short", strconv.FormatBool(was)) })
}

func TestPath_FromTheMakefilesDirectory(t *testing.T) {
	setShort(t, false) // nothing is built or run here
	dir := t.TempDir()
	t.Setenv(envDir, dir)
	if _, r := call(t, Margin); !strings.Contains(r.fatal, "$"+envDir) || !strings.Contains(r.fatal, "make test builds it") {
		t.Fatalf("missing prebuilt margin: fatal %q", r.fatal)
	}
	if err := os.WriteFile(filepath.Join(dir, Margin.Name), nil, 0o700); err != nil { // #nosec G306 -- a stand-in executable
		t.Fatal(err)
	}
	if got, r := call(t, Margin); got != filepath.Join(dir, "margin") || r.fatal != "" {
		t.Fatalf("Path = %q, fatal %q", got, r.fatal)
	}
}

// Without $MARGIN_TEST_BIN a program is built once per process; a failed build is reported
// once with its output, and again, without rebuilding, to every later caller.
func TestPath_BuildsOnceAndRemembersFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go build")
	}
	t.Setenv(envDir, "")
	small := Program{Name: "screenshot", Pkg: "./internal/browser/screenshot"}
	first, r := call(t, small)
	if r.fatal != "" {
		t.Fatal(r.fatal)
	}
	st, err := os.Stat(first)
	if err != nil || st.Mode()&0o100 == 0 {
		t.Fatalf("built %s: %v, mode %v", first, err, st.Mode())
	}
	if again, _ := call(t, small); again != first {
		t.Errorf("second Path = %s, want the first build %s", again, first)
	}
	if st2, _ := os.Stat(first); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("the second Path rebuilt the program")
	}

	broken := Program{Name: "broken", Pkg: "./internal/no-such-package", Tags: []string{"x", "y"}}
	if _, r := call(t, broken); !strings.HasPrefix(r.fatal, "go build ./internal/no-such-package: ") || !strings.Contains(r.fatal, "no-such-package") {
		t.Fatalf("broken build: fatal %q", r.fatal)
	}
	if _, r := call(t, broken); !strings.HasPrefix(r.fatal, "go build ./internal/no-such-package failed earlier:\n") {
		t.Fatalf("second broken build: fatal %q", r.fatal)
	}
}

func TestPath_SkipsUnderShort(t *testing.T) {
	setShort(t, true)
	if _, r := call(t, MarginExporter); r.skip != "-short: runs margin-exporter as a process" {
		t.Fatalf("under -short: skip %q, fatal %q", r.skip, r.fatal)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testbin", "testbin.go")); err != nil {
		t.Fatalf("moduleRoot = %s: %v", root, err)
	}
	t.Chdir(t.TempDir())
	if _, err := moduleRoot(); err == nil || err.Error() != "no go.mod above the working directory" {
		t.Fatalf("outside the module: %v", err)
	}
}

func TestGoTool_PATHThenGOROOT(t *testing.T) {
	if p := GoTool(); filepath.Base(p) != "go" || !filepath.IsAbs(p) {
		t.Errorf("GoTool = %q, want the go on PATH", p)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOROOT", "/opt/go")
	if p := GoTool(); p != "/opt/go/bin/go" {
		t.Errorf("GoTool without go on PATH = %q, want $GOROOT/bin/go", p)
	}
	t.Setenv("GOROOT", "")
	if p := GoTool(); p != "go" {
		t.Errorf("GoTool with neither = %q, want go", p)
	}
}
