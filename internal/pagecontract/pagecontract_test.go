package pagecontract

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type item struct {
	ID    string          `json:"id"`
	Count int64           `json:"count"`
	Extra json.RawMessage `json:"extra"`
}

type page struct {
	Data    []item `json:"data"`
	HasMore bool   `json:"has_more"`
}

const fixture = `{"object":"list","data":[{"object":"item","id":"a","count":1,"extra":{"x":1}}],"has_more":false}`

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name, page string
		want       []string // substrings of the error; none: no error
	}{
		{"same shape", `{"object":"list","data":[{"object":"item","id":"b","count":2,"extra":{"y":[1]}}],"has_more":true}`, nil},
		{"documented fields the client ignores may be left out", `{"data":[{"id":"b","count":2,"extra":null}],"has_more":false}`, nil},
		{"an empty array compares no element fields", `{"object":"list","data":[],"has_more":false}`, nil},
		{"an invented field", `{"object":"list","data":[{"object":"item","id":"b","count":2,"extra":1,"bogus":true}],"has_more":false}`,
			[]string{"data[].bogus: the simulated page has it", `unknown field "bogus"`}},
		{"a field the client reads is missing", `{"object":"list","data":[{"object":"item","id":"b","extra":1}],"has_more":false}`,
			[]string{"data[].count: the client reads it"}},
		{"the wrong kind", `{"object":"list","data":[{"object":"item","id":"b","count":"2","extra":1}],"has_more":false}`,
			[]string{"strict decode", "cannot unmarshal string"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check[page]([][]byte{[]byte(tt.page)}, [][]byte{[]byte(fixture)})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("%d pages decoded", len(got))
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := Check[page](nil, [][]byte{[]byte(fixture)}); err == nil {
		t.Error("no pages: no error")
	}
}

func TestCheckAgainstSpec(t *testing.T) {
	// The reference (a spec server's page) lacks has_more and holds no item: what T reads is
	// known all the same, a field left out is fine, and an invented one still fails.
	reference := [][]byte{[]byte(`{"object":"list","data":[]}`)}
	if _, err := CheckAgainstSpec[page]([][]byte{[]byte(`{"object":"list","data":[{"id":"b","count":2}],"has_more":false}`)}, reference); err != nil {
		t.Errorf("fields T reads, some left out: %v", err)
	}
	_, err := CheckAgainstSpec[page]([][]byte{[]byte(`{"object":"list","data":[{"id":"b","bogus":1}]}`)}, reference)
	if err == nil || !strings.Contains(err.Error(), "data[].bogus: the simulated page has it") {
		t.Errorf("an invented field: err %v", err)
	}
}

func TestRecorder_KeepsEveryOKBodyByPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(r.URL.Path + "?" + r.URL.RawQuery))
	}))
	defer srv.Close()
	rec := &Recorder{Next: http.DefaultTransport}
	c := &http.Client{Transport: rec}
	for _, u := range []string{"/a?p=1", "/a?p=2", "/b", "/missing"} {
		resp, err := c.Get(srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if want := u; resp.StatusCode == http.StatusOK && !strings.Contains(u, "?") && string(body) != u+"?" || strings.Contains(want, "?") && string(body) != want {
			t.Errorf("%s: the client read %q", u, body) // the recorder hands the body on untouched
		}
	}
	if got := rec.Pages(func(p string) bool { return p == "/a" }); len(got) != 2 || string(got[0]) != "/a?p=1" || string(got[1]) != "/a?p=2" {
		t.Errorf("pages of /a: %q", got)
	}
	if got := strings.Join(rec.Paths(), " "); got != "/a /b" {
		t.Errorf("paths %q, want /a /b (no 404)", got)
	}
}
