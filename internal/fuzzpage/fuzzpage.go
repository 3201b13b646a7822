// Package fuzzpage is what the page-decoder fuzz targets of the provider and Stripe clients share:
// a transport that answers every request with one body, the testdata seed corpus, and the check
// every fuzzed Fetch must pass. Only tests import it.
package fuzzpage

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

// Transport answers every request with 200 and Body, in memory.
type Transport struct{ Body []byte }

func (b *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b.Body)), ContentLength: int64(len(b.Body)), Request: r}, nil
}

// SeedTestdata adds every JSON page of the package's testdata to the corpus, and a null page.
func SeedTestdata(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(names) == 0 {
		f.Fatal("no testdata pages to seed the corpus")
	}
	for _, n := range names {
		b, err := os.ReadFile(n) // #nosec G304 -- the package's own testdata
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":null}`))
}

// CheckError fails t unless err is nil, or names provider without showing key.
func CheckError(t *testing.T, provider, key string, err error) {
	t.Helper()
	if err != nil && (!strings.Contains(err.Error(), provider) || strings.Contains(err.Error(), key)) {
		t.Fatalf("error %q: want it to name %s and not show the key", err, provider)
	}
}

// CheckFetch fails t unless Fetch failed cleanly (CheckError) or returned records inside w only.
func CheckFetch(t *testing.T, provider, key string, w usage.Window, b *usage.Batch, err error) {
	t.Helper()
	CheckError(t, provider, key, err)
	if err != nil {
		return
	}
	for _, r := range b.Usage {
		if !w.Contains(r.Day) {
			t.Fatalf("usage on %s outside %s", r.Day, w)
		}
	}
	for _, r := range b.Costs {
		if !w.Contains(r.Day) {
			t.Fatalf("cost on %s outside %s", r.Day, w)
		}
	}
}
