package openai

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

const (
	acmeProject  = usage.SourceRef("openai:project:proj_8qZk2LxA0mN3")
	acmeKey      = usage.SourceRef("openai:api_key:key_Vd7Rr1pQeT9sW0aB")
	stagingKey   = usage.SourceRef("openai:api_key:key_Zz81Yt5Rm0Pc")
	pilotProject = usage.SourceRef("openai:project:proj_Lm4Xc9Tb2Wq1")
	pilotKey     = usage.SourceRef("openai:api_key:key_Qb2Hs8Np4Kd6")
)

var fixtureRoutesMap = map[string]string{
	"/organization/usage/completions|":                                       "completions_page1.json",
	"/organization/usage/completions|page_AAAAAGiXgAAAAAAAaJYuAA==":          "completions_page2.json",
	"/organization/usage/embeddings|":                                        "embeddings.json",
	"/organization/usage/images|":                                            "images.json",
	"/organization/usage/audio_speeches|":                                    "audio_speeches.json",
	"/organization/usage/audio_transcriptions|":                              "audio_transcriptions.json",
	"/organization/costs|":                                                   "costs_page1.json",
	"/organization/costs|page_Y29zdHMtMjAyNi0wOC0wOQ==":                      "costs_page2.json",
	"/organization/projects|":                                                "projects_page1.json",
	"/organization/projects|proj_8qZk2LxA0mN3":                               "projects_page2.json",
	"/organization/projects/proj_8qZk2LxA0mN3/api_keys|":                     "keys_acme_page1.json",
	"/organization/projects/proj_8qZk2LxA0mN3/api_keys|key_Vd7Rr1pQeT9sW0aB": "keys_acme_page2.json",
	"/organization/projects/proj_Lm4Xc9Tb2Wq1/api_keys|":                     "keys_pilot.json",
}

func day(s string) usage.Day {
	d, err := usage.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestFetch_FixtureWindow(t *testing.T) {
	c, f, _ := setup(t, fixtureRoutes(t, fixtureRoutesMap))
	w := usage.Window{From: day("2026-08-08"), To: day("2026-08-11")}
	b, err := c.Fetch(context.Background(), w)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if b.Provider != usage.OpenAI || b.Window != w || len(b.Warnings) != 0 {
		t.Errorf("batch header = %s %v %q, want openai, %v, no warnings", b.Provider, b.Window, b.Warnings, w)
	}

	// Sorted by day, project, key, model, batch.
	wantUsage := []usage.UsageRecord{
		// Null project and key: the default project, no key.
		{Day: day("2026-08-08"), Scope: usage.InternRef(defaultProject), Model: usage.Intern("gpt-4o-2024-08-06"),
			Tokens: usage.Tokens{Input: 800, CachedInput: 100, Output: 50}, Requests: 2},
		// Service tiers kept apart (flex bills at its own rate); input excludes cached and
		// cache-write tokens.
		{Day: day("2026-08-08"), Key: usage.InternRef(acmeKey), Scope: usage.InternRef(acmeProject), Model: usage.Intern("gpt-4.1-mini-2025-04-14"),
			Tokens: usage.Tokens{Input: 184220 - 61440 - 2048, CachedInput: 61440, CacheWrite5m: 2048, Output: 20517}, Requests: 312},
		{Day: day("2026-08-08"), Key: usage.InternRef(acmeKey), Scope: usage.InternRef(acmeProject), Model: usage.Intern("gpt-4.1-mini-2025-04-14"), Tier: usage.TierFlex,
			Tokens: usage.Tokens{Input: 1000, Output: 200}, Requests: 3},
		{Day: day("2026-08-08"), Key: usage.InternRef(acmeKey), Scope: usage.InternRef(acmeProject), Model: usage.Intern("gpt-4.1-mini-2025-04-14"), Batch: true,
			Tokens: usage.Tokens{Input: 50000, Output: 5000}, Requests: 10},
		{Day: day("2026-08-09"), Key: usage.InternRef(acmeKey), Scope: usage.InternRef(acmeProject), Model: usage.Intern("gpt-image-1"), Requests: 4},
		{Day: day("2026-08-09"), Scope: usage.InternRef(pilotProject), Model: usage.Intern("whisper-1"), Requests: 5},
		{Day: day("2026-08-09"), Key: usage.InternRef(pilotKey), Scope: usage.InternRef(pilotProject), Model: usage.Intern("text-embedding-3-small"),
			Tokens: usage.Tokens{Input: 12000}, Requests: 40},
		// Older era: no cache-write field, batch as a string.
		{Day: day("2026-08-10"), Key: usage.InternRef(pilotKey), Scope: usage.InternRef(pilotProject), Model: usage.Intern("gpt-4o-mini-2024-07-18"), Batch: true,
			Tokens: usage.Tokens{Input: 2000, CachedInput: 1000, Output: 400}, Requests: 7},
	}
	for i := range wantUsage {
		wantUsage[i].Provider = usage.OpenAI.ID()
	}
	if !slices.Equal(b.Usage, wantUsage) {
		t.Errorf("usage:\n got %+v\nwant %+v", b.Usage, wantUsage)
	}

	// Sorted by day, source, line item.
	wantCosts := []usage.CostRecord{
		{Day: day("2026-08-08"), Source: usage.InternRef(acmeKey), Item: usage.LineItemOf(usage.Intern("gpt-4.1-mini-2025-04-14"), usage.Intern("gpt-4.1-mini-2025-04-14, input"), usage.Intern("tokens")), TokenType: usage.TokenInput, Quantity: 120732, Amount: 173_915_000},
		{Day: day("2026-08-08"), Source: usage.InternRef(acmeKey), Item: usage.LineItemOf(usage.Intern("gpt-4.1-mini-2025-04-14"), usage.Intern("gpt-4.1-mini-2025-04-14, output"), usage.Intern("tokens")), TokenType: usage.TokenOutput, Quantity: 20517 + 200, Amount: 1_842_300_000 + 328_270_000},
		{Day: day("2026-08-08"), Source: usage.InternRef(defaultProject), Item: usage.LineItemOf(usage.Intern("gpt-4o-2024-08-06"), usage.Intern("gpt-4o-2024-08-06, cached input"), usage.Intern("tokens")), TokenType: usage.TokenCachedInput, Quantity: 100, Amount: 2},
		{Day: day("2026-08-08"), Source: usage.InternRef(acmeProject), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("file search tool calls"), usage.NoSym), Amount: 15_000},
		{Day: day("2026-08-09"), Source: usage.InternRef(pilotKey), Item: usage.LineItemOf(usage.Intern("gpt-4o-mini-2024-07-18"), usage.Intern("gpt-4o-mini-2024-07-18, input"), usage.Intern("tokens")), TokenType: usage.TokenInput, Quantity: 2000, Amount: 12_500_000_000},
		// A kind Margin does not count in usage: model kept, no token type.
		{Day: day("2026-08-09"), Source: usage.InternRef(pilotProject), Item: usage.LineItemOf(usage.Intern("whisper-1"), usage.Intern("whisper-1, audio transcription"), usage.NoSym), Amount: 3_000_000_000},
	}
	for i := range wantCosts {
		wantCosts[i].Provider = usage.OpenAI.ID()
	}
	if !slices.Equal(b.Costs, wantCosts) {
		t.Errorf("costs:\n got %+v\nwant %+v", b.Costs, wantCosts)
	}
	var total ledger.Money
	for _, cr := range b.Costs {
		total += cr.Amount
	}
	if want, _ := ledger.ParseDollars("17.844500002"); total != want {
		t.Errorf("billed total = %s, want %s exactly", total, want)
	}

	wantSources := []usage.SourceInfo{
		{Ref: acmeProject, Name: "acme-corp (cus_AcmE123)"},
		{Ref: acmeKey, Name: "acme-corp-prod", Scope: acmeProject},
		{Ref: stagingKey, Name: "acme-staging", Scope: acmeProject},
		{Ref: pilotProject, Name: ""},
		{Ref: pilotKey, Name: "pilot-key", Scope: pilotProject},
	}
	if !slices.Equal(b.Sources, wantSources) {
		t.Errorf("sources:\n got %+v\nwant %+v", b.Sources, wantSources)
	}

	// The requests as sent: auth, time parameters, limits, group_by arrays and cursors. The
	// lists come first: the key count sizes the usage and cost pages (a month a page here).
	// Completions, the largest usage, are read last (fetchUsage sizes its table by them).
	start, usageEnd, costEnd := "1786147200", "1786375800", "1786320000"
	usageGroups := []string{"project_id", "api_key_id", "model"}
	wantReqs := []struct {
		path   string
		params map[string][]string
	}{
		{"/organization/projects", map[string][]string{"limit": {"100"}, "include_archived": {"true"}, "after": nil}},
		{"/organization/projects", map[string][]string{"include_archived": {"true"}, "after": {"proj_8qZk2LxA0mN3"}}},
		{"/organization/projects/proj_8qZk2LxA0mN3/api_keys", map[string][]string{"limit": {"100"}, "owner_project_access": {"any"}, "after": nil}},
		{"/organization/projects/proj_8qZk2LxA0mN3/api_keys", map[string][]string{"owner_project_access": {"any"}, "after": {"key_Vd7Rr1pQeT9sW0aB"}}},
		{"/organization/projects/proj_Lm4Xc9Tb2Wq1/api_keys", map[string][]string{"limit": {"100"}, "owner_project_access": {"any"}}},
		{"/organization/usage/embeddings", map[string][]string{"start_time": {start}, "end_time": {usageEnd}, "limit": {"31"}, "group_by": usageGroups}},
		{"/organization/usage/images", map[string][]string{"end_time": {usageEnd}, "group_by": usageGroups}},
		{"/organization/usage/audio_speeches", map[string][]string{"end_time": {usageEnd}, "group_by": usageGroups}},
		{"/organization/usage/audio_transcriptions", map[string][]string{"end_time": {usageEnd}, "group_by": usageGroups}},
		{"/organization/usage/completions", map[string][]string{"start_time": {start}, "end_time": {usageEnd}, "bucket_width": {"1d"}, "limit": {"31"}, "group_by": {"project_id", "api_key_id", "model", "batch", "service_tier"}, "page": nil}},
		{"/organization/usage/completions", map[string][]string{"start_time": {start}, "end_time": {usageEnd}, "group_by": {"project_id", "api_key_id", "model", "batch", "service_tier"}, "page": {"page_AAAAAGiXgAAAAAAAaJYuAA=="}}},
		{"/organization/costs", map[string][]string{"start_time": {start}, "end_time": {costEnd}, "bucket_width": {"1d"}, "limit": {"180"}, "group_by": {"project_id", "api_key_id", "line_item"}, "page": nil}},
		{"/organization/costs", map[string][]string{"end_time": {costEnd}, "page": {"page_Y29zdHMtMjAyNi0wOC0wOQ=="}}},
	}
	reqs := byStream(f.requests())
	if len(reqs) != len(wantReqs) {
		t.Fatalf("made %d requests, want %d: %+v", len(reqs), len(wantReqs), reqs)
	}
	for i, want := range wantReqs {
		got := reqs[i]
		if got.Path != want.path {
			t.Errorf("request %d: path %s, want %s", i, got.Path, want.path)
		}
		if got.Auth != "Bearer "+testKey {
			t.Errorf("request %d: Authorization = %q, want bearer admin key", i, got.Auth)
		}
		for k, v := range want.params {
			if !slices.Equal(got.Query[k], v) {
				t.Errorf("request %d (%s): %s = %q, want %q", i, want.path, k, got.Query[k], v)
			}
		}
	}
}

// byStream orders requests as Fetch's streams run them: the listings, then usage, then costs;
// usage and costs are read concurrently, so only the order within each is fixed.
func byStream(reqs []recorded) []recorded {
	stream := func(r recorded) int {
		switch p := r.Path; {
		case strings.HasPrefix(p, "/organization/usage/"):
			return 1
		case p == "/organization/costs":
			return 2
		}
		return 0
	}
	out := slices.Clone(reqs)
	slices.SortStableFunc(out, func(a, b recorded) int { return stream(a) - stream(b) })
	return out
}

func TestFetch_TimeParameters(t *testing.T) {
	now := fixtureNow
	today := usage.DayOf(now)
	unix := func(d usage.Day) string { return fmt.Sprint(d.Time().Unix()) }
	nowUnix := fmt.Sprint(now.Unix())
	tests := []struct {
		name                    string
		now                     time.Time
		w                       usage.Window
		wantWindow              usage.Window
		wantUsageStart, wantEnd string // "" when no usage call is expected
		wantCostEnd             string // "" when no costs call is expected
		wantWarnings            int
	}{
		{name: "past window ends at its end", now: now, w: usage.Window{From: today - 5, To: today - 2},
			wantWindow: usage.Window{From: today - 5, To: today - 2}, wantUsageStart: unix(today - 5), wantEnd: unix(today - 2), wantCostEnd: unix(today - 2)},
		{name: "window reaching today stops usage at now and costs at midnight", now: now, w: usage.Window{From: today - 2, To: today + 1},
			wantWindow: usage.Window{From: today - 2, To: today + 1}, wantUsageStart: unix(today - 2), wantEnd: nowUnix, wantCostEnd: unix(today)},
		{name: "today only has no complete day to cost", now: now, w: usage.Window{From: today, To: today + 1},
			wantWindow: usage.Window{From: today, To: today + 1}, wantUsageStart: unix(today), wantEnd: nowUnix},
		// Past one page of daily buckets: no retention is documented, so all of it is asked for.
		// The fake has no data at all, which the first-day notice says (the third warning).
		{name: "a 90-day window is read whole", now: now, w: usage.Window{From: today - 90, To: today},
			wantWindow: usage.Window{From: today - 90, To: today}, wantUsageStart: unix(today - 90), wantEnd: unix(today), wantCostEnd: unix(today), wantWarnings: 1},
		{name: "over-long window is clamped to 365 days and now", now: now, w: usage.Window{From: today - 400, To: today + 10},
			wantWindow: usage.Window{From: today - 365, To: today + 1}, wantUsageStart: unix(today - 365), wantEnd: nowUnix, wantCostEnd: unix(today), wantWarnings: 3},
		{name: "future window reads nothing", now: now, w: usage.Window{From: today + 3, To: today + 5},
			wantWindow: usage.Window{From: today + 3, To: today + 3}, wantWarnings: 1},
		{name: "at midnight the new day has no usage yet", now: today.Time(), w: usage.Window{From: today, To: today + 1},
			wantWindow: usage.Window{From: today, To: today + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f, _ := setup(t, emptyRoutes, func(o *Options) { o.Now = func() time.Time { return tt.now } })
			b, err := c.Fetch(context.Background(), tt.w)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if b.Window != tt.wantWindow {
				t.Errorf("Window = %v, want %v", b.Window, tt.wantWindow)
			}
			if len(b.Warnings) != tt.wantWarnings {
				t.Errorf("Warnings = %q, want %d", b.Warnings, tt.wantWarnings)
			}
			var usageCalls, costCalls int
			for _, r := range f.requests() {
				switch {
				case strings.HasPrefix(r.Path, "/organization/usage/"):
					usageCalls++
					if got := r.Query.Get("start_time"); got != tt.wantUsageStart {
						t.Errorf("%s start_time = %s, want %s", r.Path, got, tt.wantUsageStart)
					}
					if got := r.Query.Get("end_time"); got != tt.wantEnd {
						t.Errorf("%s end_time = %s, want %s", r.Path, got, tt.wantEnd)
					}
					if end, _ := strconv.ParseInt(r.Query.Get("end_time"), 10, 64); end > tt.now.Unix() {
						t.Errorf("%s end_time %d is after now", r.Path, end)
					}
				case r.Path == "/organization/costs":
					costCalls++
					if got := r.Query.Get("end_time"); got != tt.wantCostEnd {
						t.Errorf("costs end_time = %s, want %s", got, tt.wantCostEnd)
					}
				}
			}
			if want := len(usageEndpoints); tt.wantUsageStart != "" && usageCalls != want {
				t.Errorf("made %d usage calls, want %d", usageCalls, want)
			}
			if tt.wantUsageStart == "" && usageCalls != 0 {
				t.Errorf("made %d usage calls, want none", usageCalls)
			}
			if wantCost := tt.wantCostEnd != ""; (costCalls == 1) != wantCost || costCalls > 1 {
				t.Errorf("made %d costs calls, want %v", costCalls, wantCost)
			}
		})
	}
}

func TestFetch_RetriesRateLimitMidFetch(t *testing.T) {
	var limited atomic.Bool
	fixtures := fixtureRoutes(t, fixtureRoutesMap)
	c, f, sleeps := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/organization/costs" && limited.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "3")
			writeJSON(w, http.StatusTooManyRequests, rateBody)
			return
		}
		fixtures(w, r)
	})
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-08"), To: day("2026-08-11")})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !slices.Equal(*sleeps, []time.Duration{3 * time.Second}) {
		t.Errorf("slept %v, want [3s]", *sleeps)
	}
	if len(b.Costs) != 6 || len(f.requests()) != len(fixtureRoutesMap)+1 {
		t.Errorf("got %d costs from %d requests, want 6 from %d", len(b.Costs), len(f.requests()), len(fixtureRoutesMap)+1)
	}
}

func TestFetch_RejectsNonUSDCost(t *testing.T) {
	c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/organization/costs" {
			writeJSON(w, http.StatusOK, `{"object":"page","data":[{"object":"bucket","start_time":1786233600,"end_time":1786320000,"results":[`+
				`{"object":"organization.costs.result","amount":{"value":1.5,"currency":"eur"},"line_item":"gpt-4o, input","project_id":"proj_x","api_key_id":null}]}],"has_more":false,"next_page":null}`)
			return
		}
		emptyRoutes(w, r)
	})
	_, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-09"), To: day("2026-08-10")})
	if err == nil || !strings.Contains(err.Error(), `"eur"`) {
		t.Fatalf("err = %v, want an error naming currency \"eur\"", err)
	}
}

func TestFetch_TruncatedJSONIsDecodeError(t *testing.T) {
	c, f, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/organization/projects") {
			writeJSON(w, http.StatusOK, `{"object":"list","data":[],"has_more":false}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"object":"page","data":[{"object":"bucket","start_time":17863`)
	})
	_, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-09"), To: day("2026-08-10")})
	var de *apiclient.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want a *apiclient.DecodeError", err, err)
	}
	// Usage and costs stream side by side, both truncated here: whichever fails first is named.
	// The first usage endpoint read is embeddings (completions come last).
	if !strings.Contains(err.Error(), "/organization/usage/embeddings") && !strings.Contains(err.Error(), "/organization/costs") {
		t.Errorf("error %q does not name the endpoint", err)
	}
	seen := map[string]bool{}
	for _, r := range f.requests() {
		if seen[r.Path] {
			t.Errorf("%s requested twice: malformed bodies are not retried", r.Path)
		}
		seen[r.Path] = true
	}
}

// pagingFake answers every request with one more page: the same cursor each time, or a new one.
func pagingFake(repeat bool) func(http.ResponseWriter, *http.Request) {
	var calls atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		cursor := "page_same"
		if !repeat {
			cursor = fmt.Sprintf("page_%d", n)
		}
		if strings.HasPrefix(r.URL.Path, "/v1/organization/projects") {
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"object":"list","data":[{"id":"proj_%d","name":"p"}],"first_id":"x","last_id":%q,"has_more":true}`, n, cursor))
			return
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"object":"page","data":[{"object":"bucket","start_time":1786233600,"end_time":1786320000,"results":[]}],"has_more":true,"next_page":%q}`, cursor))
	}
}

func TestPaging_NeverEndingIsPagingError(t *testing.T) {
	start, end := day("2026-08-09").Time(), day("2026-08-10").Time()
	drain := map[string]func(c *Client) error{
		"completions usage": func(c *Client) error {
			for _, err := range c.CompletionsUsage(context.Background(), start, end) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"costs": func(c *Client) error {
			for _, err := range c.Costs(context.Background(), start, end) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"projects": func(c *Client) error {
			for _, err := range c.ListProjects(context.Background()) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"api keys": func(c *Client) error {
			for _, err := range c.ListProjectAPIKeys(context.Background(), "proj_x") {
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	for name, run := range drain {
		for _, repeat := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s repeat=%v", name, repeat), func(t *testing.T) {
				c, f, _ := setup(t, pagingFake(repeat))
				err := run(c)
				var pe *apiclient.PagingError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *apiclient.PagingError", err)
				}
				n := len(f.requests())
				if repeat && n != 2 {
					t.Errorf("repeating cursor: made %d requests, want 2", n)
				}
				if !repeat && n != maxPages {
					t.Errorf("endless cursors: made %d requests, want %d", n, maxPages)
				}
			})
		}
	}
}

func TestPaging_HasMoreWithoutCursorIsPagingError(t *testing.T) {
	c, _, _ := setup(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"object":"page","data":[],"has_more":true,"next_page":null}`)
	})
	for _, err := range c.Costs(context.Background(), day("2026-08-09").Time(), day("2026-08-10").Time()) {
		var pe *apiclient.PagingError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *apiclient.PagingError", err)
		}
		return
	}
	t.Fatal("iteration ended without an error")
}

func TestPaging_StopsWhenCallerBreaks(t *testing.T) {
	c, f, _ := setup(t, pagingFake(false))
	for _, err := range c.ListProjects(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("made %d requests after the caller stopped on the first item, want 1", n)
	}
}

func TestUsageResult_Tokens(t *testing.T) {
	tests := []struct {
		name string
		ep   UsageEndpoint
		r    UsageResult
		want usage.Tokens
	}{
		{"2026 completions row", Completions,
			UsageResult{InputTokens: 184220, InputCachedTokens: 61440, InputCacheWriteTokens: 2048, OutputTokens: 20517},
			usage.Tokens{Input: 120732, CachedInput: 61440, CacheWrite5m: 2048, Output: 20517}},
		{"older completions row without cache writes", Completions,
			UsageResult{InputTokens: 3000, InputCachedTokens: 1000, OutputTokens: 400},
			usage.Tokens{Input: 2000, CachedInput: 1000, Output: 400}},
		{"inconsistent row never goes negative", Completions,
			UsageResult{InputTokens: 10, InputCachedTokens: 20, OutputTokens: 1},
			usage.Tokens{Input: 0, CachedInput: 20, Output: 1}},
		{"embeddings are input only", Embeddings, UsageResult{InputTokens: 12000, OutputTokens: 5}, usage.Tokens{Input: 12000}},
		{"images carry no tokens", Images, UsageResult{Images: 4, InputTokens: 99}, usage.Tokens{}},
		{"transcriptions carry no tokens", AudioTranscriptions, UsageResult{Seconds: 600}, usage.Tokens{}},
	}
	for _, tt := range tests {
		if got := tt.r.tokens(tt.ep); got != tt.want {
			t.Errorf("%s: tokens = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestLineItemModel(t *testing.T) {
	tests := map[string]string{
		"gpt-4.1-mini-2025-04-14, input":       "gpt-4.1-mini-2025-04-14",
		"gpt-realtime-2025-08-28, audio input": "gpt-realtime-2025-08-28",
		"file search tool calls":               "",
		"ft-gpt-4o,training":                   "ft-gpt-4o", // a model with a kind Margin does not know
		"":                                     "",
	}
	for in, want := range tests {
		if got := parseLineItem(in).Model; got != want {
			t.Errorf("parseLineItem(%q).Model = %q, want %q", in, got, want)
		}
	}
}

// A malformed result deep inside a large usage page fails the fetch with a DecodeError naming the
// provider, the endpoint and the result's place in the page; nothing of the page is kept.
func TestFetch_MalformedResultDeepInLargePageFailsClearly(t *testing.T) {
	const rows = 50_000
	c, f, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/organization/projects") {
			writeJSON(w, http.StatusOK, `{"object":"list","data":[],"has_more":false}`)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/completions") {
			writeJSON(w, http.StatusOK, `{"object": "page", "data": [], "has_more": false, "next_page": null}`)
			return
		}
		var b strings.Builder
		b.WriteString(`{"object": "page", "data": [{"object": "bucket", "start_time": 1786233600, "end_time": 1786320000, "results": [`)
		for i := range rows {
			if i > 0 {
				b.WriteString(",\n")
			}
			tokens := fmt.Sprint(i)
			if i == rows-7 {
				tokens = `"12k"`
			}
			fmt.Fprintf(&b, `{"object": "organization.usage.completions.result", "input_tokens": %s, "output_tokens": 3, "num_model_requests": 1, "project_id": "proj_%d", "api_key_id": "key_%d", "model": "gpt-4.1-mini", "batch": false}`, tokens, i%50, i%500)
		}
		b.WriteString(`]}], "has_more": false, "next_page": null}`)
		writeJSON(w, http.StatusOK, b.String())
	})
	batch, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-09"), To: day("2026-08-10")})
	var de *apiclient.DecodeError
	if !errors.As(err, &de) || batch != nil {
		t.Fatalf("err = %v (%T), batch %v: want a *apiclient.DecodeError and no batch", err, err, batch)
	}
	for _, want := range []string{"openai: GET /organization/usage/completions", fmt.Sprintf("/data/0/results/%d/input_tokens", rows-7), `"12k"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	usagePages := 0
	for _, r := range f.requests() {
		if r.Path == "/organization/usage/completions" {
			usagePages++
		}
	}
	if usagePages != 1 {
		t.Errorf("made %d usage requests, want one page of completions (malformed bodies are not retried)", usagePages)
	}
}

// permute applies a sort order in place, as the sorted copy it replaces would.
func TestPermute_MatchesACopyInOrder(t *testing.T) {
	for n := range 40 {
		s := make([]int, n)
		for i := range s {
			s[i] = (i*7919 + 13) % 101
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return s[a] - s[b] })
		want := make([]int, n)
		for i, j := range order {
			want[i] = s[j]
		}
		permute(s, order)
		if !slices.Equal(s, want) {
			t.Fatalf("n=%d: got %v, want %v", n, s, want)
		}
	}
}

// Page sizes follow the organisation: a month a page for a small one, fewer days as keys grow,
// never less than one daily bucket.
func TestBucketsPerPage_ShrinksWithTheKeyCount(t *testing.T) {
	sources := func(projects, keys int) []usage.SourceInfo {
		var out []usage.SourceInfo
		for p := range projects {
			scope := usage.Ref(usage.OpenAI, usage.KindProject, fmt.Sprint("proj_", p))
			out = append(out, usage.SourceInfo{Ref: scope})
			for k := range keys / projects {
				out = append(out, usage.SourceInfo{Ref: usage.Ref(usage.OpenAI, usage.KindAPIKey, fmt.Sprint("key_", p, "_", k)), Scope: scope})
			}
		}
		return out
	}
	for _, c := range []struct{ projects, keys, want int }{{1, 2, 1500}, {2, 96, 31}, {10, 1000, 3}, {100, 10000, 1}, {3, 0, 1000}} {
		got := bucketsPerPage(sources(c.projects, c.keys))
		if got != c.want {
			t.Errorf("%d projects, %d keys: %d buckets a page, want %d", c.projects, c.keys, got, c.want)
		}
		if q := timeQuery(time.Unix(0, 0), time.Unix(86400, 0), min(got, usageBucketLimit)); q.Get("limit") == "0" {
			t.Errorf("limit 0")
		}
	}
}

// A line billed twice in a day for one key (or one project) is one record, the sum of both, and
// lines that differ by key, line item or day stay apart: records are read without an index and
// summed after the sort.
func TestFetch_CostsRepeatedInADayAreSummed(t *testing.T) {
	row := func(key, line, value string, qty string) string {
		return `{"object":"organization.costs.result","amount":{"value":` + value + `,"currency":"usd"},"line_item":"` + line +
			`","project_id":"proj_x","api_key_id":` + key + `,"quantity":` + qty + `,"quantity_unit":"tokens"}`
	}
	bucket := func(start int64, rows ...string) string {
		return fmt.Sprintf(`{"object":"bucket","start_time":%d,"end_time":%d,"results":[%s]}`, start, start+86400, strings.Join(rows, ","))
	}
	page := `{"object":"page","data":[` +
		bucket(1786147200,
			row(`"key_b"`, "gpt-4o, input", "1.5", "1000"), row(`"key_a"`, "gpt-4o, input", "0.25", "100"),
			row(`"key_b"`, "gpt-4o, output", "2", "50"), row(`"key_b"`, "gpt-4o, input", "0.5", "null"),
			row(`null`, "gpt-4o, input", "3", "7"), row(`null`, "gpt-4o, input", "4", "8")) + `,` +
		bucket(1786233600, row(`"key_b"`, "gpt-4o, input", "10", "1")) +
		`],"has_more":false,"next_page":null}`
	c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/organization/costs" {
			writeJSON(w, http.StatusOK, page)
			return
		}
		emptyRoutes(w, r)
	})
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-08"), To: day("2026-08-10")})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		day          string
		source, line string
		amount       ledger.Money
		qty          int64
		unitIsTokens bool
	}
	var recs []got
	for _, r := range b.Costs {
		recs = append(recs, got{r.Day.String(), string(r.Source.Ref()), r.Description().String(), r.Amount, r.Quantity, r.QuantityUnit() == usage.UnitTokens})
	}
	key := func(id string) string { return string(usage.Ref(usage.OpenAI, usage.KindAPIKey, id)) }
	proj := string(usage.Ref(usage.OpenAI, usage.KindProject, "proj_x"))
	want := []got{
		{"2026-08-08", key("key_a"), "gpt-4o, input", 250_000_000, 100, true},
		{"2026-08-08", key("key_b"), "gpt-4o, input", 2 * ledger.Dollar, 1000, true},
		{"2026-08-08", key("key_b"), "gpt-4o, output", 2 * ledger.Dollar, 50, true},
		{"2026-08-08", proj, "gpt-4o, input", 7 * ledger.Dollar, 15, true},
		{"2026-08-09", key("key_b"), "gpt-4o, input", 10 * ledger.Dollar, 1, true},
	}
	slices.SortFunc(recs, func(x, y got) int {
		return cmp.Or(cmp.Compare(x.day, y.day), cmp.Compare(x.source, y.source), cmp.Compare(x.line, y.line))
	})
	slices.SortFunc(want, func(x, y got) int {
		return cmp.Or(cmp.Compare(x.day, y.day), cmp.Compare(x.source, y.source), cmp.Compare(x.line, y.line))
	})
	if !slices.Equal(recs, want) {
		t.Fatalf("records\n%+v\nwant\n%+v", recs, want)
	}
}

// Usage rows that are one record (tiers that price alike, the same model on two endpoints, on one
// day) are summed, wherever they come in the pages; another tier, batch, key or day stays apart.
func TestFetch_UsageRowsOfOneRecordAreSummed(t *testing.T) {
	row := func(key, tier string, batch bool, in, out int64) string {
		return fmt.Sprintf(`{"object":"organization.usage.completions.result","input_tokens":%d,"output_tokens":%d,"num_model_requests":1,`+
			`"project_id":"proj_x","api_key_id":%q,"model":"gpt-4o","batch":%t,"service_tier":%s}`, in, out, key, batch, tier)
	}
	bucket := func(start int64, rows ...string) string {
		return fmt.Sprintf(`{"object":"bucket","start_time":%d,"end_time":%d,"results":[%s]}`, start, start+86400, strings.Join(rows, ","))
	}
	pages := map[string]string{
		"/v1/organization/usage/completions": `{"object":"page","data":[` +
			bucket(1786147200, row("key_b", `"default"`, false, 100, 10), row("key_a", `"default"`, false, 1, 1),
				row("key_b", `"priority"`, false, 1000, 100), row("key_b", `"scale"`, false, 200, 20),
				row("key_b", `null`, true, 7, 7), row("key_b", `null`, false, 300, 30)) + `,` +
			bucket(1786233600, row("key_b", `"default"`, false, 5, 5)) + `],"has_more":false,"next_page":null}`,
		"/v1/organization/usage/embeddings": `{"object":"page","data":[` +
			bucket(1786147200, `{"object":"organization.usage.embeddings.result","input_tokens":4000,"num_model_requests":2,"project_id":"proj_x","api_key_id":"key_b","model":"gpt-4o"}`) +
			`],"has_more":false,"next_page":null}`,
	}
	c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if p, ok := pages[r.URL.Path]; ok {
			writeJSON(w, http.StatusOK, p)
			return
		}
		emptyRoutes(w, r)
	})
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-08"), To: day("2026-08-10")})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		day, key      string
		tier          usage.Tier
		batch         bool
		input, output int64
		requests      int64
	}
	var got []rec
	for _, r := range b.Usage {
		got = append(got, rec{r.Day.String(), string(r.Key.Ref()), r.Tier, r.Batch, r.Tokens.Input, r.Tokens.Output, r.Requests})
	}
	key := func(id string) string { return string(usage.Ref(usage.OpenAI, usage.KindAPIKey, id)) }
	want := []rec{
		{"2026-08-08", key("key_a"), usage.TierStandard, false, 1, 1, 1},
		{"2026-08-08", key("key_b"), usage.TierStandard, false, 100 + 200 + 300 + 4000, 10 + 20 + 30, 5},
		{"2026-08-08", key("key_b"), usage.TierStandard, true, 7, 7, 1},
		{"2026-08-08", key("key_b"), usage.TierPriority, false, 1000, 100, 1},
		{"2026-08-09", key("key_b"), usage.TierStandard, false, 5, 5, 1},
	}
	order := func(x, y rec) int {
		return cmp.Or(cmp.Compare(x.day, y.day), cmp.Compare(x.key, y.key), cmp.Compare(x.tier, y.tier), cmp.Compare(b2i(x.batch), b2i(y.batch)))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Fatalf("records\n%+v\nwant\n%+v", got, want)
	}
}
