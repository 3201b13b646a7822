package dashboards

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/testbin"
)

// The Dockerfile has the targets compose builds and builds packages that exist.
func TestDockerfile_TargetsAndPackagesExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, target := range []string{"exporter", "cli"} {
		if !regexp.MustCompile(`(?m)^FROM \S+ AS ` + target + `$`).MatchString(text) {
			t.Errorf("Dockerfile has no %s stage", target)
		}
	}
	if !strings.Contains(text, "FROM golang:1.26 AS build") {
		t.Error("want a golang:1.26 build stage")
	}
	for _, m := range regexp.MustCompile(`\./cmd/[\w-]+`).FindAllString(text, -1) {
		if _, err := os.Stat(filepath.Join(repoRoot, m, "main.go")); err != nil {
			t.Errorf("Dockerfile builds %s: %v", m, err)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) \./`).FindAllStringSubmatch(text, -1) {
		if _, err := os.Stat(filepath.Join(repoRoot, m[1])); err != nil {
			t.Errorf("Dockerfile copies %s: %v", m[1], err)
		}
	}
}

// The build stage compiles with only what the Dockerfile copies into the image: a package that
// starts importing (or embedding from) another top-level directory breaks this test before it
// breaks `docker build`. In a context holding only the copied paths, `go list -deps` resolves
// every package the Dockerfile's binaries need, as the build stage would (no cgo, go.mod as is),
// without compiling them: every package and embedded file must resolve, and every package of this
// module must come from the copied paths.
func TestDockerfile_BuildsFromTheCopiedPathsAlone(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	ctx := t.TempDir()
	copies := regexp.MustCompile(`(?m)^COPY ([^-\n][^\n]*) \./\S*$`).FindAllStringSubmatch(text, -1)
	if len(copies) == 0 {
		t.Fatal("no COPY lines into the build stage")
	}
	var copied []string
	for _, m := range copies {
		for _, src := range strings.Fields(m[1]) {
			if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, src), filepath.Join(ctx, src)).CombinedOutput(); err != nil {
				t.Fatalf("cp %s: %v\n%s", src, err, out)
			}
			copied = append(copied, src)
		}
	}
	// The RUN line continues over backslash-newlines (the -ldflags): join them before matching.
	build := regexp.MustCompile(`(?m)^RUN .*\bgo build\b.*$`).FindString(strings.ReplaceAll(text, "\\\n", " "))
	pkgs := regexp.MustCompile(`\./cmd/[\w-]+`).FindAllString(build, -1)
	if len(pkgs) == 0 {
		t.Fatalf("no ./cmd/... packages in the build stage's go build line %q", build)
	}
	// One JSON object per package, as `go list -json` prints them.
	cmd := exec.Command(testbin.GoTool(), append([]string{"list", "-deps", "-e",
		"-json=ImportPath,Dir,Module,EmbedFiles,Error,DepsErrors,Incomplete"}, pkgs...)...)
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOWORK=off")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %v in a context of %v: %v\n%s", pkgs, copied, err, stderr.String())
	}
	type listed struct {
		ImportPath, Dir string
		Module          *struct {
			Path string
			Main bool
		}
		EmbedFiles []string
		Error      *struct{ Err string }
		DepsErrors []struct{ Err string }
		Incomplete bool
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	ours := 0
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			t.Errorf("%s: %s", p.ImportPath, e.Err)
		}
		if p.Incomplete && p.Error == nil && len(p.DepsErrors) == 0 {
			t.Errorf("%s: incomplete", p.ImportPath)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library and go.mod's requirements, from the module cache
		}
		ours++
		rel, err := filepath.Rel(ctx, p.Dir)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || !slices.Contains(copied, strings.Split(filepath.ToSlash(rel), "/")[0]) {
			t.Errorf("%s (in %s) is not under a copied path %v", p.ImportPath, rel, copied)
		}
		for _, f := range p.EmbedFiles {
			if _, err := os.Stat(filepath.Join(p.Dir, f)); err != nil {
				t.Errorf("%s embeds %s: %v", p.ImportPath, f, err)
			}
		}
	}
	if ours < len(pkgs) {
		t.Fatalf("go list found %d packages of this module for %v, want at least the binaries", ours, pkgs)
	}
}
