package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
// starts importing another top-level directory breaks this test before it breaks `docker build`.
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
	for _, m := range copies {
		for _, src := range strings.Fields(m[1]) {
			if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, src), filepath.Join(ctx, src)).CombinedOutput(); err != nil {
				t.Fatalf("cp %s: %v\n%s", src, err, out)
			}
		}
	}
	pkgs := regexp.MustCompile(`\./cmd/[\w-]+`).FindAllString(text, -1)
	cmd := exec.Command(goTool(), append([]string{"build", "-trimpath", "-o", t.TempDir() + "/"}, pkgs...)...)
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v in a context of %v: %v\n%s", pkgs, copies, err, out)
	}
}
