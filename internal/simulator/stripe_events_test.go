package simulator

import (
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestStripe_Events: changes after New are listed by GET /v1/events newest first, filtered by
// types[] and created, with the object as it was at the change; the lists show the new state,
// and credit notes honour created filters.
func TestStripe_Events(t *testing.T) {
	w := New(Config{Now: testNow})
	type event struct {
		ID, Type string
		Created  int64
		Data     struct {
			Object struct {
				ID, Status, Name string
			}
		}
	}
	var list struct {
		Data    []event
		HasMore bool `json:"has_more"`
	}
	getOK(t, w, "/stripe/v1/events", stripeAuth, &list)
	if len(list.Data) != 0 {
		t.Fatalf("events before any change: %d", len(list.Data))
	}
	open := w.StripeInvoices("open")
	paid := w.StripeInvoices("paid")
	t1, t2 := testNow.Add(time.Minute), testNow.Add(2*time.Minute)
	if err := w.StripeSetInvoiceStatus(open[0], "void", t1); err != nil {
		t.Fatal(err)
	}
	if err := w.StripeSetInvoiceStatus(open[0], "paid", t2); err == nil {
		t.Fatal("a void invoice was paid")
	}
	if err := w.StripeSetInvoiceStatus(paid[0], "void", t2); err == nil {
		t.Fatal("a paid invoice was voided")
	}
	cn, err := w.StripeNewCreditNote(paid[0], 500, t2)
	if err != nil {
		t.Fatal(err)
	}
	getOK(t, w, "/stripe/v1/events?limit=100", stripeAuth, &list)
	if len(list.Data) != 2 || list.Data[0].Type != "credit_note.created" || list.Data[1].Type != "invoice.voided" ||
		list.Data[1].Data.Object.ID != open[0] || list.Data[1].Data.Object.Status != "void" || list.Data[0].Data.Object.ID != cn {
		t.Fatalf("events: %+v", list.Data)
	}
	q := url.Values{"types[0]": {"invoice.voided"}, "types[1]": {"invoice.paid"}}
	getOK(t, w, "/stripe/v1/events?"+q.Encode(), stripeAuth, &list)
	if len(list.Data) != 1 || list.Data[0].Type != "invoice.voided" {
		t.Fatalf("types[] filter: %+v", list.Data)
	}
	getOK(t, w, "/stripe/v1/events?created[gt]="+strconv.FormatInt(t1.Unix(), 10), stripeAuth, &list)
	if len(list.Data) != 1 || list.Data[0].Type != "credit_note.created" {
		t.Fatalf("created filter: %+v", list.Data)
	}
	if r := get(t, w, "/stripe/v1/events?type=invoice.paid&types[0]=invoice.paid", stripeAuth); r.status != 400 {
		t.Fatalf("type and types: HTTP %d, want 400", r.status)
	}
	getOK(t, w, "/stripe/v1/credit_notes?created[gte]="+strconv.FormatInt(t2.Unix(), 10), stripeAuth, &list)
	if len(list.Data) != 1 || list.Data[0].ID != cn {
		t.Fatalf("credit notes created since: %+v", list.Data)
	}
	var inv struct{ Status string }
	getOK(t, w, "/stripe/v1/invoices/"+open[0], stripeAuth, &inv)
	if inv.Status != "void" {
		t.Fatalf("the invoice list still shows %s", inv.Status)
	}
}
