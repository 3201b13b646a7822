package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun_BadUsageExits2WithTheUsageLine(t *testing.T) {
	for _, args := range [][]string{nil, {"a.html", "b.html"}, {"-width", "0", "a.html"}, {"-width", "wide", "a.html"}, {"-nope", "a.html"}} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 || !strings.Contains(stderr.String(), "screenshot") {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and the usage", args, code, stderr.String())
		}
	}
}

// A page taller than the viewport is shot whole, at the width asked for.
func TestRun_WritesAFullPagePNGAtTheWidth(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs Chromium")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte(`<!doctype html><body style="margin:0"><div style="height:1500px;background:#c00"></div>`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "shot.png")
	var stderr bytes.Buffer
	if code := run([]string{"-o", out, "-width", "640", page}, &stderr); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", out, err)
	}
	if cfg.Width != 640 || cfg.Height < 1500 {
		t.Errorf("PNG is %dx%d, want 640 wide and the whole 1500px page", cfg.Width, cfg.Height)
	}
}

func TestRun_UnwritableOutputExits1NamingIt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs Chromium")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "page.html")
	if err := os.WriteFile(page, []byte(`<!doctype html><p>hi`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "missing", "shot.png")
	var stderr bytes.Buffer
	if code := run([]string{"-o", out, page}, &stderr); code != 1 || !strings.Contains(stderr.String(), "screenshot: open "+out) {
		t.Fatalf("run: exit %d, stderr %q; want 1 naming %s", code, stderr.String(), out)
	}
}

func TestRun_NoChromiumExits1(t *testing.T) {
	t.Setenv("CHROMIUM_BIN", filepath.Join(t.TempDir(), "none"))
	var stderr bytes.Buffer
	if code := run([]string{"page.html"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "screenshot: CHROMIUM_BIN=") {
		t.Fatalf("run: exit %d, stderr %q", code, stderr.String())
	}
}

// A page that does not exist is an error, not a screenshot of Chromium's error page.
func TestRun_MissingPageExits1(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs Chromium")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "shot.png")
	var stderr bytes.Buffer
	if code := run([]string{"-o", out, filepath.Join(dir, "nope.html")}, &stderr); code != 1 || !strings.Contains(stderr.String(), "ERR_FILE_NOT_FOUND") {
		t.Fatalf("run: exit %d, stderr %q; want 1 and ERR_FILE_NOT_FOUND", code, stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a PNG was written for a missing page")
	}
}
