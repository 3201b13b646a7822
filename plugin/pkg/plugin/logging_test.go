package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/marginhq/margin/internal/simulator"
)

// logLine is one line a testLogger received, its key/value pairs flattened into a map.
type logLine struct {
	level string
	msg   string
	kv    map[string]string
}

// testLogger is an SDK log.Logger that records every line, with the pairs of With and
// FromContext, like the SDK's hclog logger.
type testLogger struct {
	mu    *sync.Mutex
	lines *[]logLine
	with  []any
	level log.Level
}

func newTestLogger(level log.Level) *testLogger {
	return &testLogger{mu: &sync.Mutex{}, lines: &[]logLine{}, level: level}
}

func (l *testLogger) add(level, msg string, args []any) {
	kv := map[string]string{}
	all := append(append([]any{}, l.with...), args...)
	for i := 0; i+1 < len(all); i += 2 {
		kv[fmt.Sprint(all[i])] = fmt.Sprint(all[i+1])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, logLine{level: level, msg: msg, kv: kv})
}

func (l *testLogger) Debug(msg string, args ...any) { l.add("debug", msg, args) }
func (l *testLogger) Info(msg string, args ...any)  { l.add("info", msg, args) }
func (l *testLogger) Warn(msg string, args ...any)  { l.add("warn", msg, args) }
func (l *testLogger) Error(msg string, args ...any) { l.add("error", msg, args) }
func (l *testLogger) Level() log.Level              { return l.level }

func (l *testLogger) With(args ...any) log.Logger {
	c := *l
	c.with = append(append([]any{}, l.with...), args...)
	return &c
}

func (l *testLogger) FromContext(ctx context.Context) log.Logger {
	return l.With(log.ContextualAttributesFromContext(ctx)...)
}

func (l *testLogger) find(msg string) []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, ln := range *l.lines {
		if ln.msg == msg {
			out = append(out, ln)
		}
	}
	return out
}

// TestQueryData_ProviderRetriesReachTheSDKLog rate-limits the first OpenAI cost page and the
// first Stripe invoice page (429 with a Retry-After): the query still succeeds, and each retry is
// a line in the SDK logger, carrying the datasource, the source and the request's contextual
// attributes.
func TestQueryData_ProviderRetriesReachTheSDKLog(t *testing.T) {
	s := newSim(t, simulator.Config{})
	h := s.world.Handler()
	var openaiLimited, stripeLimited atomic.Bool
	s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := strings.HasSuffix(r.URL.Path, "/organization/costs") && openaiLimited.CompareAndSwap(false, true) ||
			strings.HasSuffix(r.URL.Path, "/v1/invoices") && stripeLimited.CompareAndSwap(false, true)
		if limit {
			w.Header().Set("Retry-After", "0.01")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}`))
			return
		}
		h.ServeHTTP(w, r)
	})
	logger := newTestLogger(log.Debug)
	ds, err := newDatasource(context.Background(), s.settings(t, nil), deps{now: s.world.Now, log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ds.Dispose)

	ctx := log.WithContextualAttributes(context.Background(), []any{"request", "r-1"})
	resp := queryCtx(t, ctx, ds, days(3), `{"queryType":"customers"}`)
	if resp.Error != nil {
		t.Fatal(resp.Error)
	}
	if !openaiLimited.Load() || !stripeLimited.Load() {
		t.Fatal("the query never reached the rate-limited pages")
	}
	for _, tc := range []struct{ msg, level, key, source, endpoint string }{
		{"retrying request", "debug", "provider", "openai", "/organization/costs"},
		{"retrying stripe request", "warn", "source", "stripe", "/v1/invoices"},
	} {
		lines := logger.find(tc.msg)
		if len(lines) != 1 {
			t.Fatalf("%d %q lines, want 1 (all: %v)", len(lines), tc.msg, *logger.lines)
		}
		ln := lines[0]
		want := map[string]string{tc.key: tc.source, "datasource": "margin-test", "request": "r-1", "attempt": "1", "wait": "10ms"}
		for k, v := range want {
			if ln.kv[k] != v {
				t.Errorf("%s: %s=%q, want %q (line %+v)", tc.msg, k, ln.kv[k], v, ln)
			}
		}
		if ln.level != tc.level || !strings.HasSuffix(ln.kv["endpoint"], tc.endpoint) {
			t.Errorf("%s: level %s endpoint %q, want %s and %s", tc.msg, ln.level, ln.kv["endpoint"], tc.level, tc.endpoint)
		}
	}
}

// TestQueryData_FetchFailureIsLogged checks that a failed source is a warning in the SDK log,
// with the request's attributes and no key.
func TestQueryData_FetchFailureIsLogged(t *testing.T) {
	s := newSim(t, simulator.Config{})
	wrongKey := "sk-admin-wrong-00000000000000000000000000"
	logger := newTestLogger(log.Info)
	ds, err := newDatasource(context.Background(), s.settings(t, func(_ map[string]any, secure map[string]string) { secure["openaiAdminKey"] = wrongKey }),
		deps{now: s.world.Now, log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ds.Dispose)
	ctx := log.WithContextualAttributes(context.Background(), []any{"request", "r-2"})
	if resp := queryCtx(t, ctx, ds, days(3), `{"queryType":"margin"}`); resp.Error == nil {
		t.Fatal("want an error for the rejected key")
	}
	lines := logger.find("fetch failed")
	if len(lines) != 1 {
		t.Fatalf("%d fetch failures logged, want 1: %v", len(lines), *logger.lines)
	}
	ln := lines[0]
	if ln.level != "warn" || ln.kv["request"] != "r-2" || !strings.Contains(ln.kv["error"], "openai: the key was rejected (HTTP 401)") {
		t.Fatalf("line %+v", ln)
	}
	for _, l := range *logger.lines {
		if strings.Contains(fmt.Sprint(l), wrongKey) {
			t.Fatalf("a log line echoes the key: %+v", l)
		}
	}
}

// TestSDKHandler maps slog's levels, groups and attributes onto the SDK logger, asks the
// logger's level, and scrubs strings and errors.
func TestSDKHandler(t *testing.T) {
	const key = "sk-secret-123"
	scrub := func(s string) string { return strings.ReplaceAll(s, key, "sk-...") }
	logger := newTestLogger(log.Info)
	l := slog.New(newSDKHandler(logger, scrub)).With("provider", "openai").WithGroup("req")

	if l.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("debug enabled on an info logger")
	}
	if !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("warn disabled on an info logger")
	}
	ctx := log.WithContextualAttributes(context.Background(), []any{"dsUID", "uid-1"})
	l.ErrorContext(ctx, "failed with "+key, "err", errors.New("bad key "+key), slog.Group("page", "n", 2), "body", key)
	l.Info("hello", "n", 1)
	l.Debug("dropped")
	l.Log(context.Background(), slog.LevelWarn+1, "between warn and error")

	lines := *logger.lines
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %+v", len(lines), lines)
	}
	want := map[string]string{"provider": "openai", "dsUID": "uid-1", "req.err": "bad key sk-...", "req.page.n": "2", "req.body": "sk-..."}
	if lines[0].level != "error" || lines[0].msg != "failed with sk-..." || fmt.Sprint(lines[0].kv) != fmt.Sprint(want) {
		t.Errorf("line 0: %+v, want error %v", lines[0], want)
	}
	if lines[1].level != "info" || lines[1].kv["req.n"] != "1" || lines[1].kv["provider"] != "openai" {
		t.Errorf("line 1: %+v", lines[1])
	}
	if lines[2].level != "warn" {
		t.Errorf("line 2: %+v, want warn", lines[2])
	}
}
