package stripe

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/pagecontract"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// The simulator's Stripe pages are Stripe's. The client's own Check, Fetch and Subscriptions read
// them from the simulated world, and again from stripe-mock (served from Stripe's OpenAPI
// specification of API 2023-10-16, the version stripe-go v76 pins); every page the simulator
// served must decode strictly into stripe-go's list type and carry no field that neither
// stripe-mock's pages nor the testdata fixtures have. stripe-mock's objects have every field the
// API can send, so a field the simulator leaves out is no disagreement (CheckAgainstSpec).
func TestContract_SimulatorStripePagesAreStripes(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	w := simulator.New(simulator.Config{Now: now})
	sim := read(t, &pagecontract.Recorder{Next: w.Transport()}, stripeBase(t, "http://sim.invalid"), simulator.FXRates(), now)
	mock := read(t, &pagecontract.Recorder{Next: http.DefaultTransport}, startStripeMock(t), nil, now)

	// The reference of each endpoint: stripe-mock's pages and the testdata fixture.
	endpoint := func(name string, match func(string) bool, fixture string, count func(pages, reference [][]byte) (int, error)) pagecontract.Endpoint {
		return pagecontract.Endpoint{Name: name, Match: match, Check: func(t *testing.T, pages [][]byte) (int, error) {
			return count(pages, append(mock.Pages(match), listOf(t, fixture)))
		}}
	}
	pagecontract.Run(t, sim, []pagecontract.Endpoint{
		endpoint("customers", endpointPath("customers"), "customers.json", countList[stripego.CustomerList]),
		endpoint("products", endpointPath("products"), "products.json", countList[stripego.ProductList]),
		endpoint("subscriptions", endpointPath("subscriptions"), "subscriptions.json", countList[stripego.SubscriptionList]),
		endpoint("invoices", endpointPath("invoices"), "invoices.json", countList[stripego.InvoiceList]),
		endpoint("invoice lines", nested("invoices/", "/lines"), "invoice_lines.json", countList[stripego.InvoiceLineItemList]),
		endpoint("credit notes", endpointPath("credit_notes"), "credit_notes.json", countList[stripego.CreditNoteList]),
		endpoint("usage record summaries", nested("subscription_items/", "/usage_record_summaries"), "subscription_items.json",
			countList[stripego.UsageRecordSummaryList]),
	})
}

// read runs the client's reads through rec against base and returns rec.
func read(t *testing.T, rec *pagecontract.Recorder, base string, fx map[string]ledger.Rate, now time.Time) *pagecontract.Recorder {
	t.Helper()
	c, err := New(Options{APIKey: secret.String(simulator.StripeAPIKey), BaseURL: base, HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second},
		FXRates: fx, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check against %s: %v", base, err)
	}
	if _, err := c.Fetch(ctx, usage.LastCompleteDays(now, 31)); err != nil {
		t.Fatalf("Fetch from %s: %v", base, err)
	}
	if _, _, err := c.Subscriptions(ctx); err != nil {
		t.Fatalf("Subscriptions from %s: %v", base, err)
	}
	return rec
}

func stripeBase(t *testing.T, root string) string {
	t.Helper()
	_, _, _, base := simulator.BaseURLs(root)
	return base
}

// endpointPath matches a list endpoint by the path after /v1/, on the simulator (/stripe/v1/…) and
// on stripe-mock (/v1/…) alike.
func endpointPath(name string) func(string) bool {
	return func(p string) bool { return strings.HasSuffix(p, "/v1/"+name) }
}

// nested matches a list under an object: /v1/{parent}{id}{suffix}.
func nested(parent, suffix string) func(string) bool {
	return func(p string) bool {
		_, rest, ok := strings.Cut(p, "/v1/"+parent)
		return ok && strings.HasSuffix(rest, suffix) && !strings.Contains(strings.TrimSuffix(rest, suffix), "/")
	}
}

// countList compares pages as stripe-go's list type L and counts their objects.
func countList[L any](pages, reference [][]byte) (int, error) {
	return pagecontract.CountAgainstSpec(pages, reference, func(l L) int {
		var v struct {
			Data []json.RawMessage `json:"data"`
		}
		raw, _ := json.Marshal(l)
		_ = json.Unmarshal(raw, &v)
		return len(v.Data)
	})
}

// listOf wraps a testdata file of Stripe objects (an array, or arrays by parent id) in Stripe's
// list envelope, as a list endpoint answers.
func listOf(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var objects []json.RawMessage
	if err := json.Unmarshal(raw, &objects); err != nil {
		var byParent map[string][]json.RawMessage
		if json.Unmarshal(raw, &byParent) != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range byParent {
			objects = append(objects, o...)
		}
	}
	page, err := json.Marshal(map[string]any{"object": "list", "data": objects, "has_more": false, "url": "/v1/" + name})
	if err != nil {
		t.Fatal(err)
	}
	return page
}
