package apiclient

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"reflect"
	"time"
)

// CursorEnvelope is the page shape {data, has_more, next_page} of the OpenAI usage and costs
// endpoints and the Anthropic usage and cost reports.
type CursorEnvelope[T any] struct {
	Data     []T     `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// Validate refuses a page without its data array (null or missing) and checks each element that
// is a Validator: an envelope without data is a provider fault, never an empty page.
func (p *CursorEnvelope[T]) Validate() error { return validateData(p.Data) }

// ListEnvelope is the page shape {data, has_more, first_id, last_id} of the OpenAI project and
// key lists and the Anthropic workspace and key lists.
type ListEnvelope[T any] struct {
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
	FirstID string `json:"first_id"`
	LastID  string `json:"last_id"`
}

// Validate refuses a list page without its data array, like CursorEnvelope.Validate.
func (p *ListEnvelope[T]) Validate() error { return validateData(p.Data) }

// Data is the {"data": …} envelope of OpenRouter's answers. Validate refuses a null or missing
// data (a JSON [] or {} is present) and checks the elements of a slice that are Validators.
type Data[T any] struct {
	Data *T `json:"data"`
}

// Validate implements Validator.
func (d *Data[T]) Validate() error {
	if d.Data == nil {
		return Missing("data")
	}
	if v, ok := any(d.Data).(Validator); ok {
		return within("data", v.Validate())
	}
	// A slice payload: check its elements (generics cannot name "a slice of T" here).
	if s := reflect.ValueOf(d.Data).Elem(); s.Kind() == reflect.Slice {
		for i := range s.Len() {
			if v, ok := s.Index(i).Addr().Interface().(Validator); ok {
				if err := v.Validate(); err != nil {
					return within(fmt.Sprintf("data[%d]", i), err)
				}
			}
		}
	}
	return nil
}

// validateData checks a required array: nil means the JSON had null or no array at all, since
// encoding/json decodes [] to an empty, non-nil slice.
func validateData[T any](data []T) error {
	if data == nil {
		return Missing("data")
	}
	return validateEach("data", data)
}

// validateEach runs Validate on each element of s that is a Validator, naming the first failing
// element as field[i].
func validateEach[T any](field string, s []T) error {
	for i := range s {
		if v, ok := any(&s[i]).(Validator); ok {
			if err := v.Validate(); err != nil {
				return within(fmt.Sprintf("%s[%d]", field, i), err)
			}
		}
	}
	return nil
}

// cursorPages yields every element across the pages of a {data, has_more, next_page} endpoint,
// passing next_page back as `page` while has_more holds. query is copied, never modified.
func cursorPages[T any](ctx context.Context, c *Client, endpoint string, query url.Values, maxPages int) iter.Seq2[T, error] {
	return pages(ctx, c, endpoint, query, maxPages, "page", func(q url.Values) ([]T, bool, string, string, error) {
		var p CursorEnvelope[T]
		err := c.Get(ctx, endpoint, q, &p)
		cursor := ""
		if p.NextPage != nil {
			cursor = *p.NextPage
		}
		return p.Data, p.HasMore, cursor, "has_more without next_page", err
	})
}

// ListPages yields every element across the pages of a {data, has_more, last_id} list, passing
// last_id back as afterParam ("after" for OpenAI, "after_id" for Anthropic) while has_more holds.
func ListPages[T any](ctx context.Context, c *Client, endpoint string, query url.Values, maxPages int, afterParam string) iter.Seq2[T, error] {
	return pages(ctx, c, endpoint, query, maxPages, afterParam, func(q url.Values) ([]T, bool, string, string, error) {
		var p ListEnvelope[T]
		err := c.Get(ctx, endpoint, q, &p)
		return p.Data, p.HasMore, p.LastID, "has_more without last_id", err
	})
}

// pages runs a paging loop guarded by a Pager: fetch returns a page's items, whether more follow,
// the next cursor and what to say when more follow without a cursor.
func pages[T any](ctx context.Context, c *Client, endpoint string, query url.Values, maxPages int, cursorParam string,
	fetch func(url.Values) (items []T, more bool, cursor, missing string, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q := cloneValues(query)
		pager := c.NewPager(endpoint, maxPages)
		cursor := ""
		for {
			if err := pager.Next(cursor); err != nil {
				yield(zero, err)
				return
			}
			items, more, next, missing, err := fetch(q)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if !more {
				return
			}
			if next == "" {
				yield(zero, &PagingError{Provider: c.Provider(), Endpoint: endpoint, Reason: missing})
				return
			}
			cursor = next
			q.Set(cursorParam, cursor)
		}
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// CheckBucket refuses a time bucket that starts outside the query [start, end): the API never
// sends one, and a record on a day nobody asked for must not join a batch. start's UTC day counts
// as inside, for buckets aligned to midnight.
func CheckBucket(provider, endpoint string, bucketStart, start, end time.Time) error {
	if !bucketStart.Before(start.UTC().Truncate(24*time.Hour)) && bucketStart.Before(end) {
		return nil
	}
	return &Error{Provider: provider, Endpoint: endpoint, Err: &DecodeError{Err: fmt.Errorf(
		"bucket starting %s outside the requested %s..%s", bucketStart.UTC().Format(time.RFC3339),
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))}}
}
