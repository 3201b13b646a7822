package openai

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

// Every page decoder behind Fetch (usage buckets of each endpoint, cost buckets, project and key
// lists), fed one body on every endpoint: Fetch returns records inside the window or an error
// naming openai, never panics and never shows the key.
func FuzzFetchPages(f *testing.F) {
	seedPages(f)
	tr := &bodyTransport{}
	c, err := New(Options{AdminKey: testKey, BaseURL: "http://openai.invalid/v1", HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return fixtureNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-10")}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.body = body
		b, err := c.Fetch(context.Background(), w)
		if err != nil {
			if !strings.Contains(err.Error(), "openai") || strings.Contains(err.Error(), testKey) {
				t.Fatalf("error %q: want it to name openai and not show the key", err)
			}
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
	})
}
