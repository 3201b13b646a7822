package openrouter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

// bodyTransport answers every request with 200 and body, in memory.
type bodyTransport struct{ body []byte }

func (b *bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b.body)), ContentLength: int64(len(b.body)), Request: r}, nil
}

// seedPages adds every JSON page of testdata to the corpus.
func seedPages(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(names) == 0 {
		f.Fatal("no testdata pages to seed the corpus")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":null}`))
}

// Every decoder behind Fetch and Check (the key list, activity rows and their dollar amounts,
// /key and /credits), fed one body on every endpoint: records inside the window or an error
// naming openrouter, never a panic, never the key.
func FuzzFetchPages(f *testing.F) {
	seedPages(f)
	tr := &bodyTransport{}
	c, err := New(Options{ManagementKey: testKey, BaseURL: "http://openrouter.invalid/api/v1", HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return testNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-31")}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.body = body
		for _, err := range []error{c.Check(context.Background()), func() error {
			b, err := c.Fetch(context.Background(), w)
			if err == nil {
				for _, r := range b.Usage {
					if !w.Contains(r.Day) {
						t.Fatalf("usage on %s outside %s", r.Day, w)
					}
				}
			}
			return err
		}()} {
			if err != nil && (!strings.Contains(err.Error(), "openrouter") || strings.Contains(err.Error(), testKey)) {
				t.Fatalf("error %q: want it to name openrouter and not show the key", err)
			}
		}
	})
}
