package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBin_CHROMIUM_BINMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-chromium")
	t.Setenv("CHROMIUM_BIN", missing)
	if _, err := Bin(); err == nil || !strings.HasPrefix(err.Error(), "CHROMIUM_BIN="+missing+": ") {
		t.Fatalf("Bin with a missing CHROMIUM_BIN: %v", err)
	}
	fake := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o700); err != nil { // #nosec G306 -- an executable test fixture
		t.Fatal(err)
	}
	t.Setenv("CHROMIUM_BIN", fake)
	if got, err := Bin(); err != nil || got != fake {
		t.Fatalf("Bin = %q, %v; want %s", got, err, fake)
	}
}

func TestBin_LooksOnPATHAndSaysHowToInstall(t *testing.T) {
	t.Setenv("CHROMIUM_BIN", "")
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	if _, err := Bin(); err == nil || !strings.Contains(err.Error(), "apt-get install chromium") {
		t.Fatalf("Bin with no chromium anywhere: %v", err)
	}
	// chromium-browser is the other name distributions use.
	alt := filepath.Join(dir, "chromium-browser")
	if err := os.WriteFile(alt, []byte("#!/bin/sh\n"), 0o700); err != nil { // #nosec G306 -- an executable test fixture
		t.Fatal(err)
	}
	if got, err := Bin(); err != nil || got != alt {
		t.Fatalf("Bin = %q, %v; want %s", got, err, alt)
	}
}

// The recorder sees the page's requests and every kind of error a page reports: console.error,
// console.assert, an uncaught exception and a failed load in the browser log.
func TestRecord_RequestsAndErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs Chromium")
	}
	bin, err := Bin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<!doctype html><title>t</title><img src="/missing.png">
<script>
console.log("fine");
console.error("boom", 42);
console.assert(false, "asserted");
setTimeout(() => { throw new Error("thrown"); }, 0);
</script>`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	ctx, cancel := New(context.Background(), bin, 400, 300)
	defer cancel()
	rec, err := Record(ctx)
	if err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	step, cancelStep := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	want := []string{`console.error: ["boom" 42]`, `console.assert: ["asserted"]`, "exception: Uncaught", "missing.png"}
	var errs []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		errs = rec.Errors()
		if containsAll(errs, want) {
			break
		}
	}
	if !containsAll(errs, want) {
		t.Fatalf("errors %q, want entries containing %q", errs, want)
	}
	for _, e := range errs {
		if strings.Contains(e, "fine") {
			t.Errorf("console.log recorded as an error: %q", e)
		}
	}
	reqs := rec.Requests()
	if !slices.Contains(reqs, srv.URL+"/") || !slices.Contains(reqs, srv.URL+"/missing.png") {
		t.Errorf("requests %q, want the page and its image", reqs)
	}
	// What the caller got is a copy: later events do not change it.
	reqs[0] = "changed"
	if rec.Requests()[0] == "changed" {
		t.Error("Requests returned the recorder's own slice")
	}
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			return false
		}
	}
	return true
}
