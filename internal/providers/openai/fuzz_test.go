package openai

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fuzzpage"
	"github.com/marginhq/margin/internal/usage"
)

// Every page decoder behind Fetch (usage buckets of each endpoint, cost buckets, project and key
// lists), fed one body on every endpoint: Fetch returns records inside the window or an error
// naming openai, never panics and never shows the key.
func FuzzFetchPages(f *testing.F) {
	fuzzpage.SeedTestdata(f)
	tr := &fuzzpage.Transport{}
	c, err := New(Options{AdminKey: testKey, BaseURL: "http://openai.invalid/v1", HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return fixtureNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-10")}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.Body = body
		b, err := c.Fetch(context.Background(), w)
		if err := fuzzpage.CheckFetch("openai", testKey, w, b, err); err != nil {
			t.Fatal(err)
		}
	})
}
