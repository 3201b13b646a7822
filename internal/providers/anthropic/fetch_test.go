package anthropic

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

const (
	wsAcme    usage.SourceRef = "anthropic:workspace:wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
	wsOld     usage.SourceRef = "anthropic:workspace:wrkspc_01KbT6s2aQyV3pN8dE4fGh7J"
	wsDefault usage.SourceRef = "anthropic:workspace:default"
	keyAcme   usage.SourceRef = "anthropic:api_key:apikey_01HzZK9tP4mQ7vXr2LcB8nWd"
	keyGlobex usage.SourceRef = "anthropic:api_key:apikey_01Rj2N8SVvo6BePZj99NhmiT"
	keyBatch  usage.SourceRef = "anthropic:api_key:apikey_01Tm5V7wX9yZ1aB3cD5eF7gH"

	sonnet = "claude-sonnet-4-5-20250929"
	opus   = "claude-opus-4-1-20250805"
)

func day(t *testing.T, s string) usage.Day {
	t.Helper()
	d, err := usage.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixtureWindow is 2026-08-01 through today (2026-08-03), today's partial day included.
func fixtureWindow(t *testing.T) usage.Window {
	return usage.Window{From: day(t, "2026-08-01"), To: day(t, "2026-08-04")}
}

func TestFetch_FixtureWindow(t *testing.T) {
	f := newFake(t)
	c, sleeps := newTestClient(t, f)
	b, err := c.Fetch(context.Background(), fixtureWindow(t))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if b.Provider != usage.Anthropic || b.Window != fixtureWindow(t) || len(b.Warnings) != 0 {
		t.Errorf("batch header = %s %v %q, want anthropic, the window unchanged, no warnings", b.Provider, b.Window, b.Warnings)
	}
	if len(sleeps.recorded()) != 0 {
		t.Errorf("slept %v without any failure", sleeps.recorded())
	}

	aug1, aug3 := day(t, "2026-08-01"), day(t, "2026-08-03")
	wantUsage := []usage.UsageRecord{
		// Console/Workbench traffic: no key, default workspace.
		{Provider: usage.Anthropic.ID(), Day: aug1, Key: usage.Intern(""), Scope: usage.InternRef(wsDefault), Model: usage.Intern(opus),
			Tokens: usage.Tokens{Input: 111, Output: 222}},
		{Provider: usage.Anthropic.ID(), Day: aug1, Key: usage.InternRef(keyGlobex), Scope: usage.InternRef(wsDefault), Model: usage.Intern(sonnet), LongContext: true,
			Tokens: usage.Tokens{Input: 250000, CacheWrite5m: 1000, Output: 4000}},
		// standard and priority rows apart: Priority Tier is never in the cost report.
		{Provider: usage.Anthropic.ID(), Day: aug1, Key: usage.InternRef(keyAcme), Scope: usage.InternRef(wsAcme), Model: usage.Intern(sonnet),
			Tokens: usage.Tokens{Input: 1000, CachedInput: 2000, CacheWrite5m: 300, CacheWrite1h: 40, Output: 500}},
		{Provider: usage.Anthropic.ID(), Day: aug1, Key: usage.InternRef(keyAcme), Scope: usage.InternRef(wsAcme), Model: usage.Intern(sonnet), Tier: usage.TierPriority,
			Tokens: usage.Tokens{Input: 10, CachedInput: 20, CacheWrite5m: 3, CacheWrite1h: 4, Output: 5}},
		{Provider: usage.Anthropic.ID(), Day: aug1, Key: usage.InternRef(keyAcme), Scope: usage.InternRef(wsAcme), Model: usage.Intern(sonnet), Batch: true,
			Tokens: usage.Tokens{Input: 7000, Output: 9000}},
		{Provider: usage.Anthropic.ID(), Day: aug3, Key: usage.InternRef(keyAcme), Scope: usage.InternRef(wsAcme), Model: usage.Intern(sonnet),
			Tokens: usage.Tokens{Input: 1, CachedInput: 2, CacheWrite5m: 3, CacheWrite1h: 4, Output: 5}},
	}
	assertRecords(t, "usage", b.Usage, wantUsage)

	aug2 := day(t, "2026-08-02")
	wantCosts := []usage.CostRecord{
		{Provider: usage.Anthropic.ID(), Day: aug1, Source: usage.InternRef(wsAcme), Item: usage.LineItemOf(usage.Intern(sonnet), usage.Intern("Claude Sonnet 4.5 Usage - Input Tokens"), usage.NoSym), TokenType: usage.TokenInput, Amount: 273_702_000},
		{Provider: usage.Anthropic.ID(), Day: aug1, Source: usage.InternRef(wsAcme), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("Web Search Usage"), usage.NoSym), Amount: 30_000_000},
		{Provider: usage.Anthropic.ID(), Day: aug1, Source: usage.InternRef(wsDefault), Item: usage.LineItemOf(usage.Intern(opus), usage.Intern("Claude Opus 4.1 Usage - Output Tokens"), usage.NoSym), TokenType: usage.TokenOutput, Amount: 1_505_000_000},
		{Provider: usage.Anthropic.ID(), Day: aug2, Source: usage.InternRef(wsOld), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("code_execution"), usage.NoSym), Amount: 1_000},
		{Provider: usage.Anthropic.ID(), Day: aug2, Source: usage.InternRef(wsDefault), Item: usage.LineItemOf(usage.Intern(sonnet), usage.Intern("Claude Sonnet 4.5 Usage - Output Tokens"), usage.NoSym), TokenType: usage.TokenOutput, Amount: 123_456_789_000},
	}
	assertRecords(t, "costs", b.Costs, wantCosts)

	wantSources := []usage.SourceInfo{
		{Ref: wsAcme, Name: "acme cus_NffrFeUfNV2Hib"},
		{Ref: wsOld, Name: "old-experiments"},
		{Ref: wsDefault, Name: "Default Workspace"},
		{Ref: keyAcme, Name: "customer-acme", Scope: wsAcme},
		// workspace_id null while scope carries the default workspace's real id.
		{Ref: keyGlobex, Name: "globex cus_Q2w3E4r5T6y7U8", Scope: wsDefault},
		{Ref: keyBatch, Name: "batch-jobs", Scope: wsOld},
	}
	assertRecords(t, "sources", b.Sources, wantSources)

	// Totals worked out by hand in testdata/README.md.
	var tokens int64
	for _, r := range b.Usage {
		tokens += r.Tokens.Total()
	}
	var cost ledger.Money
	for _, r := range b.Costs {
		cost += r.Amount
	}
	if tokens != 275_230 {
		t.Errorf("total tokens = %d, want 275230", tokens)
	}
	if cost != 125_265_492_000 {
		t.Errorf("total cost = %s, want 125.265492", cost)
	}
}

func TestFetch_SendsDocumentedQueries(t *testing.T) {
	f := newFake(t)
	c, _ := newTestClient(t, f)
	if _, err := c.Fetch(context.Background(), fixtureWindow(t)); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	type want struct {
		path   string
		params map[string][]string // each page's query, in order
		cursor string              // the parameter carrying the cursor on the second page
		second string              // its value
	}
	cases := []want{
		{usageEndpoint, map[string][]string{
			// Through the next UTC midnight: the report returns only buckets that end before
			// ending_at, and today's ends then.
			"starting_at": {"2026-08-01T00:00:00Z"}, "ending_at": {"2026-08-04T00:00:00Z"},
			"bucket_width": {"1d"}, "limit": {"31"},
			"group_by[]": {"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "speed"},
		}, "page", "page_MjAyNi0wOC0wM1QwMDowMDowMFo="},
		{costEndpoint, map[string][]string{
			"starting_at": {"2026-08-01T00:00:00Z"}, "ending_at": {"2026-08-03T00:00:00Z"},
			"bucket_width": {"1d"}, "limit": {"31"},
			"group_by[]": {"workspace_id", "description"},
		}, "page", "page_MjAyNi0wOC0wMlQwMDowMDowMFo="},
		{workspacesEndpoint, map[string][]string{"include_archived": {"true"}, "limit": {"100"}},
			"after_id", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"},
		{apiKeysEndpoint, map[string][]string{"limit": {"100"}},
			"after_id", "apikey_01Rj2N8SVvo6BePZj99NhmiT"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			reqs := f.requestsTo(tc.path)
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2 (two pages)", len(reqs))
			}
			for i, r := range reqs {
				for k, v := range tc.params {
					if !slices.Equal(r.Query[k], v) {
						t.Errorf("page %d: %s = %q, want %q", i+1, k, r.Query[k], v)
					}
				}
				if r.Header.Get("x-api-key") != testKey || r.Header.Get("anthropic-version") != "2023-06-01" {
					t.Errorf("page %d: auth headers not as documented", i+1)
				}
			}
			if got := reqs[0].Query.Get(tc.cursor); got != "" {
				t.Errorf("first page sent %s=%q, want none", tc.cursor, got)
			}
			if got := reqs[1].Query.Get(tc.cursor); got != tc.second {
				t.Errorf("second page %s = %q, want %q", tc.cursor, got, tc.second)
			}
			if strings.Contains(tc.path, "report") && !strings.Contains(reqs[0].RawQuery, "group_by%5B%5D=") {
				t.Errorf("raw query %q lacks bracketed group_by[]", reqs[0].RawQuery)
			}
		})
	}
}

func TestFetch_ClampsWindow(t *testing.T) {
	today := usage.DayOf(fixtureNow)
	cases := []struct {
		name        string
		in, want    usage.Window
		warn        string // substring of the one warning, "" for none
		usageFrom   string // starting_at of the usage call, "" for no call
		usageTo     string
		costTo      string // ending_at of the cost call, "" for no call
		reportCalls int
	}{
		{"inside", usage.Window{From: today - 3, To: today}, usage.Window{From: today - 3, To: today}, "",
			"2026-07-31T00:00:00Z", "2026-08-03T00:00:00Z", "2026-08-03T00:00:00Z", 2},
		// 90 days is no longer cut: Anthropic documents no retention. The fake holds no data, so
		// the backfill notice says none was served.
		{"past one page of daily buckets", usage.Window{From: today - 90, To: today}, usage.Window{From: today - 90, To: today},
			"no usage or cost on any day of 2026-05-05..2026-08-02 (anthropic documents no retention limit; observed: none served for this window)",
			"2026-05-05T00:00:00Z", "2026-08-03T00:00:00Z", "2026-08-03T00:00:00Z", 2},
		{"too old and into the future", usage.Window{From: today - 400, To: today + 10}, usage.Window{From: today - 365, To: today + 1},
			"window starts 2025-06-29 but Margin reads at most 365 days back (anthropic documents no retention limit): reading from 2025-08-03", "2025-08-03T00:00:00Z", "2026-08-04T00:00:00Z", "2026-08-03T00:00:00Z", 2},
		{"today only: no complete day, no cost call", usage.Window{From: today, To: today + 1}, usage.Window{From: today, To: today + 1}, "",
			"2026-08-03T00:00:00Z", "2026-08-04T00:00:00Z", "", 1},
		{"entirely future", usage.Window{From: today + 2, To: today + 5}, usage.Window{From: today + 2, To: today + 2},
			"window ends 2026-08-07 but today is the last day with usage: reading to 2026-08-03", "", "", "", 0},
		{"entirely too old", usage.Window{From: today - 400, To: today - 370}, usage.Window{From: today - 365, To: today - 365},
			"window starts 2025-06-29 but Margin reads at most 365 days back", "", "", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			// The fixture pages do not match these windows; serve one empty page instead.
			empty := func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"data":[],"has_more":false,"next_page":null}`))
			}
			f.handle(usageEndpoint, f.validateReport(false, empty))
			f.handle(costEndpoint, f.validateReport(true, empty))
			c, _ := newTestClient(t, f)
			b, err := c.Fetch(context.Background(), tc.in)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if b.Window != tc.want {
				t.Errorf("window = %v, want %v", b.Window, tc.want)
			}
			switch {
			case tc.warn == "" && len(b.Warnings) != 0:
				t.Errorf("warnings = %q, want none", b.Warnings)
			case tc.warn != "" && (len(b.Warnings) == 0 || !strings.Contains(b.Warnings[0], tc.warn)):
				t.Errorf("warnings = %q, want the first containing %q", b.Warnings, tc.warn)
			}
			u, cst := f.requestsTo(usageEndpoint), f.requestsTo(costEndpoint)
			if len(u)+len(cst) != tc.reportCalls {
				t.Fatalf("%d usage and %d cost calls, want %d in all", len(u), len(cst), tc.reportCalls)
			}
			if tc.usageFrom != "" && (u[0].Query.Get("starting_at") != tc.usageFrom || u[0].Query.Get("ending_at") != tc.usageTo) {
				t.Errorf("usage range %s..%s, want %s..%s", u[0].Query.Get("starting_at"), u[0].Query.Get("ending_at"), tc.usageFrom, tc.usageTo)
			}
			if tc.costTo != "" && (len(cst) != 1 || cst[0].Query.Get("ending_at") != tc.costTo || cst[0].Query.Get("starting_at") != tc.usageFrom) {
				t.Errorf("cost calls %+v, want one from %s to %s", cst, tc.usageFrom, tc.costTo)
			}
			if tc.costTo == "" && len(cst) != 0 {
				t.Errorf("cost report called for a window without a complete day")
			}
			// Source names are fetched whatever the window.
			if len(b.Sources) != 6 {
				t.Errorf("%d sources, want 6", len(b.Sources))
			}
		})
	}
}

func TestFetch_EmptyBuckets(t *testing.T) {
	f := newFake(t)
	page := `{"data":[{"starting_at":"2026-08-01T00:00:00Z","ending_at":"2026-08-02T00:00:00Z","results":[]},
		{"starting_at":"2026-08-02T00:00:00Z","ending_at":"2026-08-03T00:00:00Z","results":[]}],"has_more":false,"next_page":null}`
	serve := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(page)) }
	f.handle(usageEndpoint, serve)
	f.handle(costEndpoint, serve)
	c, _ := newTestClient(t, f)
	b, err := c.Fetch(context.Background(), fixtureWindow(t))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(b.Usage) != 0 || len(b.Costs) != 0 {
		t.Errorf("usage %v costs %v, want none", b.Usage, b.Costs)
	}
}

func TestFetch_RejectsNonUSDCost(t *testing.T) {
	f := newFake(t)
	f.handle(costEndpoint, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[{"starting_at":"2026-08-01T00:00:00Z","ending_at":"2026-08-02T00:00:00Z","results":[
			{"amount":"10.00","currency":"EUR","cost_type":"tokens","description":"x","model":null,"workspace_id":null}]}],
			"has_more":false,"next_page":null}`))
	})
	c, _ := newTestClient(t, f)
	_, err := c.Fetch(context.Background(), fixtureWindow(t))
	if err == nil || !strings.Contains(err.Error(), `"EUR"`) || !strings.Contains(err.Error(), costEndpoint) {
		t.Fatalf("err = %v, want one naming the currency EUR and the endpoint", err)
	}
}

func assertRecords[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	t.Errorf("%s: got %d records, want %d", what, len(got), len(want))
	for i := range max(len(got), len(want)) {
		var g, w any = "<none>", "<none>"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s[%d]:\n got  %+v\n want %+v", what, i, g, w)
		}
	}
}
