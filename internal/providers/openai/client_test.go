package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// testKey is a made-up admin key; tests assert it never leaks into errors or logs.
const testKey = "sk-admin-TESTq7Vx2Lm9Pz4Rt6Yw8"

// fixtureNow pins the clock: 2026-08-10T15:30:00Z.
var fixtureNow = time.Date(2026, 8, 10, 15, 30, 0, 0, time.UTC)

// recorded is what the fake saw of one request.
type recorded struct {
	Path  string
	Query url.Values
	Auth  string
}

// fakeAPI serves responses under /v1 and records every request.
type fakeAPI struct {
	mu      sync.Mutex
	reqs    []recorded
	respond func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// setup starts a fake OpenAI admin API and a client pointed at it. respond answers every
// request that carries the right key; others get OpenAI's 401.
func setup(t *testing.T, respond func(w http.ResponseWriter, r *http.Request), opts ...func(*Options)) (*Client, *fakeAPI, *[]time.Duration) {
	t.Helper()
	f := &fakeAPI{respond: respond}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Path: strings.TrimPrefix(r.URL.Path, "/v1"), Query: r.URL.Query(), Auth: r.Header.Get("Authorization")})
		f.mu.Unlock()
		if r.Method != http.MethodGet {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			writeJSON(w, http.StatusUnauthorized, `{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
			return
		}
		f.respond(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var mu sync.Mutex
	var sleeps []time.Duration
	o := Options{
		AdminKey: secret.String(testKey),
		BaseURL:  srv.URL + "/v1",
		Now:      func() time.Time { return fixtureNow },
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return nil
		},
	}
	for _, fn := range opts {
		fn(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, f, &sleeps
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fixtureRoutes answers from testdata: path plus the page or after cursor names the file.
func fixtureRoutes(t *testing.T, routes map[string]string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/v1")
		cursor := r.URL.Query().Get("page") + r.URL.Query().Get("after")
		name, ok := routes[path+"|"+cursor]
		if !ok {
			t.Errorf("unexpected request %s (cursor %q)", path, cursor)
			writeJSON(w, http.StatusNotFound, `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`)
			return
		}
		writeJSON(w, http.StatusOK, fixture(t, name))
	}
}

// emptyRoutes answers every usage and costs call with one empty page and every list with an empty list.
func emptyRoutes(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/organization/projects") {
		writeJSON(w, http.StatusOK, `{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}`)
		return
	}
	writeJSON(w, http.StatusOK, `{"object":"page","data":[],"has_more":false,"next_page":null}`)
}

func TestNew_RequiresAdminKey(t *testing.T) {
	_, err := New(Options{})
	if err == nil || !strings.Contains(err.Error(), "admin key") {
		t.Fatalf("New without key: err = %v, want an error asking for an admin key", err)
	}
}

func TestNew_WarnsAboutNonAdminKeyWithoutPrintingIt(t *testing.T) {
	tests := []struct {
		kind     string
		key      string
		wantWarn bool
	}{
		{kind: "project key", key: "sk-proj-Zq81Lm2Nx7Pc5Vb3", wantWarn: true},
		{kind: "service account key", key: "sk-svcacct-Hh3Kk9Ll0Mm1", wantWarn: true},
		{kind: "admin key", key: testKey, wantWarn: false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		if _, err := New(Options{AdminKey: secret.String(tt.key), Logger: logger}); err != nil {
			t.Fatalf("New: %v", err)
		}
		out := buf.String()
		if got := strings.Contains(out, "level=WARN"); got != tt.wantWarn {
			t.Errorf("%s: warned = %v, want %v (log %q)", tt.kind, got, tt.wantWarn, out)
		}
		if strings.Contains(out, tt.key) {
			t.Errorf("%s: log output contains the key", tt.kind)
		}
	}
}

func TestClient_ProviderIsOpenAI(t *testing.T) {
	c, _, _ := setup(t, emptyRoutes)
	if got := c.Provider(); got != usage.OpenAI {
		t.Fatalf("Provider() = %q, want %q", got, usage.OpenAI)
	}
}

func TestCheck_ListsOneProjectWithBearerKey(t *testing.T) {
	c, f, _ := setup(t, emptyRoutes)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("Check made %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/organization/projects" || r.Query.Get("limit") != "1" {
		t.Errorf("Check requested %s?%s, want /organization/projects?limit=1", r.Path, r.Query.Encode())
	}
	if r.Auth != "Bearer "+testKey {
		t.Errorf("Authorization header = %q, want the bearer admin key", r.Auth)
	}
}

// statusStep is one scripted response.
type statusStep struct {
	status     int
	retryAfter string
	body       string
}

func scripted(steps []statusStep) func(http.ResponseWriter, *http.Request) {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		s := steps[min(n, len(steps)-1)]
		n++
		mu.Unlock()
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		writeJSON(w, s.status, s.body)
	}
}

const (
	okList    = `{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}`
	errorBody = `{"error":{"message":"Incorrect API key provided: ` + testKey + `.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	busyBody  = `{"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}`
	rateBody  = `{"error":{"message":"Rate limit reached.","type":"rate_limit_exceeded","param":null,"code":null}}`
)

func TestCheck_RetriesAndErrors(t *testing.T) {
	tests := []struct {
		name         string
		steps        []statusStep
		wantRequests int
		wantStatus   int // 0: success
		checkSleeps  func(t *testing.T, sleeps []time.Duration)
	}{
		{
			name:         "429 with Retry-After then success waits as asked",
			steps:        []statusStep{{429, "7", rateBody}, {200, "", okList}},
			wantRequests: 2,
			checkSleeps: func(t *testing.T, s []time.Duration) {
				if !slices.Equal(s, []time.Duration{7 * time.Second}) {
					t.Errorf("slept %v, want [7s] from Retry-After", s)
				}
			},
		},
		{
			name:         "5xx twice then success",
			steps:        []statusStep{{502, "", busyBody}, {503, "", busyBody}, {200, "", okList}},
			wantRequests: 3,
			checkSleeps: func(t *testing.T, s []time.Duration) {
				if len(s) != 2 || s[0] <= 0 || s[1] <= 0 {
					t.Errorf("slept %v, want two positive backoffs", s)
				}
			},
		},
		{name: "5xx exhausted", steps: []statusStep{{503, "", busyBody}}, wantRequests: 3, wantStatus: 503},
		{name: "401 not retried", steps: []statusStep{{401, "", errorBody}, {200, "", okList}}, wantRequests: 1, wantStatus: 401},
		{name: "403 not retried", steps: []statusStep{{403, "", errorBody}, {200, "", okList}}, wantRequests: 1, wantStatus: 403},
		{name: "400 not retried", steps: []statusStep{{400, "", errorBody}, {200, "", okList}}, wantRequests: 1, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f, sleeps := setup(t, scripted(tt.steps), func(o *Options) { o.MaxRetries = 2 })
			err := c.Check(context.Background())
			if got := len(f.requests()); got != tt.wantRequests {
				t.Errorf("made %d requests, want %d", got, tt.wantRequests)
			}
			if tt.checkSleeps != nil {
				tt.checkSleeps(t, *sleeps)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var apiErr *apiclient.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v (%T), want *apiclient.Error", err, err)
			}
			if apiErr.StatusCode != tt.wantStatus {
				t.Errorf("StatusCode = %d, want %d", apiErr.StatusCode, tt.wantStatus)
			}
			msg := err.Error()
			for _, want := range []string{"openai", "/organization/projects", fmt.Sprint(tt.wantStatus)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			if strings.Contains(msg, testKey) {
				t.Errorf("error text contains the admin key: %q", msg)
			}
		})
	}
}

func TestClient_RejectedKeyIsTypedAndMasked(t *testing.T) {
	c, f, _ := setup(t, emptyRoutes, func(o *Options) { o.AdminKey = "sk-admin-WRONGkey0000000000" })
	_, err := c.Fetch(context.Background(), usage.Window{From: usage.DayOf(fixtureNow) - 1, To: usage.DayOf(fixtureNow)})
	if fault.Classify(err) != fault.ClassAuth {
		t.Fatalf("err = %v, want an auth failure", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("made %d requests after a 401, want 1", n)
	}
	if strings.Contains(err.Error(), "WRONGkey") {
		t.Errorf("error text contains the key: %q", err)
	}
}

func TestFetch_CanceledContextStops(t *testing.T) {
	c, _, _ := setup(t, emptyRoutes)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Fetch(ctx, usage.Window{From: usage.DayOf(fixtureNow) - 1, To: usage.DayOf(fixtureNow)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
