package simulator

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// stripeList is the part of a Stripe list the paging tests read.
type stripeList struct {
	Data []struct {
		ID            string          `json:"id"`
		Created       int64           `json:"created"`
		Customer      string          `json:"customer"`
		Status        string          `json:"status"`
		Product       string          `json:"product"`
		Invoice       string          `json:"invoice"`
		LatestInvoice json.RawMessage `json:"latest_invoice"`
		Discounts     []any           `json:"discounts"`
		Discount      any             `json:"discount"`
	} `json:"data"`
	HasMore bool `json:"has_more"`
}

func stripeErrorOf(t *testing.T, body []byte) (typ, code, param, msg string) {
	t.Helper()
	var e struct {
		Error struct{ Type, Code, Param, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not a Stripe error envelope: %s", body)
	}
	return e.Error.Type, e.Error.Code, e.Error.Param, e.Error.Message
}

// The fake answers bad requests the way Stripe does: status, error type, code and param.
func TestStripe_RequestErrorsAreStripesEnvelope(t *testing.T) {
	w := demo(t)
	var custs stripeList
	getOK(t, w, "/stripe/v1/customers?limit=2", stripeAuth, &custs)
	cust := custs.Data[0].ID
	for _, tc := range []struct {
		name, path            string
		status                int
		code, param, msgStart string
	}{
		{"limit zero", "/stripe/v1/customers?limit=0", 400, "parameter_invalid_integer", "limit", "Invalid limit"},
		{"limit not a number", "/stripe/v1/prices?limit=ten", 400, "parameter_invalid_integer", "limit", "Invalid limit"},
		{"both cursors", "/stripe/v1/customers?starting_after=" + cust + "&ending_before=" + cust, 400, "", "ending_before", "You may only specify one"},
		{"unknown starting_after", "/stripe/v1/invoices?starting_after=in_nope", 404, "resource_missing", "starting_after", "No such object: 'in_nope'"},
		{"unknown ending_before", "/stripe/v1/invoices?ending_before=in_nope", 404, "resource_missing", "ending_before", "No such object: 'in_nope'"},
		{"unknown customer", "/stripe/v1/customers/cus_nope", 404, "resource_missing", "id", "No such customer: 'cus_nope'"},
		{"unknown product", "/stripe/v1/products/prod_nope", 404, "resource_missing", "id", "No such product: 'prod_nope'"},
		{"unknown invoice", "/stripe/v1/invoices/in_nope", 404, "resource_missing", "id", "No such invoice: 'in_nope'"},
		{"lines of an unknown invoice", "/stripe/v1/invoices/in_nope/lines", 404, "resource_missing", "id", "No such invoice: 'in_nope'"},
		{"usage of an unknown item", "/stripe/v1/subscription_items/si_nope/usage_record_summaries", 404, "resource_missing", "subscription_item", "No such subscription item"},
		{"unknown endpoint", "/stripe/v1/charges", 404, "", "", "Unrecognized request URL (GET: /v1/charges)."},
	} {
		r := get(t, w, tc.path, stripeAuth)
		typ, code, param, msg := stripeErrorOf(t, r.body)
		if r.status != tc.status || typ != "invalid_request_error" || code != tc.code || param != tc.param || !strings.HasPrefix(msg, tc.msgStart) {
			t.Errorf("%s: %d %s/%s/%s %q; want %d invalid_request_error/%s/%s %q…", tc.name, r.status, typ, code, param, msg,
				tc.status, tc.code, tc.param, tc.msgStart)
		}
		if r.header.Get("Stripe-Version") != stripeAPIVersion || !strings.HasPrefix(r.header.Get("Request-Id"), "req_") {
			t.Errorf("%s: headers %v", tc.name, r.header)
		}
	}
}

// stripe-go sends the key as the basic-auth user; a wrong key is masked in the message.
func TestStripe_BasicAuthAndMaskedWrongKey(t *testing.T) {
	w := demo(t)
	basic := func(k string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(k+":"))}
	}
	if r := get(t, w, "/stripe/v1/products", basic(StripeAPIKey)); r.status != 200 {
		t.Errorf("basic auth with the demo key: %d %s", r.status, r.body)
	}
	for key, shown := range map[string]string{"sk_test_wrongwrong": "sk_test_************", "sekrit": "sek************"} {
		r := get(t, w, "/stripe/v1/products", basic(key))
		_, _, _, msg := stripeErrorOf(t, r.body)
		if r.status != 401 || msg != "Invalid API Key provided: "+shown {
			t.Errorf("key %q: %d %q, want 401 showing %s", key, r.status, msg, shown)
		}
	}
}

// ending_before pages backwards over exactly the items starting_after pages forwards over.
func TestStripe_PagingBackwardsMatchesForwards(t *testing.T) {
	w := demo(t)
	var all stripeList
	getOK(t, w, "/stripe/v1/customers?limit=100", stripeAuth, &all)
	if len(all.Data) < 12 {
		t.Fatalf("%d customers, want at least 12", len(all.Data))
	}
	last := all.Data[11].ID
	var back stripeList
	getOK(t, w, "/stripe/v1/customers?limit=5&ending_before="+last, stripeAuth, &back)
	if len(back.Data) != 5 || !back.HasMore || back.Data[0].ID != all.Data[6].ID || back.Data[4].ID != all.Data[10].ID {
		t.Fatalf("ending_before=%s: %d items, has_more %v, first %s", last, len(back.Data), back.HasMore, back.Data[0].ID)
	}
	var head stripeList
	getOK(t, w, "/stripe/v1/customers?limit=5&ending_before="+all.Data[3].ID, stripeAuth, &head)
	if len(head.Data) != 3 || head.HasMore || head.Data[0].ID != all.Data[0].ID {
		t.Fatalf("ending_before near the start: %d items, has_more %v", len(head.Data), head.HasMore)
	}
	var empty stripeList
	r := get(t, w, "/stripe/v1/customers?email=nobody@example.invalid", stripeAuth)
	if err := json.Unmarshal(r.body, &empty); err != nil || empty.Data == nil || len(empty.Data) != 0 || !strings.Contains(string(r.body), `"data":[]`) {
		t.Fatalf("no match: %s, want an empty array, never null", r.body)
	}
}

// stripeAll follows starting_after over every page of the list at path (which has a query).
func stripeAll(t *testing.T, w *World, path string) stripeList {
	t.Helper()
	var all stripeList
	for after := ""; ; {
		var page stripeList
		getOK(t, w, path+after, stripeAuth, &page)
		all.Data = append(all.Data, page.Data...)
		if !page.HasMore {
			return all
		}
		after = "&starting_after=" + page.Data[len(page.Data)-1].ID
	}
}

// The created[...] filters bound lists like Stripe's; a value that is not a number matches nothing.
func TestStripe_CreatedFilters(t *testing.T) {
	w := demo(t)
	all := stripeAll(t, w, "/stripe/v1/invoices?limit=100")
	pivot := all.Data[len(all.Data)/2].Created
	count := func(keep func(int64) bool) (want int) {
		for _, x := range all.Data {
			if keep(x.Created) {
				want++
			}
		}
		return want
	}
	p := strconv.FormatInt(pivot, 10)
	for op, keep := range map[string]func(int64) bool{
		"created":      func(c int64) bool { return c == pivot },
		"created[gte]": func(c int64) bool { return c >= pivot },
		"created[gt]":  func(c int64) bool { return c > pivot },
		"created[lte]": func(c int64) bool { return c <= pivot },
		"created[lt]":  func(c int64) bool { return c < pivot },
	} {
		got := stripeAll(t, w, "/stripe/v1/invoices?limit=100&"+url.QueryEscape(op)+"="+p)
		if want := count(keep); len(got.Data) != want {
			t.Errorf("%s=%s: %d invoices, want %d", op, p, len(got.Data), want)
		}
		for _, x := range got.Data {
			if !keep(x.Created) {
				t.Errorf("%s=%s served %s created %d", op, p, x.ID, x.Created)
			}
		}
	}
	var none stripeList
	getOK(t, w, "/stripe/v1/customers?created[gte]=yesterday", stripeAuth, &none)
	if len(none.Data) != 0 {
		t.Errorf("created[gte]=yesterday matched %d customers", len(none.Data))
	}
}

// The list filters Margin's Stripe client uses: each item served matches, and no match is lost.
func TestStripe_ListFilters(t *testing.T) {
	w := demo(t)
	var subs stripeList
	getOK(t, w, "/stripe/v1/subscriptions?limit=100&status=all&expand[]=data.latest_invoice&expand[]=data.discounts", stripeAuth, &subs)
	var all stripeList
	getOK(t, w, "/stripe/v1/subscriptions?limit=100&status=all", stripeAuth, &all)
	if len(subs.Data) != len(all.Data) || len(all.Data) == 0 {
		t.Fatalf("expanded %d subscriptions, unexpanded %d", len(subs.Data), len(all.Data))
	}
	expandedInvoice, discounted := 0, 0
	for i, s := range subs.Data {
		if strings.HasPrefix(string(s.LatestInvoice), "{") {
			var inv struct{ ID, Object string }
			if err := json.Unmarshal(s.LatestInvoice, &inv); err != nil || inv.Object != "invoice" ||
				string(all.Data[i].LatestInvoice) != strconv.Quote(inv.ID) {
				t.Errorf("%s: latest_invoice expanded to %s, unexpanded %s", s.ID, s.LatestInvoice, all.Data[i].LatestInvoice)
			}
			expandedInvoice++
		}
		if s.Discount != nil {
			if len(s.Discounts) != 1 {
				t.Errorf("%s has a discount but discounts %v when expanded", s.ID, s.Discounts)
			}
			discounted++
		}
	}
	if expandedInvoice == 0 || discounted == 0 {
		t.Errorf("%d expanded invoices, %d discounts: the world should have both", expandedInvoice, discounted)
	}

	cust := all.Data[0].Customer
	var byCust stripeList
	getOK(t, w, "/stripe/v1/subscriptions?status=all&customer="+cust, stripeAuth, &byCust)
	if len(byCust.Data) == 0 {
		t.Fatalf("no subscriptions for %s", cust)
	}
	for _, s := range byCust.Data {
		if s.Customer != cust {
			t.Errorf("customer=%s served %s of %s", cust, s.ID, s.Customer)
		}
	}
	var canceled stripeList
	getOK(t, w, "/stripe/v1/subscriptions?limit=100&status=canceled", stripeAuth, &canceled)
	for _, s := range canceled.Data {
		if s.Status != "canceled" {
			t.Errorf("status=canceled served %s (%s)", s.ID, s.Status)
		}
	}

	var products stripeList
	getOK(t, w, "/stripe/v1/products?limit=100", stripeAuth, &products)
	if len(products.Data) < 2 {
		t.Fatalf("%d products", len(products.Data))
	}
	want := products.Data[1].ID
	var picked stripeList
	getOK(t, w, "/stripe/v1/products?ids[]="+want, stripeAuth, &picked)
	if len(picked.Data) != 1 || picked.Data[0].ID != want {
		t.Errorf("ids[]=%s served %v", want, picked.Data)
	}
	var inactive stripeList
	getOK(t, w, "/stripe/v1/products?active=false", stripeAuth, &inactive)
	if len(inactive.Data) != 0 {
		t.Errorf("active=false served %d products; the world has none inactive", len(inactive.Data))
	}
	var prices stripeList
	getOK(t, w, "/stripe/v1/prices?limit=100&product="+want, stripeAuth, &prices)
	if len(prices.Data) == 0 {
		t.Fatalf("no prices of %s", want)
	}
	for _, p := range prices.Data {
		if p.Product != want {
			t.Errorf("product=%s served price %s of %s", want, p.ID, p.Product)
		}
	}

	var invoices stripeList
	getOK(t, w, "/stripe/v1/invoices?limit=100&status=paid&customer="+cust, stripeAuth, &invoices)
	for _, inv := range invoices.Data {
		if inv.Customer != cust || inv.Status != "paid" {
			t.Errorf("status=paid&customer=%s served %s (%s, %s)", cust, inv.ID, inv.Status, inv.Customer)
		}
	}
	var notes stripeList
	getOK(t, w, "/stripe/v1/credit_notes?limit=100", stripeAuth, &notes)
	if len(notes.Data) == 0 {
		t.Fatal("the world has no credit notes")
	}
	n := notes.Data[0]
	var byNote stripeList
	getOK(t, w, "/stripe/v1/credit_notes?customer="+n.Customer+"&invoice="+n.Invoice, stripeAuth, &byNote)
	if len(byNote.Data) == 0 {
		t.Fatalf("credit_notes?customer=%s&invoice=%s served none", n.Customer, n.Invoice)
	}
	for _, x := range byNote.Data {
		if x.Customer != n.Customer || x.Invoice != n.Invoice {
			t.Errorf("credit note filter served %s (%s, %s)", x.ID, x.Customer, x.Invoice)
		}
	}
}
