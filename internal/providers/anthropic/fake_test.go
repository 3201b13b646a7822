package anthropic

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey looks like a real admin key so that any leak would also be caught by secret.Scrub's
// pattern; tests assert it never appears in errors or logs.
const testKey = "sk-ant-admin01-TESTONLY_q8Zx3Lm0Pa9Vb7Nc5Kd1Jf2Hg4"

// fixtureNow is the pinned clock of every test: mid-morning of 2026-08-03 UTC.
var fixtureNow = time.Date(2026, 8, 3, 10, 0, 0, 0, time.UTC)

// request is what the fake saw of one call.
type request struct {
	Path     string
	Query    url.Values
	RawQuery string
	Header   http.Header
}

// fakeAPI is an httptest stand-in for the Admin API, per provider-apis.md §2 and §6: it demands
// the admin key and the anthropic-version header, answers errors in Anthropic's envelope, rejects
// a usage window ending after the next UTC midnight and a cost window without a complete day or
// ending in the future, and serves
// fixture pages by cursor. Tests replace handlers per path to script failures.
type fakeAPI struct {
	t        *testing.T
	srv      *httptest.Server
	version  string
	mu       sync.Mutex
	requests []request
	handlers map[string]http.HandlerFunc
}

func newFake(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, version: defaultVersion}
	f.handlers = map[string]http.HandlerFunc{
		usageEndpoint: f.validateReport(false, fixturePages(t, "page", map[string]string{
			"":                                  "usage_page1.json",
			"page_MjAyNi0wOC0wM1QwMDowMDowMFo=": "usage_page2.json",
		})),
		costEndpoint: f.validateReport(true, fixturePages(t, "page", map[string]string{
			"":                                  "cost_page1.json",
			"page_MjAyNi0wOC0wMlQwMDowMDowMFo=": "cost_page2.json",
		})),
		workspacesEndpoint: fixturePages(t, "after_id", map[string]string{
			"":                                "workspaces_page1.json",
			"wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ": "workspaces_page2.json",
		}),
		apiKeysEndpoint: fixturePages(t, "after_id", map[string]string{
			"":                                "api_keys_page1.json",
			"apikey_01Rj2N8SVvo6BePZj99NhmiT": "api_keys_page2.json",
		}),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, request{Path: r.URL.Path, Query: r.URL.Query(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
	h := f.handlers[r.URL.Path]
	f.mu.Unlock()
	switch {
	case r.Method != http.MethodGet:
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method not allowed")
	case r.Header.Get("x-api-key") != testKey:
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
	case r.Header.Get("anthropic-version") != f.version:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: unexpected value")
	case !strings.HasPrefix(r.Header.Get("User-Agent"), "margin/"):
		writeError(w, http.StatusBadRequest, "invalid_request_error", "test fake: User-Agent should name margin")
	case h == nil:
		writeError(w, http.StatusNotFound, "not_found_error", "no route "+r.URL.Path)
	default:
		h(w, r)
	}
}

// handle replaces the handler of one path.
func (f *fakeAPI) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

// requestsTo returns the requests the fake saw for path, in order.
func (f *fakeAPI) requestsTo(path string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// validateReport checks the parameters both reports share and the API's date rules before
// passing the request on.
func (f *fakeAPI) validateReport(cost bool, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, err1 := time.Parse(time.RFC3339, q.Get("starting_at"))
		end, err2 := time.Parse(time.RFC3339, q.Get("ending_at"))
		switch {
		case err1 != nil || err2 != nil:
			writeError(w, http.StatusBadRequest, "invalid_request_error", "starting_at and ending_at must be RFC 3339")
		case q.Get("bucket_width") != "1d" || q.Get("limit") != "31":
			writeError(w, http.StatusBadRequest, "invalid_request_error", "test fake: want bucket_width=1d and limit=31")
		case !cost && end.After(fixtureNow.Truncate(24*time.Hour).Add(24*time.Hour)):
			// Usage may be asked through the next UTC midnight, which ends today's bucket; a
			// later end is a client bug this fake refuses.
			writeError(w, http.StatusBadRequest, "invalid_request_error", "test fake: ending_at after the next UTC midnight")
		case cost && end.After(fixtureNow):
			writeError(w, http.StatusBadRequest, "invalid_request_error", "ending_at must not be in the future")
		case cost && !start.Before(end.Truncate(24*time.Hour)):
			writeError(w, http.StatusBadRequest, "invalid_request_error", "Invalid date range: ending date must be after starting date")
		case cost && end.After(fixtureNow.Truncate(24*time.Hour)):
			writeError(w, http.StatusBadRequest, "invalid_request_error", "test fake: cost window includes an incomplete day")
		default:
			next(w, r)
		}
	}
}

// fixturePages serves testdata files chosen by the value of the cursor parameter.
func fixturePages(t *testing.T, cursorParam string, pages map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, ok := pages[r.URL.Query().Get(cursorParam)]
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "unknown "+cursorParam)
			return
		}
		body, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("fixture: %v", err)
			writeError(w, http.StatusInternalServerError, "api_error", "fixture missing")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

// writeError answers in Anthropic's error envelope with a request-id header.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_011CTestFake")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q},"request_id":"req_011CTestFake"}`, typ, msg)
}

// sleepRecorder replaces Options.Sleep: it records each wait and returns at once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newTestClient returns a client of the fake with the clock pinned and sleeps recorded.
func newTestClient(t *testing.T, f *fakeAPI, tweak ...func(*Options)) (*Client, *sleepRecorder) {
	t.Helper()
	sleeps := &sleepRecorder{}
	opts := Options{
		AdminKey:   testKey,
		BaseURL:    f.srv.URL,
		HTTPClient: f.srv.Client(),
		Now:        func() time.Time { return fixtureNow },
		Sleep:      sleeps.sleep,
	}
	for _, fn := range tweak {
		fn(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sleeps
}
