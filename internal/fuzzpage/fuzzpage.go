// Package fuzzpage is what the page-decoder fuzz targets of the provider and Stripe clients share:
// a transport that answers every request with one body, the testdata seed corpus, and the check
// every fuzzed Fetch must pass. Only tests import it.
package fuzzpage

import (
	"bytes"
	"fmt"
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

// CheckError says what is wrong with a failure: nil when err is nil, or names provider without
// showing key.
func CheckError(provider, key string, err error) error {
	if err != nil && (!strings.Contains(err.Error(), provider) || strings.Contains(err.Error(), key)) {
		return fmt.Errorf("error %q: want it to name %s and not show the key", err.Error(), provider)
	}
	return nil
}

// CheckFetch says what is wrong with a fuzzed Fetch: nil when it failed cleanly (CheckError) or
// returned records inside w only.
func CheckFetch(provider, key string, w usage.Window, b *usage.Batch, err error) error {
	if err != nil {
		return CheckError(provider, key, err)
	}
	for _, r := range b.Usage {
		if !w.Contains(r.Day) {
			return fmt.Errorf("usage on %s outside %s", r.Day, w)
		}
	}
	for _, r := range b.Costs {
		if !w.Contains(r.Day) {
			return fmt.Errorf("cost on %s outside %s", r.Day, w)
		}
	}
	return nil
}
