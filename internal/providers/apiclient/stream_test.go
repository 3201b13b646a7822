package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/marginhq/margin/internal/fault"
)

// sbucket is a minimal page element: a start and a list of values.
type sbucket struct {
	Start  int64
	Values []int64
}

func (b *sbucket) Validate() error {
	if b.Values == nil {
		return Missing("values")
	}
	return nil
}

func decodeBucket(d *Decoder, b *sbucket) error {
	return d.Object(func(name []byte) error {
		switch string(name) {
		case "start":
			var err error
			b.Start, err = d.Int()
			return err
		case "values":
			vals := []int64{}
			null, err := d.Array(func(int) error {
				v, err := d.Int()
				vals = append(vals, v)
				return err
			})
			if !null {
				b.Values = vals
			}
			return err
		}
		return d.Skip()
	})
}

func bucketJSON(start int64, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"start": %d, "unknown": {"nested": [1, "x"]}, "values": [`, start)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString("]}")
	return b.String()
}

func collect(t *testing.T, c *Client) ([]sbucket, error) {
	t.Helper()
	var out []sbucket
	for b, err := range StreamCursorPages(context.Background(), c, "/x", nil, 10, decodeBucket) {
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// A body cut after two buckets were yielded is retried, and the retry yields only the third:
// no sbucket is yielded twice.
func TestStreamCursorPages_CutAfterYieldingIsRetriedWithoutDuplicates(t *testing.T) {
	full := `{"data": [` + bucketJSON(1, 3) + `, ` + bucketJSON(2, 3) + `, ` + bucketJSON(3, 3) + `], "has_more": false, "next_page": null}`
	cut := full[:strings.Index(full, bucketJSON(3, 3))+10]
	var calls atomic.Int32
	srv := scripted(t, &calls, func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(full), cut)
		buf.Flush()
		conn.Close()
	}, reply(200, full))
	c, waits := newTestClient(t, srv.URL, Config{})
	got, err := collect(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(*waits) != 1 {
		t.Fatalf("calls %d, waits %v; want one retry", calls.Load(), *waits)
	}
	if len(got) != 3 || got[0].Start != 1 || got[1].Start != 2 || got[2].Start != 3 {
		t.Fatalf("buckets %+v, want 1, 2, 3 once each", got)
	}
}

// A page far larger than any buffer of the decoder or the transport decodes whole, and the
// following page is read through next_page.
func TestStreamCursorPages_PageLargerThanAnyBuffer(t *testing.T) {
	const buckets, values = 40, 20_000 // about 4.5 MB
	var page strings.Builder
	page.WriteString(`{"object": "page", "data": [`)
	for i := range buckets {
		if i > 0 {
			page.WriteString(",\n")
		}
		page.WriteString(bucketJSON(int64(i), values))
	}
	page.WriteString(`], "has_more": true, "next_page": "p2"}`)
	var calls atomic.Int32
	srv := scripted(t, &calls, reply(200, page.String()), reply(200, `{"data": [`+bucketJSON(99, 1)+`], "has_more": false}`))
	c, _ := newTestClient(t, srv.URL, Config{})
	got, err := collect(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != buckets+1 || got[buckets].Start != 99 {
		t.Fatalf("%d buckets, want %d and the next page's", len(got), buckets+1)
	}
	want := int64(values * (values - 1) / 2)
	for _, b := range got[:buckets] {
		var sum int64
		for _, v := range b.Values {
			sum += v
		}
		if sum != want {
			t.Fatalf("sbucket %d sums to %d, want %d", b.Start, sum, want)
		}
	}
}

// A malformed value deep inside a large page fails with a DecodeError naming provider, endpoint
// and where in the page, and is not retried.
func TestStreamCursorPages_MalformedDeepInsideFailsClearly(t *testing.T) {
	large := bucketJSON(1, 100_000)
	for name, body := range map[string]string{
		"syntax": `{"data": [` + large[:len(large)-2] + `, 17,,]}]}`,
		"type":   `{"data": [` + large[:len(large)-2] + `, "seventeen"]}]}`,
		"null":   `{"data": [` + large + `, {"start": 2, "values": null}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := scripted(t, &calls, reply(200, body))
			c, _ := newTestClient(t, srv.URL, Config{})
			_, err := collect(t, c)
			var de *DecodeError
			if !errors.As(err, &de) || fault.Classify(err) != fault.ClassMalformed {
				t.Fatalf("got %v, want a DecodeError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "openai: GET /x: malformed JSON response") {
				t.Errorf("error %q does not name provider and endpoint first", msg)
			}
			if want := map[string]string{"syntax": "/data/0/values", "type": "/data/0/values/100000", "null": "data[1].values"}[name]; !strings.Contains(msg, want) {
				t.Errorf("error %q does not say where (%s)", msg, want)
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls: a malformed page is not retried", calls.Load())
			}
		})
	}
}

// A consumer that stops early stops the request: no error, no retry, no further page.
func TestStreamCursorPages_BreakStops(t *testing.T) {
	var calls atomic.Int32
	srv := scripted(t, &calls, reply(200, `{"data": [`+bucketJSON(1, 1)+`, `+bucketJSON(2, 1)+`], "has_more": true, "next_page": "p2"}`))
	c, _ := newTestClient(t, srv.URL, Config{})
	n := 0
	for _, err := range StreamCursorPages(context.Background(), c, "/x", nil, 10, decodeBucket) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 || calls.Load() != 1 {
		t.Fatalf("%d buckets, %d calls", n, calls.Load())
	}
}

// A page without data, or with data null, is a provider fault, not an empty page.
func TestStreamCursorPages_MissingDataRefused(t *testing.T) {
	for _, body := range []string{`{"has_more": false}`, `{"data": null, "has_more": false}`} {
		var calls atomic.Int32
		srv := scripted(t, &calls, reply(200, body))
		c, _ := newTestClient(t, srv.URL, Config{})
		_, err := collect(t, c)
		var m *MissingFieldError
		if !errors.As(err, &m) || m.Field != "data" {
			t.Errorf("%s: got %v, want data missing", body, err)
		}
	}
}

// A repeated text is the previous element's string; a different one, or one whose escapes make
// equal raw bytes mean another text, is read afresh; null and non-strings are as in StrPtr.
func TestDecoder_StrPtrAgain(t *testing.T) {
	d := NewDecoder(strings.NewReader(`["key_1", "key_1", "key_2", "a\\nb", "a\nb", "a\nb", null, 7]`))
	var last *string
	var got []*string
	_, err := d.Array(func(i int) error {
		p, err := d.StrPtrAgain(&last)
		if i == 7 {
			if err == nil || !strings.Contains(err.Error(), "want a string") {
				t.Errorf("element 7: err %v, want a type error", err)
			}
			return nil // the value was read
		}
		got = append(got, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"key_1", "key_1", "key_2", `a\nb`, "a\nb", "a\nb"}
	for i, w := range want {
		if got[i] == nil || *got[i] != w {
			t.Fatalf("element %d: got %v, want %q", i, got[i], w)
		}
	}
	if got[0] != got[1] || got[4] != got[5] {
		t.Error("a repeated text is not the same string")
	}
	if got[6] != nil {
		t.Errorf("null read as %q", *got[6])
	}
}
