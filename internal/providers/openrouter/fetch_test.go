package openrouter

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func TestFetch_SumsEndpointsPerDayKeyModel(t *testing.T) {
	f := newFakeServer(t)
	c, _ := f.client(t, nil)
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-31")}
	b, err := c.Fetch(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if b.Provider != usage.OpenRouter || b.Window != w || len(b.Warnings) != 0 || len(b.Costs) != 0 {
		t.Fatalf("batch: provider %q, window %v, warnings %q, %d costs", b.Provider, b.Window, b.Warnings, len(b.Costs))
	}
	acme, legacy := keyRef(hashAcme), keyRef(hashLegacy)
	want := []usage.UsageRecord{
		{ // two endpoints: 4.2175 (number) + "0.0825" (string)
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-01"), Key: usage.InternRef(acme), Model: usage.Intern("anthropic/claude-sonnet-4.5"),
			Tokens:   usage.Tokens{Input: 902311 + 17689, Output: 101442 + 1558, Reasoning: 12004 + 96},
			Requests: 118 + 3, Billed: 4_300_000_000, HasBilled: true,
		},
		{ // 1.23456789e-4 dollars rounds to 123457 nano; the BYOK row adds tokens but not its 2.75
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-02"), Key: usage.InternRef(acme), Model: usage.Intern("openai/gpt-4.1"),
			Tokens:   usage.Tokens{Input: 41 + 51200, Output: 7 + 6400},
			Requests: 1 + 25, Billed: 123_457, HasBilled: true,
		},
		{ // a key of the second workspace, listed only with workspace_id
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-15"), Key: usage.InternRef(keyRef(hashResearch)), Model: usage.Intern("google/gemini-2.5-flash"),
			Tokens:   usage.Tokens{Input: 120000, Output: 8000},
			Requests: 30, Billed: 750_000_000, HasBilled: true,
		},
		{ // a free model: billed, at zero
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-30"), Key: usage.InternRef(legacy), Model: usage.Intern("meta-llama/llama-3.3-70b-instruct:free"),
			Tokens:   usage.Tokens{Input: 8800, Output: 2100},
			Requests: 12, Billed: 0, HasBilled: true,
		},
	}
	// What the account-level /activity holds beyond the listed keys: a deleted key's spend, on a
	// model a listed key also used that day and on one no listed key used.
	want = append(want,
		usage.UsageRecord{
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-01"), Key: usage.InternRef(usage.OpenRouterUnlisted), Model: usage.Intern("anthropic/claude-sonnet-4.5"),
			Tokens:   usage.Tokens{Input: 200000, Output: 20000},
			Requests: 20, Billed: 1_000_000_000, HasBilled: true,
		},
		usage.UsageRecord{
			Provider: usage.OpenRouter.ID(), Day: day("2026-08-20"), Key: usage.InternRef(usage.OpenRouterUnlisted), Model: usage.Intern("mistralai/mistral-large"),
			Tokens:   usage.Tokens{Input: 50000, Output: 5000},
			Requests: 10, Billed: 400_000_000, HasBilled: true,
		})
	slices.SortFunc(want, func(a, b usage.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Model, b.Model))
	})
	assertRecords(t, b.Usage, want)

	// The batch's total is the account's: the sum of every account-level row in the window.
	var total, account ledger.Money
	for _, r := range b.Usage {
		total += r.Billed
	}
	for _, nanos := range []ledger.Money{5_217_500_000, 82_500_000, 123_457, 0, 750_000_000, 400_000_000, 0} {
		account += nanos
	}
	if total != account {
		t.Errorf("batch total %s, account-level /activity %s", total, account)
	}

	wantSources := []usage.SourceInfo{
		{Ref: acme, Name: "acme-prod cus_ACME001"},
		{Ref: legacy, Name: "sk-or-v1-0e6...1c96"}, // disabled and unnamed: listed under its label
		{Ref: keyRef(hashPilot), Name: "pilot"},
		{Ref: keyRef(hashResearch), Name: "research-bot cus_RES002"},
		{Ref: usage.OpenRouterUnlisted, Name: unlistedName},
	}
	if len(b.Sources) != len(wantSources) {
		t.Fatalf("sources = %+v", b.Sources)
	}
	for i := range wantSources {
		if b.Sources[i] != wantSources[i] {
			t.Errorf("source %d = %+v, want %+v", i, b.Sources[i], wantSources[i])
		}
	}
	if string(acme) != "openrouter:key:"+hashAcme {
		t.Errorf("source reference %q", acme)
	}

	// pilot's lifetime usage is zero: its activity is not asked for.
	wantRequests := []string{
		"/api/v1/keys?include_disabled=true&offset=0",
		"/api/v1/workspaces?limit=100&offset=0",
		"/api/v1/keys?include_disabled=true&offset=0&workspace_id=" + wsDefault,
		"/api/v1/keys?include_disabled=true&offset=0&workspace_id=" + wsResearch,
		"/api/v1/activity?api_key_hash=" + hashAcme,
		"/api/v1/activity?api_key_hash=" + hashLegacy,
		"/api/v1/activity?api_key_hash=" + hashResearch,
		"/api/v1/activity?",
	}
	if got := f.seen(); strings.Join(got, "\n") != strings.Join(wantRequests, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRequests, "\n"))
	}
	if m := f.maxInFl.Load(); m != 1 {
		t.Errorf("%d requests ran at once, want one at a time", m)
	}
}

func TestFetch_Window(t *testing.T) {
	tests := []struct {
		name         string
		window       usage.Window
		wantWindow   usage.Window
		wantDays     []string // days of the records, in order
		wantWarnings []string // substrings, one per warning
		wantActivity bool
	}{
		{
			name:         "rows outside the window are dropped",
			window:       usage.Window{From: day("2026-08-02"), To: day("2026-08-30")},
			wantWindow:   usage.Window{From: day("2026-08-02"), To: day("2026-08-30")},
			wantDays:     []string{"2026-08-02", "2026-08-15", "2026-08-20"},
			wantActivity: true,
		},
		{
			name:         "a single day",
			window:       usage.Window{From: day("2026-08-01"), To: day("2026-08-02")},
			wantWindow:   usage.Window{From: day("2026-08-01"), To: day("2026-08-02")},
			wantDays:     []string{"2026-08-01", "2026-08-01"}, // acme's and the unlisted rest
			wantActivity: true,
		},
		{
			name:       "clamped to the last 30 completed days",
			window:     usage.Window{From: day("2026-07-01"), To: day("2026-09-05")},
			wantWindow: usage.Window{From: day("2026-08-01"), To: day("2026-08-31")},
			wantDays:   []string{"2026-08-01", "2026-08-01", "2026-08-02", "2026-08-15", "2026-08-20", "2026-08-30"},
			wantWarnings: []string{
				"openrouter: window starts 2026-07-01 but openrouter documents the last 30 completed UTC days: reading from 2026-08-01",
				"openrouter: window ends 2026-09-04 but openrouter serves completed days only: reading to 2026-08-30",
			},
			wantActivity: true,
		},
		{
			name:         "today alone is never served",
			window:       usage.Window{From: day("2026-08-31"), To: day("2026-09-01")},
			wantWindow:   usage.Window{From: day("2026-08-31"), To: day("2026-08-31")},
			wantWarnings: []string{"reading to 2026-08-30"},
		},
		{
			name:         "entirely too old",
			window:       usage.Window{From: day("2026-06-01"), To: day("2026-06-10")},
			wantWindow:   usage.Window{From: day("2026-08-01"), To: day("2026-08-01")},
			wantWarnings: []string{"reading from 2026-08-01"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			c, _ := f.client(t, nil)
			b, err := c.Fetch(context.Background(), tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if b.Window != tt.wantWindow {
				t.Errorf("window = %v, want %v", b.Window, tt.wantWindow)
			}
			var days []string
			for _, r := range b.Usage {
				days = append(days, r.Day.String())
			}
			if strings.Join(days, ",") != strings.Join(tt.wantDays, ",") {
				t.Errorf("record days = %v, want %v", days, tt.wantDays)
			}
			if len(b.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, want %d", b.Warnings, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if !strings.HasPrefix(b.Warnings[i], "openrouter: ") || !strings.Contains(b.Warnings[i], w) {
					t.Errorf("warning %q does not say %q", b.Warnings[i], w)
				}
			}
			keys := 0
			for _, s := range b.Sources {
				if s.Ref != usage.OpenRouterUnlisted {
					keys++
				}
			}
			if keys != 4 {
				t.Errorf("%d keys named, want the 4 listed keys named even for an empty window", keys)
			}
			calledActivity := strings.Contains(strings.Join(f.seen(), " "), "/activity")
			if calledActivity != tt.wantActivity {
				t.Errorf("/activity called: %v, want %v", calledActivity, tt.wantActivity)
			}
		})
	}
}

func TestFetch_ActivityErrorNamesKey(t *testing.T) {
	f := newFakeServer(t)
	f.handle("/activity", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, `{"data":[{"date":"31/08/2026","model":"m","usage":1}]}`)
	})
	c, _ := f.client(t, nil)
	_, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
	if err == nil || !strings.Contains(err.Error(), "/activity") || !strings.Contains(err.Error(), hashAcme) || !strings.Contains(err.Error(), "31/08/2026") {
		t.Fatalf("got %v, want an error naming /activity, the key and the bad date", err)
	}
}

func assertRecords(t *testing.T, got, want []usage.UsageRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	var total ledger.Money
	for _, r := range got {
		total += r.Billed
	}
	var wantTotal ledger.Money
	for _, r := range want {
		wantTotal += r.Billed
	}
	if total != wantTotal {
		t.Errorf("billed total %s, want %s", total, wantTotal)
	}
}
