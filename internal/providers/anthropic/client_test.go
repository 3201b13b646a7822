package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/fault"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

func TestNew_KeyChecks(t *testing.T) {
	cases := []struct {
		name     string
		key      secret.String
		wantErr  string
		wantWarn bool
	}{
		{"missing key", "", "admin key is required", false},
		{"inference key", "sk-ant-api03-NOTADMIN_abcdefghijklmnop", "", true},
		{"admin key", testKey, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			_, err := New(Options{AdminKey: tc.key, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := strings.Contains(logs.String(), "does not look like an admin key"); got != tc.wantWarn {
				t.Errorf("warned = %v, want %v; logs: %s", got, tc.wantWarn, logs.String())
			}
			if tc.key.IsSet() && strings.Contains(logs.String(), tc.key.Reveal()) {
				t.Errorf("logs contain the key")
			}
		})
	}
}

func TestNew_RejectsBadBaseURL(t *testing.T) {
	if _, err := New(Options{AdminKey: testKey, BaseURL: "api.anthropic.com"}); err == nil {
		t.Fatal("New accepted a base URL without a scheme")
	}
}

func TestClient_SendsConfiguredVersion(t *testing.T) {
	f := newFake(t)
	f.version = "2026-10-21"
	c, _ := newTestClient(t, f, func(o *Options) { o.Version = "2026-10-21" })
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check with a configured version: %v", err)
	}
	if got := f.requestsTo(workspacesEndpoint)[0].Header.Get("anthropic-beta"); got != fastModeBeta {
		t.Errorf("anthropic-beta = %q, want the fast-mode beta that adds speed to usage", got)
	}
	if got := f.requestsTo(workspacesEndpoint)[0].Header.Get("anthropic-version"); got != "2026-10-21" {
		t.Errorf("anthropic-version = %q", got)
	}
}

func TestCheck_ListsOneWorkspace(t *testing.T) {
	f := newFake(t)
	c, _ := newTestClient(t, f)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	reqs := f.requestsTo(workspacesEndpoint)
	if len(reqs) != 1 || reqs[0].Query.Get("limit") != "1" {
		t.Fatalf("requests %+v, want one with limit=1", reqs)
	}
	if c.Provider() != usage.Anthropic {
		t.Errorf("Provider() = %q", c.Provider())
	}
}

// scripted answers with the given statuses in turn, then delegates to next.
func scripted(next http.HandlerFunc, calls *atomic.Int32, steps ...func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if n < len(steps) {
			steps[n](w)
			return
		}
		next(w, r)
	}
}

func status(code int, typ string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		// The message echoes the key, as careless servers do, to prove it is scrubbed.
		writeError(w, code, typ, "request failed for key "+testKey)
	}
}

func TestFetch_RetriesAndFailures(t *testing.T) {
	cases := []struct {
		name       string
		steps      []func(http.ResponseWriter)
		attempts   int32           // requests for the first usage page
		wantSleeps []time.Duration // exact waits, or nil when backoff is jittered
		sleepsN    int             // number of waits
		wantStatus int             // 0 for success
		wantClass  fault.Class
	}{
		{"429 with retry-after, then success", []func(http.ResponseWriter){status(429, "rate_limit_error", "retry-after", "3")},
			2, []time.Duration{3 * time.Second}, 1, 0, 0},
		{"529 overloaded, then success", []func(http.ResponseWriter){status(529, "overloaded_error")},
			2, nil, 1, 0, 0},
		{"500 and 503, then success", []func(http.ResponseWriter){status(500, "api_error"), status(503, "api_error")},
			3, nil, 2, 0, 0},
		{"401 not retried", []func(http.ResponseWriter){status(401, "authentication_error")},
			1, nil, 0, 401, fault.ClassAuth},
		{"403 not retried", []func(http.ResponseWriter){status(403, "permission_error")},
			1, nil, 0, 403, fault.ClassPermission},
		{"5xx until retries run out", []func(http.ResponseWriter){status(500, "api_error"), status(500, "api_error"), status(500, "api_error"), status(500, "api_error"), status(500, "api_error")},
			5, nil, 4, 500, fault.ClassServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			var calls atomic.Int32
			f.handle(usageEndpoint, scripted(f.handlers[usageEndpoint], &calls, tc.steps...))
			var logs bytes.Buffer
			c, sleeps := newTestClient(t, f, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			b, err := c.Fetch(context.Background(), fixtureWindow(t))
			if strings.Contains(logs.String(), testKey) {
				t.Errorf("logs contain the key")
			}
			if tc.sleepsN > 0 && !strings.Contains(logs.String(), "retrying") {
				t.Errorf("retries were not logged: %s", logs.String())
			}
			// On success the usage endpoint also serves page two.
			wantCalls := tc.attempts
			if tc.wantStatus == 0 {
				wantCalls++
			}
			if got := calls.Load(); got != wantCalls {
				t.Errorf("%d usage requests, want %d", got, wantCalls)
			}
			waits := sleeps.recorded()
			if len(waits) != tc.sleepsN {
				t.Errorf("slept %v, want %d waits", waits, tc.sleepsN)
			}
			if tc.wantSleeps != nil && fmt.Sprint(waits) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("slept %v, want %v (the Retry-After)", waits, tc.wantSleeps)
			}
			for _, d := range waits {
				if d <= 0 || d > 30*time.Second {
					t.Errorf("wait %v outside (0, 30s]", d)
				}
			}
			if tc.wantStatus == 0 {
				if err != nil || len(b.Usage) != 6 { // the fixture's five rows plus its priority-tier row
					t.Fatalf("Fetch after retries: err %v", err)
				}
				return
			}
			var apiErr *apiclient.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *apiclient.Error", err)
			}
			if apiErr.StatusCode != tc.wantStatus || apiErr.Provider != "anthropic" || apiErr.Endpoint != usageEndpoint {
				t.Errorf("error names %s %s %d, want anthropic %s %d", apiErr.Provider, apiErr.Endpoint, apiErr.StatusCode, usageEndpoint, tc.wantStatus)
			}
			if apiErr.RequestID != "req_011CTestFake" {
				t.Errorf("request id = %q", apiErr.RequestID)
			}
			msg := err.Error()
			for _, want := range []string{"anthropic", usageEndpoint, fmt.Sprint(tc.wantStatus)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, testKey) || strings.Contains(fmt.Sprintf("%+v", apiErr), testKey) {
				t.Errorf("error contains the key: %s", msg)
			}
			if fault.Classify(err) != tc.wantClass {
				t.Errorf("class = %v, want %v", fault.Classify(err), tc.wantClass)
			}
		})
	}
}

func TestFetch_WrongKeyIsAuthError(t *testing.T) {
	f := newFake(t)
	c, _ := newTestClient(t, f, func(o *Options) { o.AdminKey = "sk-ant-admin01-WRONGKEY_zzzzzzzzzzzzzzzz" })
	err := c.Check(context.Background())
	if fault.Classify(err) != fault.ClassAuth || strings.Contains(err.Error(), "WRONGKEY") {
		t.Fatalf("err = %v, want an auth error without the key", err)
	}
}

func TestPaging_BrokenCursors(t *testing.T) {
	bucketPage := func(cursor string) string {
		return fmt.Sprintf(`{"data":[{"starting_at":"2026-08-01T00:00:00Z","ending_at":"2026-08-02T00:00:00Z","results":[]}],"has_more":true,"next_page":%q}`, cursor)
	}
	listPage := func(cursor string) string {
		return fmt.Sprintf(`{"data":[{"type":"workspace","id":%q,"name":"w"}],"has_more":true,"first_id":%[1]q,"last_id":%[1]q}`, cursor)
	}
	endpoints := []struct {
		path string
		page func(string) string
	}{
		{usageEndpoint, bucketPage},
		{costEndpoint, bucketPage},
		{workspacesEndpoint, listPage},
		{apiKeysEndpoint, listPage},
	}
	cursors := []struct {
		name   string
		next   func(n int32) string
		reason string
	}{
		{"repeating cursor", func(int32) string { return "page_same" }, "repeated"},
		{"endless cursor", func(n int32) string { return fmt.Sprintf("page_%d", n) }, "more than"},
		{"has_more without a cursor", func(int32) string { return "" }, "without"},
	}
	for _, ep := range endpoints {
		for _, cur := range cursors {
			t.Run(ep.path+"/"+cur.name, func(t *testing.T) {
				f := newFake(t)
				var calls atomic.Int32
				f.handle(ep.path, func(w http.ResponseWriter, r *http.Request) {
					w.Write([]byte(ep.page(cur.next(calls.Add(1)))))
				})
				c, _ := newTestClient(t, f)
				_, err := c.Fetch(context.Background(), fixtureWindow(t))
				var pe *apiclient.PagingError
				if !errors.As(err, &pe) || !strings.Contains(pe.Reason, cur.reason) || pe.Endpoint != ep.path {
					t.Fatalf("err = %v, want a PagingError for %s (%s)", err, ep.path, cur.reason)
				}
				if fault.Classify(err) != fault.ClassMalformed {
					t.Errorf("class = %v, want malformed", fault.Classify(err))
				}
			})
		}
	}
}

func TestFetch_TruncatedJSONIsDecodeError(t *testing.T) {
	for _, path := range []string{usageEndpoint, costEndpoint, workspacesEndpoint, apiKeysEndpoint} {
		t.Run(path, func(t *testing.T) {
			f := newFake(t)
			f.handle(path, func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"data":[{"starting_at":"2026-08-01T00:00:00Z","results":[{"amount":"1`))
			})
			c, sleeps := newTestClient(t, f)
			_, err := c.Fetch(context.Background(), fixtureWindow(t))
			var de *apiclient.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DecodeError", err)
			}
			if len(sleeps.recorded()) != 0 || len(f.requestsTo(path)) != 1 {
				t.Errorf("a malformed body was retried")
			}
		})
	}
}

func TestFetch_BucketWithoutStartIsDecodeError(t *testing.T) {
	for _, path := range []string{usageEndpoint, costEndpoint} {
		t.Run(path, func(t *testing.T) {
			f := newFake(t)
			f.handle(path, func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"data":[{"results":[]}],"has_more":false,"next_page":null}`))
			})
			c, _ := newTestClient(t, f)
			_, err := c.Fetch(context.Background(), fixtureWindow(t))
			var de *apiclient.DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want a DecodeError naming %s", err, path)
			}
		})
	}
}

func TestCents(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		want    ledger.Money
		wantErr bool
	}{
		{"docs example, cents not dollars", `"27.3702"`, 273_702_000, false},
		{"123.45 cents is $1.2345", `"123.45"`, 1_234_500_000, false},
		{"whole cents", `"3.00"`, 30_000_000, false},
		{"fraction of a cent", `"0.0001"`, 1_000, false},
		{"JSON number", `27.3702`, 273_702_000, false},
		{"JSON number with exponent", `1.5e2`, 1_500_000_000, false},
		{"zero", `"0"`, 0, false},
		{"credit", `"-250.5"`, -2_505_000_000, false},
		{"below a nano-dollar rounds half away", `"0.00000005"`, 1, false},
		{"null", `null`, 0, true},
		{"not a number", `"12,50"`, 0, true},
		{"object", `{"value":1}`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Cents
			err := json.Unmarshal([]byte(tc.json), &c)
			var got ledger.Money
			if err == nil {
				got, err = c.Cents()
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("%s = %d nano-dollars, want %d", tc.json, got, tc.want)
			}
		})
	}
}

func TestCostResult_Currency(t *testing.T) {
	cases := []struct {
		currency string
		wantErr  bool
	}{
		{"USD", false}, {"usd", false}, {"Usd", false}, {"EUR", true}, {"", true},
	}
	for _, tc := range cases {
		t.Run(tc.currency, func(t *testing.T) {
			m, err := CostResult{Amount: "100", Currency: tc.currency}.Money()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.currency)) {
				t.Errorf("error %q does not name the currency", err)
			}
			if err == nil && m != ledger.Dollar {
				t.Errorf("100 cents = %s, want 1.00", m)
			}
		})
	}
}

func TestAPIKey_WorkspaceRef(t *testing.T) {
	listed := map[string]bool{"wrkspc_A": true}
	cases := []struct {
		name string
		json string
		want usage.SourceRef
	}{
		{"listed workspace", `{"workspace_id":"wrkspc_A","scope":{"type":"workspace","workspace_id":"wrkspc_A"}}`, "anthropic:workspace:wrkspc_A"},
		{"default: null workspace_id, real id in scope", `{"workspace_id":null,"scope":{"type":"workspace","workspace_id":"wrkspc_REAL"}}`, wsDefault},
		{"newer shape without workspace_id", `{"scope":{"type":"workspace","workspace_id":"wrkspc_A"}}`, "anthropic:workspace:wrkspc_A"},
		{"newer shape, unlisted id is the default", `{"scope":{"type":"workspace","workspace_id":"wrkspc_REAL"}}`, wsDefault},
		{"older shape without scope", `{"workspace_id":"wrkspc_A"}`, "anthropic:workspace:wrkspc_A"},
		{"older shape, null", `{"workspace_id":null}`, wsDefault},
		{"organisation-scoped key", `{"workspace_id":null,"scope":{"type":"organization"}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k APIKey
			if err := json.Unmarshal([]byte(tc.json), &k); err != nil {
				t.Fatal(err)
			}
			if got := k.WorkspaceRef(listed); got != tc.want {
				t.Errorf("WorkspaceRef = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMessagesUsage_StopsWhenCallerStops(t *testing.T) {
	f := newFake(t)
	c, _ := newTestClient(t, f)
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	for b, err := range c.MessagesUsage(context.Background(), start, fixtureNow) {
		if err != nil || b.StartingAt != start {
			t.Fatalf("first bucket %v, err %v", b.StartingAt, err)
		}
		break
	}
	if n := len(f.requestsTo(usageEndpoint)); n != 1 {
		t.Errorf("%d requests after the caller stopped on page one, want 1", n)
	}
}

func TestFetch_ContextCancelled(t *testing.T) {
	f := newFake(t)
	c, _ := newTestClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Fetch(ctx, fixtureWindow(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
