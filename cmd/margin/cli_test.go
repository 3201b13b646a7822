package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/testbin"
)

// cliFlags is the command line of DESIGN.md §4.2: every command's flags, and the global ones.
var cliFlags = map[string][]string{
	"":         {"help", "version", "log.level", "log.format"},
	"report":   {"config.file", "demo", "days", "format"},
	"check":    {"config.file", "demo"},
	"backfill": {"config.file", "demo", "output", "resolution"},
	"simulate": {"listen"},
	"version":  {},
}

func TestHelp_ListsEveryFlagOfEveryCommand(t *testing.T) {
	app, _, _ := newApp(&cliEnv{}, nil)
	model := app.Model()
	for cmd, flags := range cliFlags {
		args := []string{"--help"}
		if cmd != "" {
			args = []string{cmd, "--help"}
		}
		out, errOut, err := runCLI(t, args...)
		if err != nil || errOut != "" || strings.Contains(out, "panic") {
			t.Fatalf("margin %v: err %v, stderr %q, stdout:\n%s", args, err, errOut, out)
		}
		if strings.Count(out, "usage: margin") != 1 {
			t.Errorf("margin %v prints its usage %d times", args, strings.Count(out, "usage: margin"))
		}
		want := append([]string{}, flags...)
		if cmd != "" {
			want = append(want, cliFlags[""]...)
			// Whatever the command registers is listed too, so a new flag cannot hide.
			for _, c := range model.Commands {
				if c.Name == cmd {
					for _, f := range c.Flags {
						want = append(want, f.Name)
					}
				}
			}
		}
		for _, f := range want {
			if !strings.Contains(out, "--"+f) && !strings.Contains(out, "--[no-]"+f) {
				t.Errorf("margin %v does not list --%s:\n%s", args, f, out)
			}
		}
	}
	// The top-level help lists every command.
	out, _, _ := runCLI(t, "--help")
	for cmd := range cliFlags {
		if cmd != "" && !strings.Contains(out, "\n"+cmd) {
			t.Errorf("margin --help does not list the %s command", cmd)
		}
	}
}

func TestFlags_SingleDashFormsAreNamed(t *testing.T) {
	_, _, err := runCLI(t, "report", "-config.file=margin.yaml")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--config.file=margin.yaml") {
		t.Fatalf("err %v (exit %d), want exit 2 naming --config.file", err, exitCode(err))
	}
}

func TestLogLevel_ShowsEngineWarningsUnlessRaised(t *testing.T) {
	// The demo world's OpenRouter serves 30 days of a 31-day window: the engine warns.
	_, errOut, err := runCLI(t, "report", "--demo", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "level=WARN") || !strings.Contains(errOut, "openrouter") {
		t.Errorf("stderr at the default level lacks the engine's warning:\n%s", errOut)
	}
	_, errOut, err = runCLI(t, "--log.level=error", "report", "--demo", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, "level=WARN") {
		t.Errorf("--log.level=error still logs warnings:\n%s", errOut)
	}
	if _, _, err := runCLI(t, "--log.level=loud", "report", "--demo"); exitCode(err) != 2 {
		t.Errorf("--log.level=loud: err %v, want a usage error", err)
	}
}

func git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestVersion_OfAMakeBuildBinaryComesFromGit(t *testing.T) {
	bin := testbin.Released(t, testbin.Margin)
	want := "margin, version " + git(t, "describe", "--tags", "--always", "--dirty") +
		" (branch: " + git(t, "rev-parse", "--abbrev-ref", "HEAD") + ", revision: " + git(t, "rev-parse", "HEAD") + ")"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("margin %v: %v\n%s", args, err, out)
		}
		lines := strings.Split(string(out), "\n")
		if lines[0] != want {
			t.Errorf("margin %v first line %q, want %q", args, lines[0], want)
		}
		for _, field := range []string{"build user:", "build date:"} {
			if !strings.Contains(string(out), field) || strings.Contains(string(out), field+"       \n") {
				t.Errorf("margin %v: %s empty:\n%s", args, field, out)
			}
		}
	}
}
