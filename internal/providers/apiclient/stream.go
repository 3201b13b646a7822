package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
)

// GetStream is Get for a body decoded by hand as it streams: decode reads the whole JSON value
// from d (which interns strings for the request's life), and nothing may follow it. decode runs
// again from the start when a cut body is retried.
func (c *Client) GetStream(ctx context.Context, endpoint string, query url.Values, decode func(*Decoder) error) error {
	d := newDecoderSize(nil, 16<<10) // one body, most often small: a smaller first buffer
	return c.stream(ctx, endpoint, query, func(body io.Reader) error {
		d.reset(body)
		if err := decode(d); err != nil {
			return err
		}
		return d.finish()
	})
}

// errStopped is returned through a streaming request when the consumer stopped the iteration.
var errStopped = errors.New("iteration stopped")

// StreamCursorPages is cursorPages decoding each page as it arrives: decode reads one element of
// data from the stream, each element is checked (Validator) and yielded as soon as it is
// complete, so no page is ever held whole, in bytes or decoded. It follows next_page like
// cursorPages.
//
// A body cut mid-page is retried like any network fault, and the elements of the page that were
// already yielded before the cut are skipped on the retry: a page's buckets come in start-time
// order, so the first k of the retry are the k already yielded, and none is yielded twice.
func StreamCursorPages[T any](ctx context.Context, c *Client, endpoint string, query url.Values, maxPages int, decode func(*Decoder, *T) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q := cloneValues(query)
		pager := c.NewPager(endpoint, maxPages)
		d := NewDecoder(nil)
		cursor := ""
		for {
			if err := pager.Next(cursor); err != nil {
				yield(zero, err)
				return
			}
			yielded := 0 // elements of this page yielded so far, over every attempt
			var more bool
			var next *string
			err := c.stream(ctx, endpoint, q, func(body io.Reader) error {
				d.reset(body)
				more, next = false, nil
				var gotData bool
				err := d.Object(func(name []byte) error {
					var err error
					switch string(name) {
					case "data":
						var null bool
						null, err = d.Array(func(i int) error {
							var elem T
							if err := decode(d, &elem); err != nil {
								return err
							}
							if v, ok := any(&elem).(Validator); ok {
								if err := v.Validate(); err != nil {
									return within(fmt.Sprintf("data[%d]", i), err)
								}
							}
							if i < yielded {
								return nil // yielded before the body was cut
							}
							yielded++
							if !yield(elem, nil) {
								return errStopped
							}
							return nil
						})
						gotData = !null
					case "has_more":
						more, err = d.Bool()
					case "next_page":
						next, err = d.StrPtr()
					default:
						err = d.Skip()
					}
					return err
				})
				if err != nil {
					return err
				}
				if !gotData {
					return Missing("data")
				}
				return d.finish()
			})
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				yield(zero, err)
				return
			}
			if !more {
				return
			}
			if next == nil || *next == "" {
				yield(zero, &PagingError{Provider: c.Provider(), Endpoint: endpoint, Reason: "has_more without next_page"})
				return
			}
			cursor = *next
			q.Set("page", cursor)
		}
	}
}

// countingReader counts the bytes read and keeps the first read error, so a failure can be told
// apart: the connection broke (retried) or the bytes that came are not the JSON expected.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
