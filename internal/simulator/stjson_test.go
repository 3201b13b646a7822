package simulator

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Every Stripe object of worlds of several seeds, their list pages and the events of changes
// made after New are written byte for byte as encoding/json writes them.
func TestStripeJSON_IsEncodingJSONOnEveryObject(t *testing.T) {
	check := func(t *testing.T, what string, v any) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := stripeJSON(v); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	for seed := uint64(1); seed <= 4; seed++ {
		w := New(Config{Now: testNow, Seed: seed, Customers: 12 * int(seed)})
		// Changes after New: events, a voided and a new invoice, a credit note, a new plan, a
		// customer renamed with every escape.
		at := testNow.Add(time.Hour)
		open, paid := w.StripeInvoices("open"), w.StripeInvoices("paid")
		if len(open) > 0 {
			if err := w.StripeSetInvoiceStatus(open[0], "void", at); err != nil {
				t.Fatal(err)
			}
		}
		if len(paid) > 0 {
			if _, err := w.StripeNewCreditNote(paid[0], 500, at); err != nil {
				t.Fatal(err)
			}
			c := w.StripeInvoiceCustomer(paid[0])
			if _, err := w.StripeNewInvoice(c, "open", at); err != nil {
				t.Fatal(err)
			}
			if _, err := w.StripeChangePlan(c, at); err != nil {
				t.Fatal(err)
			}
			if err := w.StripeRenameCustomer(c, "Bolt \"Co\" <&> \\ltd\nsecond\tline \u2028 \x01 \xff", at); err != nil {
				t.Fatal(err)
			}
		}
		sd := w.stripe
		each := func(name string, n int, at func(int) any) {
			for i := range n {
				check(t, name, at(i))
			}
		}
		each("customer", len(sd.customers), func(i int) any { return sd.customers[i] })
		each("product", len(sd.products), func(i int) any { return sd.products[i] })
		each("price", len(sd.prices), func(i int) any { return sd.prices[i] })
		each("subscription", len(sd.subs), func(i int) any { return sd.subs[i] })
		each("invoice", len(sd.invoices), func(i int) any { return sd.invoices[i] })
		each("credit note", len(sd.creditNotes), func(i int) any { return sd.creditNotes[i] })
		each("event", len(sd.events), func(i int) any { return sd.events[i] })
		for _, us := range sd.usage {
			each("usage summary", len(us), func(i int) any { return us[i] })
		}
		check(t, "invoice list", stList[*stInvoice]{Object: "list", Data: sd.invoices, HasMore: true, URL: "/v1/invoices"})
		check(t, "empty list", stList[*stCustomer]{Object: "list", Data: []*stCustomer{}, URL: "/v1/customers"})
		if len(sd.events) == 0 {
			t.Fatalf("seed %d: no events to compare", seed)
		}
	}
}

// Strings are quoted as encoding/json quotes them, over generated texts of every kind of byte.
func TestAppendJSONString_IsEncodingJSONOnGeneratedTexts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80"}
	for range 20000 {
		var s strings.Builder
		for range r.IntN(12) {
			s.WriteString(pieces[r.IntN(len(pieces))])
		}
		want, _ := json.Marshal(s.String())
		if got := appendJSONString(nil, s.String()); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s.String(), got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>\u2028\xff\x00\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// The invoice list of a 200-customer world, as the fake serves it and through encoding/json.
func BenchmarkStripeJSON(b *testing.B) {
	w := New(Config{Now: testNow, Customers: 200})
	page := stList[*stInvoice]{Object: "list", Data: w.stripe.invoices[:100], HasMore: true, URL: "/v1/invoices"}
	b.Run("stripeJSON", func(b *testing.B) {
		for b.Loop() {
			stripeJSON(page)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(page)
		}
	})
}
