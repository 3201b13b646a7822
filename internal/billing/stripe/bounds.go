package stripe

import (
	"fmt"
	"reflect"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// Every listing is bounded by the objects it can be expected to hold, and so by a number of
// pages (a full page is pageLimit objects): a server that hands out a fresh cursor on every page
// fails the listing in seconds with a *apiclient.PagingError, instead of paging for minutes and
// holding everything in memory. The bounds are generous for real accounts: an account with n
// customers has at most 20(n+100) subscriptions over its life, and creates at most 5(n+100)
// invoices, and as many credit notes, a month.
const (
	defaultMaxCustomers      = 100_000
	maxProducts              = 10_000
	maxLinesPerInvoice       = 10_000
	subscriptionsPerCustomer = 20
	invoicesPerCustomerMonth = 5
	customerSlack            = 100
	maxItemsPerSubscription  = 20 // Stripe allows 20 items on a subscription
)

func subscriptionBound(customers int) int {
	return (customers + customerSlack) * subscriptionsPerCustomer
}

// invoiceBound bounds the invoices, or credit notes, created in [from, to] (Unix seconds).
func invoiceBound(customers int, from, to int64) int {
	months := int((to-from)/(30*86400)) + 1
	return (customers + customerSlack) * invoicesPerCustomerMonth * max(months, 1)
}

// listing drains one stripe-go list iterator under its bound. It fails when the pages exceed what
// maxObjects needs (pages of pageLimit, plus the last), when an object id comes twice (a server
// repeating pages), when a page's data is null or missing (stripe-go reads it as an empty page,
// which would end the list quietly), and when a page without objects says has_more.
type listing struct {
	op, endpoint string
	maxObjects   int
}

func (l listing) maxPages() int { return l.maxObjects/pageLimit + 2 }

func (l listing) pagingError(reason string) error {
	return fmt.Errorf("%s: %w", l.op, &apiclient.PagingError{Provider: providerName, Endpoint: l.endpoint, Reason: reason})
}

func (l listing) decodeError(err error) error {
	return fmt.Errorf("%s: %w", l.op, &apiclient.Error{Provider: providerName, Endpoint: l.endpoint, StatusCode: 200,
		Err: &apiclient.DecodeError{Err: err}})
}

// page checks the page the iterator is on: its data array must be there, and a page without
// objects must be the last.
func (l listing) page(it *stripego.Iter) error {
	if data, ok := pageData(it); ok {
		if data.IsNil() {
			return l.decodeError(apiclient.Missing("data"))
		}
		if data.Len() == 0 && it.Meta() != nil && it.Meta().HasMore {
			return l.pagingError("has_more on a page without objects")
		}
	}
	return nil
}

// pageData is the Data slice of the iterator's current list page.
func pageData(it *stripego.Iter) (reflect.Value, bool) {
	lc := it.List()
	if lc == nil {
		return reflect.Value{}, false
	}
	v := reflect.ValueOf(lc)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	d := v.FieldByName("Data")
	return d, d.IsValid() && d.Kind() == reflect.Slice
}

// collect drains a stripe-go list iterator (which follows has_more with starting_after) under l.
func collect[T any](it *stripego.Iter, l listing, id func(T) string) ([]T, error) {
	return collectUntil(it, l, id, nil)
}

// collectUntil is collect that stops, without requesting further pages, at the first object for
// which stop is true; that object is not returned. A nil stop never stops.
func collectUntil[T any](it *stripego.Iter, l listing, id func(T) string, stop func(T) bool) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	var meta *stripego.ListMeta
	pages := 0
	// The first page is already fetched. stripe-go's Next panics on a first page without objects
	// that says has_more (it has no object to page after), so it is checked before.
	if it.Err() == nil {
		if err := l.page(it); err != nil {
			return nil, err
		}
	}
	for it.Next() {
		if m := it.Meta(); m != meta { // a new page
			meta = m
			if pages++; pages > l.maxPages() {
				return nil, l.pagingError(fmt.Sprintf("more than %d pages: more than the %d objects expected", l.maxPages(), l.maxObjects))
			}
		}
		v, ok := it.Current().(T)
		if !ok {
			return nil, fmt.Errorf("%s: stripe returned %T, want %T", l.op, it.Current(), v)
		}
		if stop != nil && stop(v) {
			return out, nil
		}
		k := id(v)
		if seen[k] {
			return nil, l.pagingError(fmt.Sprintf("object %s returned twice", k))
		}
		if len(out) >= l.maxObjects {
			return nil, l.pagingError(fmt.Sprintf("more than the %d objects expected", l.maxObjects))
		}
		seen[k] = true
		out = append(out, v)
	}
	if err := wrapErr(l.op, l.endpoint, it.Err()); err != nil {
		return nil, err
	}
	// The iterator stopped on a page without objects: its data must be there, and it must end.
	if err := l.page(it); err != nil {
		return nil, err
	}
	return out, nil
}
