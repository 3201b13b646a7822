package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/testbin"
	"golang.org/x/crypto/bcrypt"
)

// exporterFlags is the command line of DESIGN.md §4.2 plus what kingpinflag and promslog/flag add.
var exporterFlags = []string{"help", "version", "config.file", "web.listen-address", "web.config.file", "web.telemetry-path",
	"web.systemd-socket", "log.level", "log.format", "demo"}

func TestHelp_ListsEveryFlagWithoutPanicking(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errOut, nil); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	if strings.Contains(help+errOut.String(), "panic") || errOut.Len() > 0 {
		t.Fatalf("--help: stderr %q, stdout:\n%s", errOut.String(), help)
	}
	for _, f := range exporterFlags {
		if !strings.Contains(help, "--"+f) && !strings.Contains(help, "--[no-]"+f) {
			t.Errorf("--help does not list --%s:\n%s", f, help)
		}
	}
	if strings.Count(help, "usage: margin-exporter") != 1 {
		t.Errorf("--help prints the usage %d times", strings.Count(help, "usage: margin-exporter"))
	}
}

func TestFlags_SingleDashFormsAreNamed(t *testing.T) {
	err := run(context.Background(), []string{"-config.file=margin.yaml"}, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "--config.file=margin.yaml") {
		t.Fatalf("err %v, want one naming --config.file", err)
	}
}

var href = regexp.MustCompile(`href="([^"]*)"`)

// landingLinks fetches the landing page and every link on it, and reports each status.
func landingLinks(t *testing.T, base string, auth ...string) (string, map[string]int) {
	t.Helper()
	status, page := get(t, base+"/", auth...)
	if status != http.StatusOK {
		t.Fatalf("landing page: status %d", status)
	}
	links := map[string]int{}
	root, _ := url.Parse(base + "/")
	for _, m := range href.FindAllStringSubmatch(page, -1) {
		u, err := root.Parse(m[1])
		if err != nil {
			t.Fatalf("link %q: %v", m[1], err)
		}
		if u.Host != root.Host {
			t.Errorf("link %q leaves the exporter (and tests stay off the internet)", m[1])
			continue
		}
		links[m[1]], _ = get(t, u.String(), auth...)
	}
	return page, links
}

func TestLanding_EveryLinkAnswers200AndTheBuildAndConfigAreShown(t *testing.T) {
	base, _ := start(t, "--demo")
	page, links := landingLinks(t, base)
	if len(links) == 0 {
		t.Fatal("the landing page links nothing")
	}
	for link, status := range links {
		if status != http.StatusOK {
			t.Errorf("landing link %q answers %d", link, status)
		}
	}
	if _, ok := links["/metrics"]; !ok {
		t.Errorf("no link to the metrics: %v", links)
	}
	for _, want := range []string{`id="build"`, "Go version", "Revision", `id="config"`, "--demo", "openai, anthropic, openrouter, stripe"} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if strings.Contains(page, "debug/pprof") || strings.Contains(page, `id="pprof"`) {
		t.Error("the landing page mentions pprof, which is not served")
	}
	if status, _ := get(t, base+"/debug/pprof/heap"); status != http.StatusNotFound {
		t.Errorf("/debug/pprof/heap: %d, want 404 (not served)", status)
	}
}

func TestLanding_ShowsTheConfigPathAndSitsBehindTheWebConfig(t *testing.T) {
	file := simulatorConfig(t, t.TempDir())
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := start(t, "--config.file="+file, "--web.config.file="+webConfig)
	if status, _ := get(t, base+"/"); status != http.StatusUnauthorized {
		t.Errorf("landing page without credentials: %d, want 401", status)
	}
	page, links := landingLinks(t, base, "prometheus", "s3cret")
	for link, status := range links {
		if status != http.StatusOK {
			t.Errorf("landing link %q answers %d with credentials", link, status)
		}
	}
	if !strings.Contains(page, file) {
		t.Errorf("the landing page does not show the config file %s", file)
	}
}

func TestVersion_OfAMakeBuildBinaryComesFromGit(t *testing.T) {
	bin := testbin.Released(t, testbin.MarginExporter)
	describe, branch, rev := gitOut(t, "describe", "--tags", "--always", "--dirty"), gitOut(t, "rev-parse", "--abbrev-ref", "HEAD"), gitOut(t, "rev-parse", "HEAD")
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("margin-exporter, version %s (branch: %s, revision: %s)", describe, branch, rev); !strings.HasPrefix(string(out), want+"\n") {
		t.Errorf("--version:\n%s\nwant it to start with %q", out, want)
	}

	// The running binary's build_info carries the same.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--demo", "--web.listen-address="+addr, "--log.level=error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // as an operator stops it: flush and exit
		_ = cmd.Wait()                       // its exit status is not what this test checks
	})
	want := fmt.Sprintf(`margin_exporter_build_info{branch=%q,goarch=`, branch)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body) // a short body fails the match below
			resp.Body.Close()
			body := b.String()
			if !strings.Contains(body, want) || !strings.Contains(body, fmt.Sprintf(`revision=%q`, rev)) || !strings.Contains(body, fmt.Sprintf(`version=%q`, describe)) {
				t.Fatalf("build_info does not carry the git build:\n%s", grepLines(body, "margin_exporter_build_info"))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the built exporter did not answer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
