package stripe

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// eventTypes are the changes a later incremental poll reads from GET /v1/events (at most 20 per
// request). Every change of an invoice's status that moves its revenue has an event (a draft is
// finalized; an open one is paid, voided or marked uncollectible; an uncollectible one paid), and
// so does every credit note issued or voided: invoices never change their lines once finalized,
// so these are all the changes to recognised revenue. Customer events carry renames and metadata,
// subscription events plans (and mark the forecast's facts of that subscription stale); a product
// event may rename every plan on it, so it triggers a re-read of the slow set.
var eventTypes = []string{
	"invoice.finalized", "invoice.paid", "invoice.voided", "invoice.marked_uncollectible",
	"credit_note.created", "credit_note.voided",
	"customer.created", "customer.updated", "customer.deleted",
	"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
	"product.created", "product.updated", "product.deleted",
}

// eventRetention is how long Stripe lists events (30 days), less a day: a later poll further
// from the last one than this reads everything again.
const eventRetention = 29 * 24 * time.Hour

// createdOverlap is how far before the previous poll's start (by Margin's clock) a later poll
// lists new invoices and credit notes, so a skew between Margin's clock and Stripe's loses none.
const createdOverlap = 10 * time.Minute

// Incremental reads Stripe once in full, then only what changed: each later Fetch reads the
// events since the last one it applied, the invoices and credit notes created since the previous
// poll began (less createdOverlap), and re-reads customers, subscriptions and products every
// refresh (or at once when a product changed). Revenue is recognised from the held
// invoices and credit notes exactly as Client.Fetch recognises a full read. It is safe for
// concurrent use; Fetches run one at a time.
type Incremental struct {
	c       *Client
	refresh time.Duration

	mu sync.Mutex
	st *held // nil until the first fill
	// generation changes whenever what the month-end forecast reads from subscriptions may have
	// changed: a fill, a re-read of the slow set, an invoice or subscription event.
	generation uint64
}

// held is what Stripe said, trimmed to what recognition and the customer list need.
type held struct {
	from      int64     // invoices and credit notes created since from (Unix seconds) are held
	polled    time.Time // when the last read began, by Margin's clock
	slowAt    time.Time // when customers, subscriptions and products were last read
	cursor    int64     // created of the newest event applied
	cursorIDs map[string]bool
	customers map[string]heldCustomer
	subs      map[string]*apiSubscription // every status, trimmed to what plans read
	products  map[string]string           // product names, by id
	plans     map[string]string           // planByCustomer(subs, products)
	invoices  map[string]recInvoice       // trimmed to what recognition reads
	notes     map[string]recNote
	// touched are the subscriptions whose invoices or own fields changed and that the forecast
	// has not read again since (Forget).
	touched map[string]bool
}

type heldCustomer struct {
	c        revenue.Customer
	warnings []string
}

// NewIncremental returns an incremental reader over c that re-reads customers, subscriptions and
// products every refresh.
func NewIncremental(c *Client, refresh time.Duration) *Incremental {
	return &Incremental{c: c, refresh: refresh}
}

// Generation changes whenever every live subscription must be read again: a full read, or a
// re-read of customers and subscriptions. Between generations, Touched names the ones that
// changed.
func (t *Incremental) Generation() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.generation
}

// Touched returns the subscriptions that changed, or whose invoices did, since Forget was last
// told of them within the current generation, sorted.
func (t *Incremental) Touched() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(t.st.touched))
}

// Forget drops ids from Touched once their facts have been read again.
func (t *Incremental) Forget(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st == nil {
		return
	}
	for _, id := range ids {
		delete(t.st.touched, id)
	}
}

// Fetch returns what Client.Fetch returns for w. The first call, a window reaching further back
// than the held invoices, or a gap longer than Stripe keeps events, reads everything; later calls
// read what changed. A failed call leaves the held state as it was.
// GET /v1/events, /v1/invoices?created[gte]=…, /v1/credit_notes?created[gte]=…; hourly (refresh)
// /v1/customers, /v1/subscriptions, /v1/products.
func (t *Incremental) Fetch(ctx context.Context, w usage.Window) (*revenue.Facts, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.c.now()
	from := (w.From - invoiceLookbackDays).Time().Unix()
	if t.st == nil || from < t.st.from || now.Sub(t.st.polled) > eventRetention {
		st, err := t.fill(ctx, from, now)
		if err != nil {
			return nil, err
		}
		t.st = st
		t.generation++
	} else if err := t.update(ctx, now); err != nil {
		return nil, err
	}
	return t.st.revenue(w, from, now.Unix(), t.c)
}

// fill reads everything, as Client.Fetch does, and the newest event first: changes made while
// the lists are read are then applied by the next poll.
func (t *Incremental) fill(ctx context.Context, from int64, now time.Time) (*held, error) {
	c := t.c
	newest, err := c.events(ctx, 0, 1)
	if err != nil {
		return nil, err
	}
	st := &held{from: from, polled: now, slowAt: now, cursorIDs: map[string]bool{},
		invoices: map[string]recInvoice{}, notes: map[string]recNote{}}
	if len(newest) > 0 {
		st.cursor = newest[0].Created
		st.cursorIDs[newest[0].ID] = true
	}
	if err := t.readSlow(ctx, st, now); err != nil {
		return nil, err
	}
	n := len(st.customers)
	invoices, err := c.invoices(ctx, from, now.Unix(), n)
	if err != nil {
		return nil, err
	}
	notes, err := c.creditNotes(ctx, from, now.Unix(), n)
	if err != nil {
		return nil, err
	}
	for _, inv := range invoices {
		st.invoices[inv.ID] = recInvoiceOf(inv)
	}
	for _, cn := range notes {
		st.notes[cn.ID] = recNoteOf(cn)
	}
	return st, nil
}

// readSlow replaces the customers and plans of st by a fresh listing.
func (t *Incremental) readSlow(ctx context.Context, st *held, now time.Time) error {
	list, warnings, err := t.c.customers(ctx)
	if err != nil {
		return err
	}
	subs, products, err := t.c.planInputs(ctx, len(list))
	if err != nil {
		return err
	}
	byID := make(map[string]heldCustomer, len(list))
	for _, cu := range list {
		byID[cu.ID] = heldCustomer{c: cu}
	}
	for _, w := range warnings { // "customer <id>: …"
		id, _, _ := strings.Cut(strings.TrimPrefix(w, "customer "), ":")
		hc := byID[id]
		hc.warnings = append(hc.warnings, w)
		byID[id] = hc
	}
	st.subs = make(map[string]*apiSubscription, len(subs))
	for _, s := range subs {
		st.subs[s.ID] = trimSubscription(s)
	}
	st.customers, st.products, st.slowAt = byID, products, now
	st.plans = planByCustomer(slices.Collect(maps.Values(st.subs)), products)
	return nil
}

// trimSubscription keeps what planByCustomer reads of a subscription.
func trimSubscription(s *apiSubscription) *apiSubscription {
	t := &apiSubscription{ID: s.ID, Status: s.Status, Created: s.Created}
	if s.Customer != nil {
		t.Customer = &apiRef{ID: s.Customer.ID}
	}
	if s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0] != nil && s.Items.Data[0].Price != nil {
		p := s.Items.Data[0].Price
		tp := &apiPrice{Nickname: p.Nickname}
		if p.Product != nil {
			tp.Product = &apiProduct{ID: p.Product.ID, Name: p.Product.Name}
		}
		t.Items = &apiList[apiSubscriptionItem]{Data: []*apiSubscriptionItem{{Price: tp}}}
	}
	return t
}

// update reads what changed since the last poll and applies it: the events in the order they
// happened, then the invoices and credit notes listed since (their state now), then, when due,
// the slow set. Everything is read before anything is applied.
func (t *Incremental) update(ctx context.Context, now time.Time) error {
	c, st := t.c, t.st
	events, err := c.events(ctx, st.cursor, 0)
	if err != nil {
		return err
	}
	events = slices.DeleteFunc(events, func(e *apiEvent) bool { return e.Created == st.cursor && st.cursorIDs[e.ID] })
	slices.Reverse(events) // listed newest first
	since := st.polled.Add(-createdOverlap).Unix()
	n := len(st.customers)
	invoices, err := c.invoices(ctx, since, 0, n)
	if err != nil {
		return err
	}
	notes, err := c.creditNotesFiltered(ctx, since, 0, n, true)
	if err != nil {
		return err
	}
	changes := make([]any, 0, len(events))
	plansChanged := false
	for _, e := range events {
		obj, err := c.eventObject(ctx, e)
		if err != nil {
			return err
		}
		changes = append(changes, obj)
		if strings.HasPrefix(string(e.Type), "product.") {
			plansChanged = true // names of every plan on it: read the slow set again
		}
	}
	next := *st
	next.invoices, next.notes, next.customers = maps.Clone(st.invoices), maps.Clone(st.notes), maps.Clone(st.customers)
	next.subs, next.touched = maps.Clone(st.subs), maps.Clone(st.touched)
	if next.touched == nil {
		next.touched = map[string]bool{}
	}
	subsChanged := false
	next.polled = now
	reread := plansChanged || now.Sub(st.slowAt) >= t.refresh
	if reread {
		if err := t.readSlow(ctx, &next, now); err != nil {
			return err
		}
	}
	for i, e := range events {
		switch o := changes[i].(type) {
		case *apiInvoice:
			next.invoices[o.ID] = recInvoiceOf(o)
			if o.Subscription != nil && o.Subscription.ID != "" {
				next.touched[o.Subscription.ID] = true
			}
		case *apiSubscription:
			next.touched[o.ID] = true
			if !reread {
				next.subs[o.ID] = trimSubscription(o)
				subsChanged = true
			}
		case *apiCreditNote:
			next.notes[o.ID] = recNoteOf(o)
		case *apiCustomer:
			if reread {
				continue // just listed: newer than any event
			}
			if e.Type == "customer.deleted" {
				delete(next.customers, o.ID)
				continue
			}
			if cu, w, ok := customerOf(o); ok {
				next.customers[o.ID] = heldCustomer{c: cu, warnings: w}
			}
		}
	}
	for _, inv := range invoices {
		next.invoices[inv.ID] = recInvoiceOf(inv)
		if inv.Subscription != nil && inv.Subscription.ID != "" {
			next.touched[inv.Subscription.ID] = true
		}
	}
	if subsChanged {
		next.plans = planByCustomer(slices.Collect(maps.Values(next.subs)), next.products)
	}
	for _, cn := range notes {
		next.notes[cn.ID] = recNoteOf(cn)
	}
	if len(events) > 0 {
		// The newest second seen, not the last event's: seconds need not grow along the list.
		last := next.cursor
		for _, e := range events {
			last = max(last, e.Created)
		}
		if last != next.cursor {
			next.cursor, next.cursorIDs = last, map[string]bool{}
		} else {
			next.cursorIDs = maps.Clone(st.cursorIDs)
		}
		for _, e := range events {
			if e.Created == last {
				next.cursorIDs[e.ID] = true
			}
		}
	}
	if reread {
		t.generation++
		next.touched = map[string]bool{}
	}
	*st = next
	return nil
}

// events lists the events of eventTypes created at or after since, newest first; limit 1 reads
// only the newest one.
// GET /v1/events
func (c *Client) events(ctx context.Context, since int64, limit int) ([]*apiEvent, error) {
	p := &stripego.EventListParams{Types: stripego.StringSlice(eventTypes)}
	p.Context = ctx
	p.Limit = stripego.Int64(pageLimit)
	if since > 0 {
		p.CreatedRange = &stripego.RangeQueryParams{GreaterThanOrEqual: since}
	}
	bound := invoiceBound(c.maxCustomers, 0, int64(eventRetention/time.Second)) * 2
	if limit > 0 {
		p.Limit = stripego.Int64(int64(limit))
		p.Single = true
		bound = limit
	}
	return collect[*apiEvent](iter[apiEvent](c.api, "/v1/events", p), listing{"listing events", "/v1/events", bound},
		func(e *apiEvent) string { return e.ID })
}

// eventObject decodes an event's data.object; an invoice whose embedded lines have more pages
// gets the rest (it changed, so reading it is due).
func (c *Client) eventObject(ctx context.Context, e *apiEvent) (any, error) {
	l := listing{"listing events", "/v1/events", 0}
	var obj interface {
		UnmarshalJSON([]byte) error
	}
	switch {
	case strings.HasPrefix(string(e.Type), "invoice."):
		obj = &apiInvoice{}
	case strings.HasPrefix(string(e.Type), "credit_note."):
		obj = &apiCreditNote{}
	case strings.HasPrefix(string(e.Type), "customer.subscription."):
		obj = &apiSubscription{}
	case strings.HasPrefix(string(e.Type), "product."):
		return nil, nil // the slow set is re-read
	case strings.HasPrefix(string(e.Type), "customer."):
		obj = &apiCustomer{}
	default:
		return nil, nil
	}
	if e.Data == nil || len(e.Data.Raw) == 0 {
		return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object (event %s)", e.ID)))
	}
	if err := json.Unmarshal(e.Data.Raw, obj); err != nil {
		return nil, l.decodeError(fmt.Errorf("event %s (%s): data.object: %w", e.ID, e.Type, err))
	}
	switch o := obj.(type) {
	case *apiInvoice:
		if o.ID == "" {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object.id (event %s)", e.ID)))
		}
		if recognised(o.Status) && (o.Lines == nil || o.Lines.Data == nil) {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object.lines.data (event %s, invoice %s)", e.ID, o.ID)))
		}
		if recognised(o.Status) && o.Lines.HasMore && len(o.Lines.Data) > 0 {
			if err := c.completeLines(ctx, o); err != nil {
				return nil, err
			}
		}
	case *apiCreditNote:
		if o.ID == "" {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object.id (event %s)", e.ID)))
		}
	case *apiCustomer:
		if o.ID == "" {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object.id (event %s)", e.ID)))
		}
	case *apiSubscription:
		if o.ID == "" {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data.object.id (event %s)", e.ID)))
		}
	}
	return obj, nil
}

// revenue recognises the held invoices and credit notes created in [from, to], the set a full
// read of w lists, and prunes those created before from (w only moves forward).
func (st *held) revenue(w usage.Window, from, to int64, c *Client) (*revenue.Facts, error) {
	maps.DeleteFunc(st.invoices, func(_ string, inv recInvoice) bool { return inv.created < from })
	maps.DeleteFunc(st.notes, func(_ string, cn recNote) bool { return cn.created < from })
	invoices := make([]recInvoice, 0, len(st.invoices))
	for _, inv := range st.invoices {
		if inv.created <= to {
			invoices = append(invoices, inv)
		}
	}
	notes := make([]recNote, 0, len(st.notes))
	for _, cn := range st.notes {
		if cn.created <= to {
			notes = append(notes, cn)
		}
	}
	// Sorted, so that of several bad objects the same one is named every time.
	sortby.Func(invoices, func(a, b recInvoice) int { return cmp.Compare(a.id, b.id) })
	sortby.Func(notes, func(a, b recNote) int { return cmp.Compare(a.id, b.id) })
	daily, err := recognize(invoices, notes, w, converter{reporting: c.reporting, fx: c.fx})
	if err != nil {
		return nil, fmt.Errorf("stripe: recognising revenue: %w", err)
	}
	out := &revenue.Facts{Customers: make([]revenue.Customer, 0, len(st.customers)), Daily: daily}
	for _, id := range slices.Sorted(maps.Keys(st.customers)) {
		hc := st.customers[id]
		cu := hc.c
		if cu.Plan == "" {
			cu.Plan = st.plans[id]
		}
		out.Customers = append(out.Customers, cu)
		out.Warnings = append(out.Warnings, hc.warnings...)
	}
	return out, nil
}
