package openrouter

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fuzzpage"
	"github.com/marginhq/margin/internal/usage"
)

// Every decoder behind Fetch and Check (the key list, activity rows and their dollar amounts,
// /key and /credits), fed one body on every endpoint: records inside the window or an error
// naming openrouter, never a panic, never the key.
func FuzzFetchPages(f *testing.F) {
	fuzzpage.SeedTestdata(f)
	tr := &fuzzpage.Transport{}
	c, err := New(Options{ManagementKey: testKey, BaseURL: "http://openrouter.invalid/api/v1", HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return testNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-31")}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.Body = body
		if err := fuzzpage.CheckError("openrouter", testKey, c.Check(context.Background())); err != nil {
			t.Fatal(err)
		}
		b, err := c.Fetch(context.Background(), w)
		if err := fuzzpage.CheckFetch("openrouter", testKey, w, b, err); err != nil {
			t.Fatal(err)
		}
	})
}
