package stripe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fuzzpage"
	"github.com/marginhq/margin/internal/ledger"
)

// Every list decoder behind Fetch (customers, subscriptions, products, invoices and their lines,
// credit notes) and revenue recognition, fed one body on every list: revenue or an error naming
// stripe, never a panic, never the key. The corpus is testdata's objects as list pages.
func FuzzFetchLists(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
			f.Add([]byte(fmt.Sprintf(`{"object":"list","data":%s,"has_more":false,"url":"/v1/x"}`, b)))
		}
	}
	f.Add([]byte(`{"object":"list","data":null,"has_more":false}`))
	f.Add([]byte(`{"object":"list","data":[],"has_more":true}`))
	tr := &fuzzpage.Transport{}
	c, err := New(Options{APIKey: fakeKey, BaseURL: "http://stripe.invalid", HTTPClient: &http.Client{Transport: tr},
		FXRates: map[string]ledger.Rate{"EUR": 1_080_000_000}, Now: func() time.Time { return fakeNow }, MaxRetries: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.Body = body
		rev, err := c.Fetch(context.Background(), march2026)
		if err != nil {
			if err := fuzzpage.CheckError("stripe", fakeKey, err); err != nil {
				t.Fatal(err)
			}
			return
		}
		for _, d := range rev.Daily {
			if !march2026.Contains(d.Day) {
				t.Fatalf("revenue on %s outside %s", d.Day, march2026)
			}
		}
	})
}
