package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
)

type bucket struct {
	Results []int `json:"results"`
}

func (b *bucket) Validate() error {
	if b.Results == nil {
		return Missing("results")
	}
	return nil
}

// pageServer answers the cursor (or last_id) it is asked for from pages.
func pageServer(t *testing.T, param string, pages map[string]string) (*Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, ok := pages[r.URL.Query().Get(param)]
		if !ok {
			http.Error(w, `{"error":{"message":"no such page"}}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, srv.URL, Config{})
	return c, &calls
}

func collectAll[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func TestCursorPages_FollowsNextPageAndKeepsTheQuery(t *testing.T) {
	c, calls := pageServer(t, "page", map[string]string{
		"":   `{"data":[{"results":[1]},{"results":[]}],"has_more":true,"next_page":"p2"}`,
		"p2": `{"data":[{"results":[2,3]}],"has_more":false,"next_page":null}`,
	})
	q := url.Values{"limit": {"7"}}
	got, err := collectAll(cursorPages[bucket](context.Background(), c, "/usage", q, 5))
	if err != nil || len(got) != 3 || len(got[2].Results) != 2 || calls.Load() != 2 {
		t.Fatalf("got %v, %v after %d calls", got, err, calls.Load())
	}
	if q.Get("page") != "" || len(q) != 1 {
		t.Fatalf("the caller's query was changed: %v", q)
	}
}

func TestListPages_FollowsLastID(t *testing.T) {
	c, _ := pageServer(t, "after", map[string]string{
		"":  `{"data":["a","b"],"has_more":true,"first_id":"a","last_id":"b"}`,
		"b": `{"data":["c"],"has_more":false,"first_id":"c","last_id":"c"}`,
	})
	got, err := collectAll(ListPages[string](context.Background(), c, "/projects", nil, 5, "after"))
	if err != nil || strings.Join(got, "") != "abc" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestPages_Faults(t *testing.T) {
	tests := []struct {
		name  string
		pages map[string]string
		want  string
		check func(t *testing.T, err error)
	}{
		{"data null", map[string]string{"": `{"data":null,"has_more":false}`}, "data is null or missing", decodeErr},
		{"data missing", map[string]string{"": `{"has_more":false}`}, "data is null or missing", decodeErr},
		{"element invalid", map[string]string{"": `{"data":[{"results":[]},{"results":null}],"has_more":false}`}, "data[1].results is null or missing", decodeErr},
		{"has_more without next_page", map[string]string{"": `{"data":[],"has_more":true,"next_page":null}`}, "has_more without next_page", pagingErr},
		{"cursor repeated", map[string]string{"": `{"data":[],"has_more":true,"next_page":"x"}`, "x": `{"data":[],"has_more":true,"next_page":"x"}`}, `cursor "x" repeated`, pagingErr},
		{"page bound", map[string]string{"": `{"data":[],"has_more":true,"next_page":"1"}`, "1": `{"data":[],"has_more":true,"next_page":"2"}`,
			"2": `{"data":[],"has_more":true,"next_page":"3"}`}, "more than 3 pages", pagingErr},
		{"HTTP error", map[string]string{}, "HTTP 400", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pageServer(t, "page", tt.pages)
			_, err := collectAll(cursorPages[bucket](context.Background(), c, "/usage", nil, 3))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "openai") || !strings.Contains(err.Error(), "/usage") {
				t.Fatalf("err %v, want one naming openai, /usage and %q", err, tt.want)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func decodeErr(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	var mf *MissingFieldError
	if !errors.As(err, &de) || !errors.As(err, &mf) {
		t.Fatalf("%v (%T): want a *DecodeError of a *MissingFieldError", err, err)
	}
	if fault.Classify(err) != fault.ClassMalformed {
		t.Fatalf("class %v, want malformed", fault.Classify(err))
	}
}

func pagingErr(t *testing.T, err error) {
	t.Helper()
	var pe *PagingError
	if !errors.As(err, &pe) {
		t.Fatalf("%v (%T): want a *PagingError", err, err)
	}
}

func TestPages_StopWhenTheCallerBreaks(t *testing.T) {
	c, calls := pageServer(t, "page", map[string]string{
		"":   `{"data":[{"results":[]},{"results":[]}],"has_more":true,"next_page":"p2"}`,
		"p2": `{"data":[{"results":[]}],"has_more":false}`,
	})
	for _, err := range cursorPages[bucket](context.Background(), c, "/usage", nil, 5) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if calls.Load() != 1 {
		t.Fatalf("%d requests after breaking on the first element, want 1", calls.Load())
	}
}

func TestData_RequiresItsPayload(t *testing.T) {
	type key struct{ Hash string }
	for body, want := range map[string]string{
		`{"data":null}`:               "data is null or missing",
		`{}`:                          "data is null or missing",
		`{"data":[{"results":null}]}`: "data[0].results is null or missing",
	} {
		c, _ := pageServer(t, "x", map[string]string{"": body})
		var out Data[[]bucket]
		if err := c.Get(context.Background(), "/activity", nil, &out); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", body, err, want)
		}
	}
	c, _ := pageServer(t, "x", map[string]string{"": `{"data":{"Hash":"h"}}`})
	var one Data[key]
	if err := c.Get(context.Background(), "/key", nil, &one); err != nil || one.Data.Hash != "h" {
		t.Fatalf("object payload: %v %+v", err, one.Data)
	}
	c, _ = pageServer(t, "x", map[string]string{"": `{"data":[]}`})
	var empty Data[[]bucket]
	if err := c.Get(context.Background(), "/activity", nil, &empty); err != nil || empty.Data == nil || len(*empty.Data) != 0 {
		t.Fatalf("an empty array is an answer: %v", err)
	}
}

func TestWithin_NestsFieldsAndWrapsOtherErrors(t *testing.T) {
	if within("data", nil) != nil {
		t.Fatal("no error became one")
	}
	other := errors.New("bad amount")
	if err := within("data[2]", other); !errors.Is(err, other) || err.Error() != "data[2]: bad amount" {
		t.Fatalf("within: %v", err)
	}
	if err := within("a", within("b", Missing("c"))); err.Error() != "a.b.c is null or missing; the API always sends it" {
		t.Fatalf("nested: %v", err)
	}
}

func TestCheckBucket(t *testing.T) {
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 8, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{start, true}, {end.Add(-time.Second), true}, {time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC), true},
		{start.Add(-24 * time.Hour), false}, {end, false}, {time.Unix(0, 0), false},
	} {
		err := CheckBucket("openai", "/organization/costs", tc.at, start, end)
		if (err == nil) != tc.ok {
			t.Errorf("bucket at %s: %v, want ok %v", tc.at, err, tc.ok)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "/organization/costs") || !strings.Contains(err.Error(), "outside the requested") {
				t.Errorf("bucket at %s: %v", tc.at, err)
			}
		}
	}
	// A mid-day start still admits the bucket of its own day, aligned to midnight.
	if err := CheckBucket("openai", "/x", start, start.Add(9*time.Hour), end); err != nil {
		t.Fatal(err)
	}
}

func TestExportedRetryHelpers(t *testing.T) {
	now := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	if d := RetryAfter(http.Header{"Retry-After": {"7"}}, now); d != 7*time.Second {
		t.Fatalf("RetryAfter %v", d)
	}
	if d := RetryAfter(http.Header{}, now); d != 0 {
		t.Fatalf("RetryAfter without the header %v", d)
	}
	for i := range 30 {
		if d := Backoff(i, time.Second, 8*time.Second); d < time.Second/2 || d > 8*time.Second {
			t.Fatalf("Backoff(%d) %v out of bounds", i, d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context: %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
