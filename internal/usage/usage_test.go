package usage

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		p       Provider
		k       Kind
		id, err string
	}{
		{in: "openai:api_key:key_abc", p: OpenAI, k: KindAPIKey, id: "key_abc"},
		{in: "openai:project:proj_1", p: OpenAI, k: KindProject, id: "proj_1"},
		{in: "anthropic:workspace:default", p: Anthropic, k: KindWorkspace, id: "default"},
		{in: "openrouter:key:f01d943", p: OpenRouter, k: KindKey, id: "f01d943"},
		{in: "openai:workspace:x", err: `openai has no source kind "workspace" (want project or api_key)`},
		{in: "mistral:key:x", err: `unknown provider "mistral"`},
		{in: "openai:api_key:", err: "want provider:kind:id"},
		{in: "key_abc", err: "want provider:kind:id"},
	} {
		p, k, id, err := ParseRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRef(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p != tc.p || k != tc.k || id != tc.id {
			t.Errorf("ParseRef(%q) = %s %s %s %v", tc.in, p, k, id, err)
		}
		if Ref(p, k, id) != SourceRef(tc.in) || SourceRef(tc.in).Provider() != tc.p {
			t.Errorf("Ref/Provider do not round-trip %q", tc.in)
		}
	}
}

func TestDays(t *testing.T) {
	d := DayOf(time.Date(2026, 11, 27, 23, 59, 59, 0, time.FixedZone("x", -5*3600))) // 2026-11-28 04:59 UTC
	if d.String() != "2026-11-28" || d.Time() != time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) {
		t.Errorf("DayOf = %s", d)
	}
	if DayOf(time.Unix(-1, 0)).String() != "1969-12-31" {
		t.Error("days before the epoch round down")
	}
	p, err := ParseDay("2026-11-28")
	if err != nil || p != d {
		t.Errorf("ParseDay = %v %v", p, err)
	}
	if _, err := ParseDay("28/11/2026"); err == nil {
		t.Error("bad date parsed")
	}
	w := LastCompleteDays(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), 31)
	if w.From.String() != "2026-10-27" || w.To.String() != "2026-11-27" || w.Days() != 31 || w.Contains(w.To) || !w.Contains(w.From) {
		t.Errorf("window %s (%d days)", w, w.Days())
	}
}

func TestRetention(t *testing.T) {
	if OpenRouter.RetentionDays() != 30 || OpenRouter.DocumentedRetentionDays() != 30 {
		t.Errorf("openrouter: %d days, documented %d; want 30", OpenRouter.RetentionDays(), OpenRouter.DocumentedRetentionDays())
	}
	for _, p := range []Provider{OpenAI, Anthropic} {
		if p.DocumentedRetentionDays() != 0 || p.RetentionDays() != MaxBackfillDays {
			t.Errorf("%s: %d days, documented %d; want %d and none documented", p, p.RetentionDays(), p.DocumentedRetentionDays(), MaxBackfillDays)
		}
		if got := p.RetentionStatement(); got != string(p)+" documents no retention limit" {
			t.Errorf("%s: statement %q", p, got)
		}
	}
	if got := OpenRouter.RetentionStatement(); got != "openrouter documents the last 30 completed UTC days" {
		t.Errorf("openrouter statement %q", got)
	}
}

func TestFirstDataNotice(t *testing.T) {
	w := Window{From: 100, To: 160}
	tests := []struct {
		name  string
		w     Window
		first Day
		ok    bool
		want  string // "" for no notice
	}{
		{"data from the first day", w, 100, true, ""},
		{"empty window", Window{From: 100, To: 100}, 0, false, ""},
		{"later first day", w, 130, true, "openai: the first day with data is " + Day(130).String() + ", not " + Day(100).String() +
			" (openai documents no retention limit; observed: nothing served before " + Day(130).String() + ")"},
		{"nothing at all", w, 0, false, "openai: no usage or cost on any day of " + w.String() +
			" (openai documents no retention limit; observed: none served for this window)"},
	}
	for _, tt := range tests {
		if got := FirstDataNotice(OpenAI, tt.w, tt.first, tt.ok); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOpenRouterUnlistedParses(t *testing.T) {
	p, k, id, err := ParseRef(string(OpenRouterUnlisted))
	if err != nil || p != OpenRouter || k != KindKey || id != unlistedKeyID || OpenRouterUnlisted != "openrouter:key:unlisted" {
		t.Fatalf("ParseRef(%q) = %s %s %s %v", OpenRouterUnlisted, p, k, id, err)
	}
}

func TestTokens_TotalCountsEachTokenOnce(t *testing.T) {
	a := Tokens{Input: 100, CachedInput: 50, CacheWrite5m: 10, CacheWrite1h: 5, Output: 30, Reasoning: 20}
	if a.Total() != 195 {
		t.Errorf("Total = %d: reasoning is part of output and must not count twice", a.Total())
	}
	a.Add(a)
	if a.Total() != 390 || a.Reasoning != 40 {
		t.Errorf("Add: %+v", a)
	}
}

func TestTokens_AddAddsEveryField(t *testing.T) {
	a := Tokens{1, 2, 3, 4, 5, 6, 7, 8}
	a.Add(Tokens{10, 20, 30, 40, 50, 60, 70, 80})
	if want := (Tokens{11, 22, 33, 44, 55, 66, 77, 88}); a != want {
		t.Errorf("Add = %+v, want %+v", a, want)
	}
}

func TestUsageRecord_ClassAndSource(t *testing.T) {
	key, scope := Ref(OpenAI, KindAPIKey, "key_1"), Ref(OpenAI, KindProject, "proj_1")
	r := UsageRecord{Key: InternRef(key), Scope: InternRef(scope), Tier: TierFlex, Batch: true, LongContext: true, USOnly: true, Fast: true}
	if want := (PriceClass{Tier: TierFlex, Batch: true, LongContext: true, USOnly: true, Fast: true}); r.Class() != want {
		t.Errorf("Class = %+v, want %+v", r.Class(), want)
	}
	if r.Source() != key {
		t.Errorf("Source = %s, want the key %s", r.Source(), key)
	}
	r.Key = NoSym // Anthropic Console traffic: no key, the workspace is the source
	if r.Source() != scope {
		t.Errorf("keyless Source = %s, want the scope %s", r.Source(), scope)
	}
}

func TestBatch_FirstDay(t *testing.T) {
	var b Batch
	if _, ok := b.FirstDay(); ok {
		t.Error("empty batch has a first day")
	}
	b.Usage = []UsageRecord{{Day: 120}, {Day: 110}}
	b.Costs = []CostRecord{{Day: 115}}
	if d, ok := b.FirstDay(); !ok || d != 110 {
		t.Errorf("FirstDay = %d, %v; want 110 from usage", d, ok)
	}
	b.Costs = append(b.Costs, CostRecord{Day: 105})
	if d, ok := b.FirstDay(); !ok || d != 105 {
		t.Errorf("FirstDay = %d, %v; want 105 from costs", d, ok)
	}
	b.Usage = nil // costs alone still count
	if d, ok := b.FirstDay(); !ok || d != 105 {
		t.Errorf("FirstDay without usage = %d, %v; want 105", d, ok)
	}
}

func TestBackfillNotice_OnlyForWindowsLongerThanAPage(t *testing.T) {
	const today = Day(1000)
	short := &Batch{Provider: Anthropic, Window: Window{From: today - DailyBucketsPerPage, To: today}}
	if got := BackfillNotice(short, today); got != "" {
		t.Errorf("a poll's window with no data got a notice: %q", got)
	}
	long := &Batch{Provider: Anthropic, Window: Window{From: today - 90, To: today}, Costs: []CostRecord{{Day: today - 40}}}
	got := BackfillNotice(long, today)
	if want := "anthropic: the first day with data is " + (today - 40).String(); !strings.HasPrefix(got, want) {
		t.Errorf("backfill notice %q, want prefix %q", got, want)
	}
	long.Costs[0].Day = today - 90
	if got := BackfillNotice(long, today); got != "" {
		t.Errorf("backfill with data from the first day got a notice: %q", got)
	}
}

func TestDayMonth(t *testing.T) {
	for _, c := range []struct{ day, start, end string }{
		{"2026-01-01", "2026-01-01", "2026-02-01"},
		{"2026-02-28", "2026-02-01", "2026-03-01"},
		{"2028-02-29", "2028-02-01", "2028-03-01"},
		{"2026-12-31", "2026-12-01", "2027-01-01"},
		{"1969-12-15", "1969-12-01", "1970-01-01"},
	} {
		d, _ := ParseDay(c.day)
		m := d.Month()
		if m.From.String() != c.start || m.To.String() != c.end || d.MonthStart() != m.From || d.NextMonthStart() != m.To {
			t.Errorf("%s: month %s..%s, want %s..%s", c.day, m.From, m.To, c.start, c.end)
		}
		if !m.Contains(d) {
			t.Errorf("%s: its month %v does not contain it", c.day, m)
		}
	}
}

func TestClampWindow_EveryProviderWithinWhatItServes(t *testing.T) {
	today, _ := ParseDay("2026-08-31")
	for _, p := range Providers {
		served := p.Served(today)
		for from := today - 400; from <= today+3; from += 7 {
			for n := Day(0); n < 420; n += 13 {
				w := Window{From: from, To: from + n}
				got, warnings := ClampWindow(p, w, today)
				inside := w.From >= served.From && w.To <= served.To
				if got.From < served.From || got.To > served.To || got.To < got.From {
					t.Fatalf("%s %v: clamped to %v, outside %v", p, w, got, served)
				}
				if inside && (got != w || len(warnings) != 0) {
					t.Fatalf("%s %v: inside %v but changed to %v (%q)", p, w, served, got, warnings)
				}
				throughToday := w.To == today+1 && served.To == today && w.From < today && w.From >= served.From
				if !inside && len(warnings) == 0 && !throughToday {
					t.Fatalf("%s %v: cut to %v without a word", p, w, got)
				}
				if throughToday && (len(warnings) != 0 || got.To != today) {
					t.Fatalf("%s %v: a window through today is cut to yesterday quietly, got %v %q", p, w, got, warnings)
				}
				for _, warn := range warnings {
					if !strings.HasPrefix(warn, string(p)+": window ") {
						t.Fatalf("%s: warning %q does not name the provider", p, warn)
					}
				}
			}
		}
	}
	if got, warnings := ClampWindow(OpenRouter, Window{From: today - 3, To: today + 1}, today); got != (Window{From: today - 3, To: today}) || len(warnings) != 0 {
		t.Errorf("openrouter through today: %v %q, want yesterday's end without a word", got, warnings)
	}
	if got, warnings := ClampWindow(OpenRouter, Window{From: today, To: today + 1}, today); got.Days() != 0 || len(warnings) != 1 {
		t.Errorf("openrouter asked for today alone: %v %q, want nothing and a word", got, warnings)
	}
	if s := OpenRouter.Served(today); s.To != today || s.From != today-30 {
		t.Errorf("openrouter serves %v: want the 30 completed days before today", s)
	}
	if s := OpenAI.Served(today); s.To != today+1 || s.From != today-MaxBackfillDays {
		t.Errorf("openai serves %v: want %d days back and today", s, MaxBackfillDays)
	}
}

// A Tier is a byte that reads, orders and marshals as its name, as the string it replaced did.
func TestTier_ActsAsItsName(t *testing.T) {
	names := []string{"", "flex", "priority"} // sorted, as the names compare
	for i, n := range names {
		tier := ParseTier(n)
		if tier.String() != n {
			t.Errorf("ParseTier(%q).String() = %q", n, tier.String())
		}
		b, err := json.Marshal(tier)
		if err != nil || string(b) != strconv.Quote(n) {
			t.Errorf("json of %q = %s, %v", n, b, err)
		}
		var back Tier
		if err := json.Unmarshal(b, &back); err != nil || back != tier {
			t.Errorf("json %s read back as %v, %v", b, back, err)
		}
		for j, m := range names {
			if got, want := cmp.Compare(tier, ParseTier(m)), strings.Compare(n, m); got != want {
				t.Errorf("compare(%q, %q) = %d, want %d (i=%d j=%d)", n, m, got, want, i, j)
			}
		}
	}
	var bad Tier
	if err := json.Unmarshal([]byte(`"turbo"`), &bad); err == nil {
		t.Error(`"turbo" read as a tier`)
	}
}

// Since keeps a batch's records from a day on, in their order, in a copy; the original is left
// as it was.
func TestBatch_SinceKeepsTheDaysFromOn(t *testing.T) {
	b := &Batch{Provider: OpenAI, Window: Window{From: 100, To: 110},
		Usage: []UsageRecord{{Day: 108, Requests: 1}, {Day: 101}, {Day: 109, Requests: 2}, {Day: 105}},
		Costs: []CostRecord{{Day: 100}, {Day: 107, Amount: 3}}, Sources: []SourceInfo{{Ref: "openai:project:p"}}}
	if b.Since(100) != b || b.Since(90) != b {
		t.Fatal("Since at or before the window's start copied the batch")
	}
	got := b.Since(107)
	if got.Window != (Window{From: 107, To: 110}) || len(got.Sources) != 1 {
		t.Fatalf("Since(107): window %v, sources %v", got.Window, got.Sources)
	}
	if len(got.Usage) != 2 || got.Usage[0].Requests != 1 || got.Usage[1].Requests != 2 || cap(got.Usage) != 2 {
		t.Fatalf("Since(107) usage %+v", got.Usage)
	}
	if len(got.Costs) != 1 || got.Costs[0].Amount != 3 {
		t.Fatalf("Since(107) costs %+v", got.Costs)
	}
	if len(b.Usage) != 4 || len(b.Costs) != 2 || b.Window.From != 100 {
		t.Fatal("Since changed the batch it was called on")
	}
	if w := b.Since(200).Window; w.From != w.To {
		t.Fatalf("Since past the window: %v, want an empty window", w)
	}
}
