package anthropic

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fuzzpage"
	"github.com/marginhq/margin/internal/usage"
)

// Every page decoder behind Fetch (usage and cost report buckets, workspace and key lists), fed
// one body on every endpoint: Fetch returns records inside the window or an error naming
// anthropic, never panics and never shows the key.
func FuzzFetchPages(f *testing.F) {
	fuzzpage.SeedTestdata(f)
	tr := &fuzzpage.Transport{}
	c, err := New(Options{AdminKey: testKey, BaseURL: "http://anthropic.invalid", HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return fixtureNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	w := usage.Window{From: usage.DayOf(fixtureNow) - 5, To: usage.DayOf(fixtureNow) + 1}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.Body = body
		b, err := c.Fetch(context.Background(), w)
		if err := fuzzpage.CheckFetch("anthropic", testKey, w, b, err); err != nil {
			t.Fatal(err)
		}
	})
}
