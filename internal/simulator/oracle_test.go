package simulator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/testbin"
)

// oracleFuncs are the linker symbols of the functions and methods oracle.go declares.
func oracleFuncs(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "oracle.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	const pkg = "github.com/marginhq/margin/internal/simulator."
	var syms []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if fn.Recv == nil {
			syms = append(syms, pkg+fn.Name.Name)
			continue
		}
		recv := fn.Recv.List[0].Type
		if star, ok := recv.(*ast.StarExpr); ok {
			syms = append(syms, pkg+"(*"+star.X.(*ast.Ident).Name+")."+fn.Name.Name)
		} else {
			syms = append(syms, pkg+recv.(*ast.Ident).Name+"."+fn.Name.Name)
		}
	}
	if len(syms) < 10 {
		t.Fatalf("oracle.go declares %d functions; want the world's truth readers (BilledTotal, CustomerOf, ...)", len(syms))
	}
	return syms
}

// The ground truth the tests compare with is not shipped: the symbol tables of the executables
// `make test` builds (as the release builds them) hold none of oracle.go's functions. The demo
// mode of margin and margin-exporter does link the simulator, so their tables must show it.
func TestOracleNotInProductBinaries(t *testing.T) {
	oracle := oracleFuncs(t)
	for _, p := range []struct {
		prog      testbin.Program
		simulator bool // links the simulator (demo mode)
	}{{testbin.Margin, true}, {testbin.MarginExporter, true}, {testbin.Plugin, false}} {
		t.Run(p.prog.Name, func(t *testing.T) {
			bin := testbin.Path(t, p.prog)
			out, err := exec.Command(testbin.GoTool(), "tool", "nm", bin).Output() // #nosec G204 -- the go tool on this module's own test executables
			if err != nil {
				t.Fatalf("go tool nm %s: %v", bin, err)
			}
			syms := map[string]bool{}
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) >= 3 {
					syms[f[len(f)-1]] = true
				}
			}
			if got := syms["github.com/marginhq/margin/internal/simulator.(*World).Handler"]; got != p.simulator {
				t.Fatalf("%s links the simulator's Handler: %v, want %v (is the symbol table readable?)", p.prog.Name, got, p.simulator)
			}
			for _, s := range oracle {
				if syms[s] {
					t.Errorf("%s links %s: product code reaches the simulator's oracle", p.prog.Name, s)
				}
			}
		})
	}
}

// The simulator exists to test the engine, so it must not depend on it (internal/simengine turns
// a world into engine options).
func TestSimulator_ImportsNoEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go list")
	}
	out, err := exec.Command(testbin.GoTool(), "list", "-deps", ".").Output() // #nosec G204 -- the go tool listing this package
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps lists %d packages: %v", len(deps), deps)
	}
	for _, d := range deps {
		if d == "github.com/marginhq/margin/internal/engine" || strings.HasPrefix(d, "github.com/marginhq/margin/internal/engine/") {
			t.Errorf("internal/simulator imports %s", d)
		}
	}
}
