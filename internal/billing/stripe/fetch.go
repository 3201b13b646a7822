package stripe

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// Metadata keys Margin reads on Stripe customers.
const (
	metadataSources = "margin_sources" // comma-separated source references (DESIGN.md §3)
	metadataPlan    = "margin_plan"    // overrides the plan taken from the subscription
)

// invoiceLookbackDays reaches back before the window for invoices whose service period still
// covers it: an annual invoice recognises over a year after it is created.
const invoiceLookbackDays = 400

// pageLimit is Stripe's largest page.
const pageLimit = 100

// Fetch reads customers, plans, invoices and credit notes and returns the revenue recognised on
// the days of w, per customer, in the reporting currency.
// GET /v1/customers, /v1/subscriptions, /v1/products, /v1/invoices, /v1/invoices/{id}/lines, /v1/credit_notes
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*revenue.Facts, error) {
	customers, warnings, err := c.customers(ctx)
	if err != nil {
		return nil, err
	}
	n := len(customers)
	plans, err := c.plans(ctx, n)
	if err != nil {
		return nil, err
	}
	for i := range customers {
		if customers[i].Plan == "" {
			customers[i].Plan = plans[customers[i].ID]
		}
	}

	from := (w.From - invoiceLookbackDays).Time().Unix()
	to := c.now().Unix()
	invoices, err := c.invoices(ctx, from, to, n)
	if err != nil {
		return nil, err
	}
	notes, err := c.creditNotes(ctx, from, to, n)
	if err != nil {
		return nil, err
	}
	daily, err := recognizeObjects(invoices, notes, w, c.reporting, c.fx)
	if err != nil {
		return nil, fmt.Errorf("stripe: recognising revenue: %w", err)
	}
	c.logger.Debug("fetched stripe revenue", "window", w.String(), "customers", len(customers),
		"invoices", len(invoices), "credit_notes", len(notes), "revenue_rows", len(daily))
	return &revenue.Facts{Customers: customers, Daily: daily, Warnings: warnings}, nil
}

// customers lists every customer, with margin_plan as its plan when set and its margin_sources
// parsed; an invalid source reference becomes a warning naming the customer and the value.
// GET /v1/customers
func (c *Client) customers(ctx context.Context) ([]revenue.Customer, []string, error) {
	params := &stripego.CustomerListParams{}
	params.Context = ctx
	params.Limit = stripego.Int64(pageLimit)
	list, err := collect[*apiCustomer](iter[apiCustomer](c.api, "/v1/customers", params),
		listing{"listing customers", "/v1/customers", c.maxCustomers}, func(c *apiCustomer) string { return c.ID })
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	out := make([]revenue.Customer, 0, len(list))
	for _, sc := range list {
		cu, w, ok := customerOf(sc)
		if ok {
			out = append(out, cu)
			warnings = append(warnings, w...)
		}
	}
	sortby.Func(out, func(a, b revenue.Customer) int { return strings.Compare(a.ID, b.ID) })
	return out, warnings, nil
}

// customerOf converts a listed customer; ok is false for a deleted one. The warnings name the
// invalid margin_sources entries.
func customerOf(sc *apiCustomer) (cu revenue.Customer, warnings []string, ok bool) {
	if sc.Deleted {
		return revenue.Customer{}, nil, false
	}
	cu = revenue.Customer{
		ID:       sc.ID,
		Name:     sc.Name,
		Email:    sc.Email,
		Plan:     strings.TrimSpace(sc.Metadata[metadataPlan]),
		Currency: string(sc.Currency),
		Metadata: sc.Metadata,
	}
	var bad []badSource
	cu.Sources, bad = parseSources(sc.Metadata[metadataSources])
	for _, b := range bad {
		warnings = append(warnings, fmt.Sprintf("customer %s: metadata %s entry %q ignored: %s",
			sc.ID, metadataSources, b.value, b.reason))
	}
	return cu, warnings, true
}

type badSource struct{ value, reason string }

// parseSources splits a margin_sources value into valid references and rejected entries.
func parseSources(v string) ([]usage.SourceRef, []badSource) {
	var refs []usage.SourceRef
	var bad []badSource
	for _, part := range strings.Split(v, ",") {
		s := strings.TrimSpace(part)
		if s == "" {
			continue
		}
		if _, _, _, err := usage.ParseRef(s); err != nil {
			bad = append(bad, badSource{s, err.Error()})
			continue
		}
		if !slices.Contains(refs, usage.SourceRef(s)) {
			refs = append(refs, usage.SourceRef(s))
		}
	}
	return refs, bad
}

// plans returns each customer's plan from its subscriptions: the product name of the first
// item's price, else the price nickname. A customer with several subscriptions takes the most
// recently created one that is still live (not canceled or expired), else the most recent one.
// Products are listed once and joined by id, because expanding data.items.data.price.product
// would exceed Stripe's expansion depth of four.
// GET /v1/subscriptions?status=all, GET /v1/products
func (c *Client) plans(ctx context.Context, customers int) (map[string]string, error) {
	subs, productNames, err := c.planInputs(ctx, customers)
	if err != nil {
		return nil, err
	}
	return planByCustomer(subs, productNames), nil
}

// planInputs lists every subscription and the product names plans are taken from.
// GET /v1/subscriptions?status=all, GET /v1/products
func (c *Client) planInputs(ctx context.Context, customers int) ([]*apiSubscription, map[string]string, error) {
	sp := &stripego.SubscriptionListParams{Status: stripego.String("all")}
	sp.Context = ctx
	sp.Limit = stripego.Int64(pageLimit)
	subs, err := collect[*apiSubscription](iter[apiSubscription](c.api, "/v1/subscriptions", sp),
		listing{"listing subscriptions", "/v1/subscriptions", subscriptionBound(customers)}, func(s *apiSubscription) string { return s.ID })
	if err != nil {
		return nil, nil, err
	}
	pp := &stripego.ProductListParams{}
	pp.Context = ctx
	pp.Limit = stripego.Int64(pageLimit)
	products, err := collect[*apiProduct](iter[apiProduct](c.api, "/v1/products", pp),
		listing{"listing products", "/v1/products", maxProducts}, func(p *apiProduct) string { return p.ID })
	if err != nil {
		return nil, nil, err
	}
	productNames := make(map[string]string, len(products))
	for _, p := range products {
		productNames[p.ID] = p.Name
	}
	return subs, productNames, nil
}

// planByCustomer picks each customer's subscription and names its plan.
func planByCustomer(subs []*apiSubscription, productNames map[string]string) map[string]string {
	chosen := map[string]*apiSubscription{}
	for _, s := range subs {
		if s.Customer == nil || s.Customer.ID == "" {
			continue
		}
		cur, ok := chosen[s.Customer.ID]
		if !ok || preferSubscription(s, cur) {
			chosen[s.Customer.ID] = s
		}
	}
	plans := make(map[string]string, len(chosen))
	for id, s := range chosen {
		if name := planName(s, productNames); name != "" {
			plans[id] = name
		}
	}
	return plans
}

// preferSubscription reports whether a should be a customer's plan rather than b.
func preferSubscription(a, b *apiSubscription) bool {
	if la, lb := live(a.Status), live(b.Status); la != lb {
		return la
	}
	return cmp.Or(cmp.Compare(a.Created, b.Created), strings.Compare(a.ID, b.ID)) > 0
}

func live(s stripego.SubscriptionStatus) bool {
	return s != stripego.SubscriptionStatusCanceled && s != stripego.SubscriptionStatusIncompleteExpired
}

// planName names the plan of a subscription by its first item's price.
func planName(s *apiSubscription, productNames map[string]string) string {
	if s.Items == nil || len(s.Items.Data) == 0 || s.Items.Data[0] == nil || s.Items.Data[0].Price == nil {
		return ""
	}
	price := s.Items.Data[0].Price
	if price.Product != nil {
		if name := productNames[price.Product.ID]; name != "" {
			return name
		}
		if price.Product.Name != "" { // expanded by the caller's account settings
			return price.Product.Name
		}
	}
	return price.Nickname
}

// invoices lists invoices of every status created in [from, to] (status is filtered later, in
// recognizeObjects) and completes the lines of any invoice whose embedded lines have more pages.
// GET /v1/invoices, GET /v1/invoices/{id}/lines
func (c *Client) invoices(ctx context.Context, from, to int64, customers int) ([]*apiInvoice, error) {
	params := &stripego.InvoiceListParams{
		CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: from, LesserThanOrEqual: to}, // to 0: no upper bound
	}
	params.Context = ctx
	params.Limit = stripego.Int64(pageLimit)
	l := listing{"listing invoices", "/v1/invoices", invoiceBound(customers, from, to)}
	invoices, err := collect[*apiInvoice](iter[apiInvoice](c.api, "/v1/invoices", params), l,
		func(i *apiInvoice) string { return i.ID })
	if err != nil {
		return nil, err
	}
	for i, inv := range invoices {
		// Every invoice embeds its first page of lines: without it the invoice recognises nothing.
		if inv.Lines == nil || inv.Lines.Data == nil {
			return nil, l.decodeError(apiclient.Missing(fmt.Sprintf("data[%d].lines.data (invoice %s)", i, inv.ID)))
		}
	}
	for _, inv := range invoices {
		if inv.Lines == nil || !inv.Lines.HasMore || len(inv.Lines.Data) == 0 {
			continue
		}
		if err := c.completeLines(ctx, inv); err != nil {
			return nil, err
		}
	}
	return invoices, nil
}

// completeLines appends the lines after the embedded page, following paging to the end.
// GET /v1/invoices/{id}/lines
func (c *Client) completeLines(ctx context.Context, inv *apiInvoice) error {
	endpoint := "/v1/invoices/" + inv.ID + "/lines"
	lp := &stripego.InvoiceListLinesParams{Invoice: stripego.String(inv.ID)}
	lp.Context = ctx
	lp.Limit = stripego.Int64(pageLimit)
	lp.StartingAfter = stripego.String(inv.Lines.Data[len(inv.Lines.Data)-1].ID)
	rest, err := collect[*apiInvoiceLine](iter[apiInvoiceLine](c.api, stripego.FormatURLPath("/v1/invoices/%s/lines", inv.ID), lp),
		listing{"listing lines of invoice " + inv.ID, endpoint, maxLinesPerInvoice}, func(l *apiInvoiceLine) string { return l.ID })
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(inv.Lines.Data))
	for _, l := range inv.Lines.Data {
		seen[l.ID] = true
	}
	for _, l := range rest {
		if seen[l.ID] {
			return fmt.Errorf("listing lines of invoice %s: %w", inv.ID, &apiclient.PagingError{
				Provider: providerName, Endpoint: endpoint, Reason: fmt.Sprintf("line %s returned twice", l.ID)})
		}
		seen[l.ID] = true
	}
	inv.Lines.Data = append(inv.Lines.Data, rest...)
	inv.Lines.HasMore = false
	return nil
}

// creditNotes lists credit notes created in [from, to]; void ones are dropped in recognizeObjects.
// API version 2023-10-16 has no created filter on this list (stripe-mock rejects it), but the list
// comes newest first, so paging stops at the first note created before from.
// GET /v1/credit_notes
func (c *Client) creditNotes(ctx context.Context, from, to int64, customers int) ([]*apiCreditNote, error) {
	return c.creditNotesFiltered(ctx, from, to, customers, false)
}

// creditNotesFiltered is creditNotes, with created[gte]=from sent when filter is set (a later
// incremental poll: the list then holds only the notes since, whatever the paging stop does).
func (c *Client) creditNotesFiltered(ctx context.Context, from, to int64, customers int, filter bool) ([]*apiCreditNote, error) {
	params := &stripego.CreditNoteListParams{}
	if filter {
		params.CreatedRange = &stripego.RangeQueryParams{GreaterThanOrEqual: from}
	}
	params.Context = ctx
	params.Limit = stripego.Int64(pageLimit)
	it := iter[apiCreditNote](c.api, "/v1/credit_notes", params)
	notes, err := collectUntil(it, listing{"listing credit notes", "/v1/credit_notes", invoiceBound(customers, from, to)},
		func(n *apiCreditNote) string { return n.ID },
		func(n *apiCreditNote) bool { return n.Created < from })
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(notes, func(n *apiCreditNote) bool { return to > 0 && n.Created > to }), nil
}
