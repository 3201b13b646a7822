package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

const testKey = "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"

var (
	hashAcme     = "822b33ad87c148a0a20a5ba7cd5ebcaa68d36a18e7aad165554903f52ca82757"
	hashLegacy   = "c49fea7425fa7f8699897a97c159c6690267d9003bb78c53fafa8fc15c325d84"
	hashPilot    = "07ae38b93d8054d84aac37039c71ad114a8685a3857084d568f260ce69f0737f"
	hashResearch = "66f62d1807d3821a3865f2573b69c74be033f1341240ac861fefc6d430bff5e0"

	// The workspaces of workspaces.json: the default one and "Research".
	wsDefault  = "9b1c7e52-3f0a-4c8e-a1d2-6e4f5b7c8d90"
	wsResearch = "e3a1c2d4-5b6f-4a7e-8c9d-0f1e2d3c4b5a"

	activityFixture = map[string]string{hashAcme: "activity_acme.json", hashLegacy: "activity_legacy.json",
		hashPilot: "activity_pilot.json", hashResearch: "activity_research.json", "": "activity_account.json"}

	// testNow is mid-afternoon on 2026-08-31: /activity serves 2026-08-01 .. 2026-08-30.
	testNow = time.Date(2026, 8, 31, 15, 4, 5, 0, time.UTC)
)

// fakeServer is an OpenRouter management API under /api/v1, served from testdata. Handlers can be
// replaced per test; it records the requests it saw and how many ran at once.
type fakeServer struct {
	t         *testing.T
	mux       *http.ServeMux
	srv       *httptest.Server
	mu        sync.Mutex
	overrides map[string]http.HandlerFunc // by path, ahead of mux
	requests  []string                    // path?query of every request, in order
	inFlight  atomic.Int32
	maxInFl   atomic.Int32
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, mux: http.NewServeMux(), overrides: map[string]http.HandlerFunc{}}
	f.mux.HandleFunc("GET /api/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("offset") != "0" {
			writeJSON(w, `{"data":[]}`)
			return
		}
		switch q.Get("workspace_id") {
		case "", wsDefault:
			writeFixture(t, w, "keys.json")
		case wsResearch:
			writeFixture(t, w, "keys_research.json")
		default:
			w.WriteHeader(http.StatusNotFound)
			writeJSON(w, `{"error":{"code":404,"message":"Workspace not found"}}`)
		}
	})
	f.mux.HandleFunc("GET /api/v1/workspaces", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") != "0" {
			writeJSON(w, `{"data":[],"total_count":2}`)
			return
		}
		writeFixture(t, w, "workspaces.json")
	})
	f.mux.HandleFunc("GET /api/v1/activity", func(w http.ResponseWriter, r *http.Request) {
		name, ok := activityFixture[r.URL.Query().Get("api_key_hash")]
		if !ok {
			http.Error(w, `{"error":{"code":404,"message":"key not found"}}`, http.StatusNotFound)
			return
		}
		writeFixture(t, w, name)
	})
	f.mux.HandleFunc("GET /api/v1/key", func(w http.ResponseWriter, r *http.Request) { writeFixture(t, w, "key_management.json") })
	f.mux.HandleFunc("GET /api/v1/credits", func(w http.ResponseWriter, r *http.Request) { writeFixture(t, w, "credits.json") })
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFl.Load()
		if n <= m || f.maxInFl.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path+"?"+r.URL.RawQuery)
	h := f.overrides[r.URL.Path]
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, `{"error":{"code":401,"message":"No auth credentials found"}}`)
		return
	}
	if h != nil {
		h(w, r)
		return
	}
	f.mux.ServeHTTP(w, r)
}

// handle replaces the handler of one endpoint ("/keys", "/activity", …).
func (f *fakeServer) handle(endpoint string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overrides["/api/v1"+endpoint] = h
}

func (f *fakeServer) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// client returns a client of the fake server whose retries record their waits instead of sleeping.
func (f *fakeServer) client(t *testing.T, logs *bytes.Buffer) (*Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(Options{
		ManagementKey: testKey,
		BaseURL:       f.srv.URL + "/api/v1",
		Logger:        logger,
		Now:           func() time.Time { return testNow },
		MaxRetries:    3,
		Sleep: func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

func writeFixture(t *testing.T, w http.ResponseWriter, name string) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Errorf("fixture: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(body))
}

func day(s string) usage.Day {
	d, err := usage.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestNew_RequiresManagementKey(t *testing.T) {
	_, err := New(Options{})
	if err == nil || !strings.Contains(err.Error(), "management key is required") {
		t.Fatalf("New without a key: got %v, want an error asking for a management key", err)
	}
}

func TestNew_RejectsBadBaseURL(t *testing.T) {
	_, err := New(Options{ManagementKey: testKey, BaseURL: "openrouter.ai/api/v1"})
	if err == nil {
		t.Fatal("New accepted a base URL without a scheme")
	}
	if strings.Contains(err.Error(), testKey) {
		t.Fatalf("error reveals the key: %v", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		status  int
		wantErr func(error) bool
	}{
		{"management key", "key_management.json", 200, func(err error) bool { return err == nil }},
		{"legacy provisioning flag only", "key_provisioning_legacy.json", 200, func(err error) bool { return err == nil }},
		{"inference key", "key_inference.json", 200, func(err error) bool {
			return errors.Is(err, errNotManagementKey) && strings.Contains(err.Error(), "not a management key")
		}},
		{"revoked key", "", http.StatusUnauthorized, func(err error) bool { return fault.Classify(err) == fault.ClassAuth }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.handle("/key", func(w http.ResponseWriter, r *http.Request) {
				if tt.status != 200 {
					w.WriteHeader(tt.status)
					writeJSON(w, `{"error":{"code":401,"message":"User not found."}}`)
					return
				}
				writeFixture(t, w, tt.fixture)
			})
			c, _ := f.client(t, nil)
			err := c.Check(context.Background())
			if !tt.wantErr(err) {
				t.Fatalf("Check: got %v", err)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Fatalf("error reveals the key: %v", err)
			}
			if got := f.seen(); len(got) != 1 || got[0] != "/api/v1/key?" {
				t.Fatalf("requests = %q, want one GET /key", got)
			}
		})
	}
}

func TestCurrentKey_DecodesDollarsExactly(t *testing.T) {
	f := newFakeServer(t)
	f.handle("/key", func(w http.ResponseWriter, r *http.Request) { writeFixture(t, w, "key_inference.json") })
	c, _ := f.client(t, nil)
	k, err := c.CurrentKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if k.Limit == nil || k.Limit.Money() != ledger.Dollars(500) {
		t.Errorf("limit = %v, want 500", k.Limit)
	}
	if k.LimitRemaining == nil || k.LimitRemaining.Money() != 312_558_500_000 {
		t.Errorf("limit_remaining = %v, want 312.5585", k.LimitRemaining)
	}
	if k.Usage.Money() != 187_441_500_000 || k.UsageMonthly.Money() != 12_500_000_000 {
		t.Errorf("usage = %s, monthly = %s", k.Usage.Money(), k.UsageMonthly.Money())
	}
	if k.IsManagementKey || k.IsProvisioningKey || k.LimitReset != "monthly" {
		t.Errorf("flags: %+v", k)
	}
}

func TestCredits(t *testing.T) {
	f := newFakeServer(t)
	c, _ := f.client(t, nil)
	cr, err := c.Credits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cr.TotalCredits.Money() != 100_500_000_000 || cr.TotalUsage.Money() != 25_750_000_000 {
		t.Fatalf("credits = %s / %s, want 100.50 / 25.75", cr.TotalCredits.Money(), cr.TotalUsage.Money())
	}
}

func TestUSD_Unmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    ledger.Money
		wantErr bool
	}{
		{`4.2175`, 4_217_500_000, false},
		{`"4.2175"`, 4_217_500_000, false},
		{`0`, 0, false},
		{`1.23456789e-4`, 123_457, false}, // half away from zero at the ninth decimal
		{`"1.5E-05"`, 15_000, false},
		{`-0.0000000015`, -2, false},
		{`0.30000000000000004`, 300_000_000, false}, // float noise below a nano-dollar vanishes
		{`null`, 7, false},                          // null leaves the value alone
		{`"abc"`, 0, true},
		{`""`, 0, true},
		{`true`, 0, true},
		{`{"v":1}`, 0, true},
		{`1e30`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v := USD(7)
			err := json.Unmarshal([]byte(tt.in), &v)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %s, want an error", v.Money())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Money() != tt.want {
				t.Fatalf("got %d nano, want %d", v.Money(), tt.want)
			}
		})
	}
}

func TestUSD_NullableFieldStaysNil(t *testing.T) {
	var k Key
	if err := json.Unmarshal([]byte(`{"hash":"h","limit":null,"limit_remaining":"2.5"}`), &k); err != nil {
		t.Fatal(err)
	}
	if k.Limit != nil || k.LimitRemaining == nil || k.LimitRemaining.Money() != 2_500_000_000 {
		t.Fatalf("limit = %v, remaining = %v", k.Limit, k.LimitRemaining)
	}
}

// keysPage returns a /keys page of n keys numbered from first.
func keysPage(first, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"hash":"%064x","name":"key %d","label":"sk-or-v1-000...%04d","disabled":false,"limit":null,"limit_remaining":null,"usage":0}`, first+i, first+i, first+i)
	}
	return `{"data":[` + strings.Join(items, ",") + `]}`
}

func TestListKeys_Paging(t *testing.T) {
	tests := []struct {
		name         string
		page         func(offset int) string
		maxPages     int
		wantKeys     int
		wantRequests []string
		wantPaging   bool
	}{
		{
			name: "exactly 100 then fewer",
			page: func(offset int) string {
				switch offset {
				case 0:
					return keysPage(0, 100)
				case 100:
					return keysPage(100, 5)
				}
				return `{"data":[]}`
			},
			maxPages: maxKeyPages,
			wantKeys: 105,
			wantRequests: []string{
				"/api/v1/keys?include_disabled=true&offset=0",
				"/api/v1/keys?include_disabled=true&offset=100",
			},
		},
		{
			name: "exactly 100 then an empty page",
			page: func(offset int) string {
				if offset == 0 {
					return keysPage(0, 100)
				}
				return `{"data":[]}`
			},
			maxPages: maxKeyPages,
			wantKeys: 100,
			wantRequests: []string{
				"/api/v1/keys?include_disabled=true&offset=0",
				"/api/v1/keys?include_disabled=true&offset=100",
			},
		},
		{
			name:     "a key shifted onto the next page is listed once",
			page:     func(offset int) string { return keysPage(max(offset-1, 0), 100-offset/100*98) },
			maxPages: maxKeyPages,
			wantKeys: 101, // keys 0..99, then 99 (again) and 100
			wantRequests: []string{
				"/api/v1/keys?include_disabled=true&offset=0",
				"/api/v1/keys?include_disabled=true&offset=100",
			},
		},
		{
			name:       "offset ignored: the same 100 keys forever",
			page:       func(int) string { return keysPage(0, 100) },
			maxPages:   maxKeyPages,
			wantKeys:   100,
			wantPaging: true,
			wantRequests: []string{
				"/api/v1/keys?include_disabled=true&offset=0",
				"/api/v1/keys?include_disabled=true&offset=100",
			},
		},
		{
			name:       "new keys on every page, never a short page",
			page:       func(offset int) string { return keysPage(offset, 100) },
			maxPages:   3,
			wantKeys:   300,
			wantPaging: true,
			wantRequests: []string{
				"/api/v1/keys?include_disabled=true&offset=0",
				"/api/v1/keys?include_disabled=true&offset=100",
				"/api/v1/keys?include_disabled=true&offset=200",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
				var offset int
				_, _ = fmt.Sscan(r.URL.Query().Get("offset"), &offset) // absent: 0
				writeJSON(w, tt.page(offset))
			})
			c, _ := f.client(t, nil)
			c.maxKeyPages = tt.maxPages
			n := 0
			hashes := map[string]bool{}
			var err error
			for k, kerr := range c.ListKeys(context.Background()) {
				if kerr != nil {
					err = kerr
					break
				}
				if hashes[k.Hash] {
					t.Fatalf("key %s yielded twice", k.Hash)
				}
				hashes[k.Hash] = true
				n++
			}
			var pe *apiclient.PagingError
			if tt.wantPaging != errors.As(err, &pe) {
				t.Fatalf("error = %v, want a PagingError: %v", err, tt.wantPaging)
			}
			if !tt.wantPaging && err != nil {
				t.Fatal(err)
			}
			if pe != nil && (pe.Provider != "openrouter" || pe.Endpoint != "/keys") {
				t.Fatalf("paging error names %q %q", pe.Provider, pe.Endpoint)
			}
			if n != tt.wantKeys {
				t.Errorf("got %d keys, want %d", n, tt.wantKeys)
			}
			if got := f.seen(); strings.Join(got, "\n") != strings.Join(tt.wantRequests, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantRequests, "\n"))
			}
		})
	}
}

func TestActivity_Request(t *testing.T) {
	f := newFakeServer(t)
	c, _ := f.client(t, nil)
	rows, err := c.Activity(context.Background(), hashAcme)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want 5", len(rows))
	}
	if rows[1].Usage.Money() != 4_217_500_000 || rows[4].BYOKUsageInference.Money() != 2_750_000_000 {
		t.Errorf("usage %d, byok %d", rows[1].Usage.Money(), rows[4].BYOKUsageInference.Money())
	}
	// No date parameter: one call returns all 30 days.
	want := "/api/v1/activity?api_key_hash=" + hashAcme
	if got := f.seen(); len(got) != 1 || got[0] != want {
		t.Fatalf("requests = %q, want %q", got, want)
	}
}

// Errors are shared by every endpoint; they are exercised here on /keys, the first call of Fetch.
func TestFetch_Errors(t *testing.T) {
	tests := []struct {
		name         string
		responses    []func(w http.ResponseWriter) // one per attempt; the last repeats
		wantRequests int
		wantWaits    []time.Duration
		check        func(t *testing.T, err error)
	}{
		{
			name: "429 with Retry-After, then success",
			responses: []func(http.ResponseWriter){
				func(w http.ResponseWriter) {
					w.Header().Set("Retry-After", "7")
					w.Header().Set("X-RateLimit-Remaining", "0")
					w.WriteHeader(http.StatusTooManyRequests)
					writeJSON(w, `{"error":{"code":429,"message":"Rate limit exceeded"}}`)
				},
				keysOK,
			},
			wantRequests: 2,
			wantWaits:    []time.Duration{7 * time.Second},
			check:        noError,
		},
		{
			name: "5xx retried, then success",
			responses: []func(http.ResponseWriter){
				status(http.StatusInternalServerError, `{"error":{"code":500,"message":"Internal Server Error"}}`),
				status(http.StatusBadGateway, `<html>bad gateway</html>`),
				keysOK,
			},
			wantRequests: 2 + 1,
			check:        noError,
		},
		{
			name:         "5xx every time gives up after the retries",
			responses:    []func(http.ResponseWriter){status(http.StatusServiceUnavailable, `{"error":{"code":503,"message":"busy"}}`)},
			wantRequests: 1 + 3,
			check: func(t *testing.T, err error) {
				var ae *apiclient.Error
				if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("got %v, want an *apiclient.Error with status 503", err)
				}
			},
		},
		{
			name: "403 for an inference key is not retried",
			responses: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusForbidden)
				b, _ := os.ReadFile(filepath.Join("testdata", "error_403.json"))
				w.Write(b)
			}},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var ae *apiclient.Error
				if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || ae.Provider != "openrouter" || ae.Endpoint != "/keys" {
					t.Fatalf("got %#v, want a 403 *apiclient.Error for openrouter /keys", err)
				}
				for _, want := range []string{"openrouter", "/keys", "403", "Only management keys can perform this operation"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				if fault.Classify(err) != fault.ClassPermission {
					t.Errorf("class = %v, want ClassPermission", fault.Classify(err))
				}
			},
		},
		{
			name:         "truncated JSON is a DecodeError and not retried",
			responses:    []func(http.ResponseWriter){func(w http.ResponseWriter) { writeJSON(w, `{"data":[{"hash":"abc","name":"x"`) }},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("got %v, want a DecodeError", err)
				}
			},
		},
		{
			name:         "a money field that is not a number is a DecodeError",
			responses:    []func(http.ResponseWriter){func(w http.ResponseWriter) { writeJSON(w, `{"data":[{"hash":"abc","usage":"lots"}]}`) }},
			wantRequests: 1,
			check: func(t *testing.T, err error) {
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("got %v, want a DecodeError", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			var calls atomic.Int32
			f.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("workspace_id") != "" { // the workspaces' listings answer as usual
					f.mux.ServeHTTP(w, r)
					return
				}
				i := int(calls.Add(1)) - 1
				tt.responses[min(i, len(tt.responses)-1)](w)
			})
			var logs bytes.Buffer
			c, waits := f.client(t, &logs)
			_, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
			tt.check(t, err)
			if got := int(calls.Load()); got != tt.wantRequests {
				t.Errorf("/keys requests = %d, want %d", got, tt.wantRequests)
			}
			if tt.wantWaits != nil && fmt.Sprint(*waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits = %v, want %v", *waits, tt.wantWaits)
			}
			for _, text := range []string{fmt.Sprint(err), logs.String()} {
				if strings.Contains(text, testKey) || strings.Contains(text, testKey[len("sk-or-v1-"):]) {
					t.Errorf("the key leaked: %s", text)
				}
			}
		})
	}
}

func keysOK(w http.ResponseWriter) {
	b, _ := os.ReadFile(filepath.Join("testdata", "keys.json"))
	writeJSON(w, string(b))
}

func status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
