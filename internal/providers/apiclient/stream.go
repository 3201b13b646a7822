package apiclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// Decoder is the JSON token stream a page decodes from as it arrives, with the helpers the
// providers' element decoders use. Strings are interned for the life of one paging loop: a page
// repeats the same few thousand ids and model names hundreds of thousands of times, and each is
// allocated once.
//
// It is github.com/go-json-experiment/json's jsontext decoder (encoding/json/v2's token layer,
// which Go 1.26 still keeps behind GOEXPERIMENT=jsonv2): it hands out raw values without
// allocating, where encoding/json's Decoder.Token boxes every token in an interface.
type Decoder struct {
	dec     *jsontext.Decoder
	strs    map[string]*string
	scratch []byte
}

// NewDecoder returns a decoder of r with an empty string table.
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{strs: map[string]*string{}}
	if r != nil {
		d.reset(r)
	}
	return d
}

// reset points d at a new body, keeping its string table.
func (d *Decoder) reset(r io.Reader) {
	// Duplicate names are allowed as encoding/json allows them (checking costs a set per
	// object); invalid UTF-8 is kept as bytes, as ids and names are compared, never shown raw.
	opts := []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
	if d.dec == nil {
		d.dec = jsontext.NewDecoder(r, opts...)
		return
	}
	d.dec.Reset(r, opts...)
}

// typeError is a value of the wrong JSON kind, at its JSON pointer in the page.
func (d *Decoder) typeError(want string, got jsontext.Value) error {
	return fmt.Errorf("%s: want %s, got %.40s", d.dec.StackPointer(), want, got)
}

// Object reads a JSON object, calling field with each name; field must read or Skip the value.
// A null reads as no fields.
func (d *Decoder) Object(field func(name []byte) error) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '{':
	default:
		return fmt.Errorf("%s: want an object, got %s", d.dec.StackPointer(), tok.Kind())
	}
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if bytes.IndexByte(name, '\\') >= 0 {
			if d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], name); err != nil {
				return err
			}
			name = d.scratch
		} else {
			name = name[1 : len(name)-1]
		}
		if err := field(name); err != nil {
			return err
		}
	}
	_, err = d.dec.ReadToken()
	return err
}

// Array reads a JSON array, calling elem with each index; elem must read or Skip the element.
// null reports true and calls nothing, so a required array can tell null from [].
func (d *Decoder) Array(elem func(i int) error) (null bool, err error) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case 'n':
		return true, nil
	case '[':
	default:
		return false, fmt.Errorf("%s: want an array, got %s", d.dec.StackPointer(), tok.Kind())
	}
	for i := 0; d.dec.PeekKind() != ']'; i++ {
		if err := elem(i); err != nil {
			return false, err
		}
	}
	_, err = d.dec.ReadToken()
	return false, err
}

// Results reads a bucket's results array into a slice sized from *hint (the largest bucket read
// so far, which it raises), decoding each element in place with elem. A null array gives nil, so
// the bucket's Validate can refuse it.
func Results[T any](d *Decoder, hint *int, elem func(*T) error) ([]T, error) {
	results := make([]T, 0, *hint)
	null, err := d.Array(func(int) error {
		var zero T
		results = append(results, zero)
		return elem(&results[len(results)-1])
	})
	if null {
		return nil, err
	}
	*hint = max(*hint, len(results))
	return results, err
}

// Skip reads and discards the next value.
func (d *Decoder) Skip() error { return d.dec.SkipValue() }

// Raw returns the next value's exact bytes, valid until the next read.
func (d *Decoder) Raw() ([]byte, error) { return d.dec.ReadValue() }

// Int reads an integer; null reads as 0, as encoding/json leaves an int64 field alone.
func (d *Decoder) Int() (int64, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return 0, err
	}
	switch v.Kind() {
	case 'n':
		return 0, nil
	case '0':
	default:
		return 0, d.typeError("an integer", v)
	}
	if len(v) < 19 { // fewer digits than can overflow: the common case, parsed in place
		neg := v[0] == '-'
		digits := v
		if neg {
			digits = v[1:]
		}
		var n int64
		ok := len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, d.typeError("an integer", v)
	}
	return n, nil
}

// Bool reads true or false; null reads as false.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return false, err
	}
	switch v.Kind() {
	case 't':
		return true, nil
	case 'f', 'n':
		return false, nil
	}
	return false, d.typeError("a boolean", v)
}

// StrPtr reads a string, interned, or null as nil.
func (d *Decoder) StrPtr() (*string, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v.Kind() {
	case 'n':
		return nil, nil
	case '"':
		return d.intern(v)
	}
	return nil, d.typeError("a string", v)
}

// StrPtrAgain is StrPtr for a field that most often repeats its value from the element before (a
// row's key and project in a page grouped by key): when the string is *last it is returned as
// is, without a lookup; otherwise the interned string is read and becomes *last.
func (d *Decoder) StrPtrAgain(last **string) (*string, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v.Kind() {
	case 'n':
		return nil, nil
	case '"':
		// Equal raw bytes without a backslash are the same text; with one they may not be.
		if p := *last; p != nil && string(v[1:len(v)-1]) == *p && bytes.IndexByte(v, '\\') < 0 {
			return p, nil
		}
		p, err := d.intern(v)
		if err == nil {
			*last = p
		}
		return p, err
	}
	return nil, d.typeError("a string", v)
}

// Str reads a string, interned; null reads as "".
func (d *Decoder) Str() (string, error) {
	p, err := d.StrPtr()
	if p == nil || err != nil {
		return "", err
	}
	return *p, nil
}

// intern returns the one copy of the quoted JSON string v.
func (d *Decoder) intern(v jsontext.Value) (*string, error) {
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var err error
		if d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v); err != nil {
			return nil, err
		}
		raw = d.scratch
	}
	if p, ok := d.strs[string(raw)]; ok {
		return p, nil
	}
	s := string(raw)
	d.strs[s] = &s
	return &s, nil
}

// end checks that nothing but whitespace follows the page's value.
func (d *Decoder) end() error {
	if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			return errors.New("data after the JSON value")
		}
		return err
	}
	return nil
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
				return d.end()
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
