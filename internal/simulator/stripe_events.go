package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Changes to the Stripe fake after New, for tests of incremental polls: each one changes the
// objects the lists serve and records the event Stripe would (GET /v1/events), whose data.object
// is the object as it was right after the change.

type stEvent struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	APIVersion      string         `json:"api_version"`
	Created         int64          `json:"created"`
	Data            stEventData    `json:"data"`
	Livemode        bool           `json:"livemode"`
	PendingWebhooks int64          `json:"pending_webhooks"`
	Request         stEventRequest `json:"request"`
	Type            string         `json:"type"`
}

type stEventData struct {
	Object json.RawMessage `json:"object"`
}

type stEventRequest struct {
	ID             *string `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
}

// event records typ for obj at t, newest first as Stripe lists events. Called with the lock held.
func (w *World) event(typ string, obj any, t time.Time) {
	raw := json.RawMessage(stripeJSON(obj))
	sd := w.stripe
	ev := &stEvent{ID: w.id("evt_", 24, "event", strconv.Itoa(len(sd.events)), typ), Object: "event", APIVersion: stripeAPIVersion,
		Created: t.Unix(), Data: stEventData{Object: raw}, Request: stEventRequest{ID: ptr(w.id("req_", 14, "event-request", strconv.Itoa(len(sd.events))))},
		Type: typ}
	sd.events = slices.Insert(sd.events, 0, ev)
}

// StripeInvoices lists the ids of the invoices in status ("" for every status), newest first.
func (w *World) StripeInvoices(status string) []string {
	w.stripe.mu.RLock()
	defer w.stripe.mu.RUnlock()
	var out []string
	for _, inv := range w.stripe.invoices {
		if status == "" || inv.Status == status {
			out = append(out, inv.ID)
		}
	}
	return out
}

// StripeInvoiceCustomer is the customer of an invoice ("" for none).
func (w *World) StripeInvoiceCustomer(id string) string {
	w.stripe.mu.RLock()
	defer w.stripe.mu.RUnlock()
	for _, inv := range w.stripe.invoices {
		if inv.ID == id {
			return inv.Customer
		}
	}
	return ""
}

// StripeInvoiceSubscription is the subscription of an invoice ("" for none).
func (w *World) StripeInvoiceSubscription(id string) string {
	w.stripe.mu.RLock()
	defer w.stripe.mu.RUnlock()
	for _, inv := range w.stripe.invoices {
		if inv.ID == id && inv.Subscription != nil {
			return *inv.Subscription
		}
	}
	return ""
}

// StripeNewInvoice creates, at t, a copy of customer's newest paid invoice with its service
// periods moved to start at t, in status draft, open or paid, and returns its id (events
// invoice.created, then invoice.finalized and invoice.paid as the status implies).
func (w *World) StripeNewInvoice(customer, status string, t time.Time) (string, error) {
	if status != "draft" && status != "open" && status != "paid" {
		return "", fmt.Errorf("a new invoice is draft, open or paid, not %s", status)
	}
	sd := w.stripe
	sd.mu.Lock()
	defer sd.mu.Unlock()
	i := slices.IndexFunc(sd.invoices, func(inv *stInvoice) bool { return inv.Customer == customer && inv.Status == "paid" })
	if i < 0 {
		return "", fmt.Errorf("customer %s has no paid invoice to copy", customer)
	}
	tmpl := sd.invoices[i]
	inv := *tmpl
	inv.ID = w.id("in_", 24, "new-invoice", customer, strconv.FormatInt(t.Unix(), 10))
	inv.Created = t.Unix()
	inv.Number = ptr(*tmpl.Number + "-N")
	shift := t.Unix() - tmpl.Created
	inv.PeriodStart, inv.PeriodEnd = tmpl.PeriodStart+shift, tmpl.PeriodEnd+shift
	inv.allLines = make([]*stLine, len(tmpl.allLines))
	for j, l := range tmpl.allLines {
		c := *l
		c.ID = w.id("il_", 24, "new-line", inv.ID, strconv.Itoa(j))
		c.Period = stPeriod{Start: l.Period.Start + shift, End: l.Period.End + shift}
		inv.allLines[j] = &c
	}
	inv.Subtotal, inv.SubtotalExcludingTax, inv.PostPaymentCreditNotesAmount = 0, 0, 0
	w.finishInvoice(&inv)
	sd.invoices = slices.Insert(sd.invoices, 0, &inv)
	for _, st := range []string{"draft", "open", "paid"} {
		v := inv
		setStatus(&v, st)
		w.event(map[string]string{"draft": "invoice.created", "open": "invoice.finalized", "paid": "invoice.paid"}[st], &v, t)
		if st == status {
			inv = v
			break
		}
	}
	*sd.invoices[0] = inv
	return inv.ID, nil
}

// StripeSetInvoiceStatus moves an invoice to status at t, as Stripe allows: a draft is finalized
// (open), an open invoice paid, voided or marked uncollectible, an uncollectible one paid or
// voided (events invoice.finalized, invoice.paid, invoice.voided, invoice.marked_uncollectible).
func (w *World) StripeSetInvoiceStatus(id, status string, t time.Time) error {
	sd := w.stripe
	sd.mu.Lock()
	defer sd.mu.Unlock()
	i := slices.IndexFunc(sd.invoices, func(inv *stInvoice) bool { return inv.ID == id })
	if i < 0 {
		return fmt.Errorf("no invoice %s", id)
	}
	old := sd.invoices[i]
	allowed := map[string][]string{"draft": {"open"}, "open": {"paid", "void", "uncollectible"}, "uncollectible": {"paid", "void"}}[old.Status]
	if !slices.Contains(allowed, status) {
		return fmt.Errorf("invoice %s is %s: Stripe does not move it to %s", id, old.Status, status)
	}
	inv := *old // a new value, so events already recorded keep the old state
	setStatus(&inv, status)
	sd.invoices[i] = &inv
	w.event(map[string]string{"open": "invoice.finalized", "paid": "invoice.paid", "void": "invoice.voided",
		"uncollectible": "invoice.marked_uncollectible"}[status], &inv, t)
	return nil
}

// StripeNewCreditNote issues, at t, a credit note of amount (minor units, no tax) on a paid or
// open invoice and returns its id (event credit_note.created).
func (w *World) StripeNewCreditNote(invoice string, amount int64, t time.Time) (string, error) {
	sd := w.stripe
	sd.mu.Lock()
	defer sd.mu.Unlock()
	i := slices.IndexFunc(sd.invoices, func(inv *stInvoice) bool { return inv.ID == invoice })
	if i < 0 {
		return "", fmt.Errorf("no invoice %s", invoice)
	}
	inv := sd.invoices[i]
	if inv.Status != "paid" && inv.Status != "open" {
		return "", fmt.Errorf("invoice %s is %s: credit notes need a paid or open invoice", invoice, inv.Status)
	}
	c := slices.IndexFunc(w.customers, func(c *customer) bool { return c.id == inv.Customer })
	n := len(sd.creditNotes)
	w.addCreditNote(w.customers[c], inv, amount, "issued")
	cn := sd.creditNotes[n]
	cn.ID = w.id("cn_", 24, "new-credit-note", invoice, strconv.FormatInt(t.Unix(), 10))
	cn.Created, cn.EffectiveAt = t.Unix(), ptr(t.Unix())
	cn.Number = *inv.Number + "-CN-N"
	sd.creditNotes = slices.Insert(sd.creditNotes[:n], 0, cn)
	w.event("credit_note.created", cn, t)
	return cn.ID, nil
}

// StripeChangePlan moves customer's newest live subscription to another plan (the first licensed
// price of another product in the same currency and interval) at t, and returns the new plan's
// product name (event customer.subscription.updated).
func (w *World) StripeChangePlan(customer string, t time.Time) (string, error) {
	sd := w.stripe
	sd.mu.Lock()
	defer sd.mu.Unlock()
	i := slices.IndexFunc(sd.subs, func(s *stSubscription) bool {
		return s.Customer == customer && s.Status != "canceled" && s.Status != "incomplete_expired" && len(s.Items.Data) > 0
	})
	if i < 0 {
		return "", fmt.Errorf("customer %s has no live subscription", customer)
	}
	sub := *sd.subs[i]
	cur := sub.Items.Data[0].Price
	j := slices.IndexFunc(sd.prices, func(p *stPrice) bool {
		return p.Product != cur.Product && p.Currency == cur.Currency && p.Recurring != nil && cur.Recurring != nil &&
			p.Recurring.UsageType == "licensed" && p.Recurring.Interval == cur.Recurring.Interval
	})
	if j < 0 {
		return "", fmt.Errorf("no other plan for subscription %s", sub.ID)
	}
	item := *sub.Items.Data[0]
	item.Price = sd.prices[j]
	sub.Items.Data = append([]*stSubItem{&item}, sub.Items.Data[1:]...)
	sd.subs[i] = &sub
	w.event("customer.subscription.updated", &sub, t)
	for _, p := range sd.products {
		if p.ID == item.Price.Product {
			return p.Name, nil
		}
	}
	return "", nil
}

// StripeRenameCustomer renames a customer at t (event customer.updated).
func (w *World) StripeRenameCustomer(id, name string, t time.Time) error {
	sd := w.stripe
	sd.mu.Lock()
	defer sd.mu.Unlock()
	i := slices.IndexFunc(sd.customers, func(c *stCustomer) bool { return c.ID == id })
	if i < 0 {
		return fmt.Errorf("no customer %s", id)
	}
	c := *sd.customers[i]
	c.Name = name
	sd.customers[i] = &c
	w.event("customer.updated", &c, t)
	return nil
}

// serveEvents is GET /v1/events: type (a name or a prefix ending in *), or types[] (up to 20
// names), and the created filters.
func (w *World) serveEvents(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ := q.Get("type")
	var types []string
	for k, vs := range q {
		if k == "types" || (strings.HasPrefix(k, "types[") && strings.HasSuffix(k, "]")) {
			types = append(types, vs...)
		}
	}
	if typ != "" && len(types) > 0 {
		stripeError(rw, http.StatusBadRequest, "invalid_request_error", "", "You may pass either `type` or `types`, but not both.", "types")
		return
	}
	if len(types) > 20 {
		stripeError(rw, http.StatusBadRequest, "invalid_request_error", "", "You may pass at most 20 event types.", "types")
		return
	}
	serveList(rw, r, "/v1/events", w.stripe.events, func(e *stEvent) string { return e.ID }, func(e *stEvent) bool {
		switch {
		case typ != "":
			if p, ok := strings.CutSuffix(typ, "*"); ok {
				if !strings.HasPrefix(e.Type, p) {
					return false
				}
			} else if e.Type != typ {
				return false
			}
		case len(types) > 0:
			if !slices.Contains(types, e.Type) {
				return false
			}
		}
		return createdMatches(q, e.Created)
	})
}
