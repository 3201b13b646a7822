package catalog

import (
	"fmt"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func usd(t testing.TB, s string) ledger.Money {
	t.Helper()
	m, err := ledger.ParseDollars(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func day(t testing.TB, s string) usage.Day {
	t.Helper()
	d, err := usage.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDefault_ParsesAndEveryRowIsSane(t *testing.T) {
	entries, err := parseTable(embeddedPrices)
	if err != nil {
		t.Fatalf("prices.yaml: %v", err)
	}
	if _, err := newCatalog(entries); err != nil {
		t.Fatalf("prices.yaml: %v", err)
	}
	sane := func(where string, p Price) {
		if p.Input <= 0 {
			t.Errorf("%s: input %s is not positive", where, p.Input)
		}
		// Embedding models produce no output and list no output price.
		if p.Output != 0 && p.Output < p.Input {
			t.Errorf("%s: output %s below input %s", where, p.Output, p.Input)
		}
		if p.CachedInput > p.Input {
			t.Errorf("%s: cached input %s above input %s", where, p.CachedInput, p.Input)
		}
		if p.CacheWrite5m != 0 && p.CacheWrite5m < p.Input {
			t.Errorf("%s: 5m cache write %s below input %s", where, p.CacheWrite5m, p.Input)
		}
		if p.CacheWrite1h != 0 && p.CacheWrite1h < p.CacheWrite5m {
			t.Errorf("%s: 1h cache write %s below 5m write %s", where, p.CacheWrite1h, p.CacheWrite5m)
		}
	}
	for _, e := range entries {
		where := string(e.Provider) + " " + e.Model
		if e.Provider != usage.OpenAI && e.Provider != usage.Anthropic {
			t.Errorf("%s: provider", where)
		}
		if e.EffectiveFrom == 0 {
			t.Errorf("%s: no effective_from", where)
		}
		sane(where, e.Standard)
		if e.Batch != nil {
			sane(where+" batch", *e.Batch)
		}
		if e.LongContext != nil {
			sane(where+" long_context", *e.LongContext)
			if e.LongContext.Input < e.Standard.Input || e.LongContext.Output < e.Standard.Output {
				t.Errorf("%s: long context cheaper than standard", where)
			}
		}
	}
	// Every row carries a source comment on its effective_from line.
	for i, line := range strings.Split(string(embeddedPrices), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "effective_from:") && !strings.Contains(line, "#") {
			t.Errorf("prices.yaml:%d: effective_from without a source comment", i+1)
		}
	}
}

func TestDefault_CoversTheRequiredModels(t *testing.T) {
	c := Default()
	d := day(t, "2026-01-15")
	for _, m := range []struct {
		p     usage.Provider
		model string
	}{
		{usage.OpenAI, "gpt-5"}, {usage.OpenAI, "gpt-5-mini"}, {usage.OpenAI, "gpt-5-nano"},
		{usage.OpenAI, "gpt-4.1"}, {usage.OpenAI, "gpt-4.1-mini"}, {usage.OpenAI, "gpt-4.1-nano"},
		{usage.OpenAI, "gpt-4o"}, {usage.OpenAI, "gpt-4o-mini"}, {usage.OpenAI, "o3"}, {usage.OpenAI, "o4-mini"},
		{usage.OpenAI, "text-embedding-3-small"}, {usage.OpenAI, "text-embedding-3-large"},
		{usage.Anthropic, "claude-opus-4-1"}, {usage.Anthropic, "claude-opus-4-5"}, {usage.Anthropic, "claude-sonnet-4-5"},
		{usage.Anthropic, "claude-sonnet-4"}, {usage.Anthropic, "claude-haiku-4-5"}, {usage.Anthropic, "claude-3-5-haiku"},
	} {
		e, ok := c.Lookup(m.p, m.model, d)
		if !ok || e.Model != m.model {
			t.Errorf("%s %s: got %v, %v", m.p, m.model, e, ok)
		}
	}
	for _, e := range c.Entries() {
		if e.Provider == usage.OpenRouter {
			t.Errorf("openrouter row %s in the catalog", e.Model)
		}
	}
}

func TestLookup_MatchesExactlyOrByLongestDashedPrefix(t *testing.T) {
	c := Default()
	d := day(t, "2026-01-15")
	tests := []struct {
		provider usage.Provider
		name     string
		want     string // "" = unpriced
	}{
		{usage.Anthropic, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{usage.Anthropic, "claude-sonnet-4-20250514", "claude-sonnet-4"},
		{usage.Anthropic, "claude-sonnet-4-5", "claude-sonnet-4-5"},
		{usage.Anthropic, "claude-3-5-haiku-20241022", "claude-3-5-haiku"},
		{usage.OpenAI, "gpt-4.1-2025-04-14", "gpt-4.1"},
		// The trap: "gpt-4.1-" is a prefix of the mini snapshot too; the longer id wins.
		{usage.OpenAI, "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"},
		{usage.OpenAI, "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
		{usage.OpenAI, "gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{usage.OpenAI, "gpt-4o-2024-08-06", "gpt-4o"},
		{usage.OpenAI, "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"}, // an exact row beats the prefix
		{usage.OpenAI, "gpt-5-2025-08-07", "gpt-5"},
		{usage.OpenAI, "gpt-5-mini-2025-08-07", "gpt-5-mini"},
		{usage.OpenAI, "o3-2025-04-16", "o3"},
		// A prefix without the "-" boundary does not match.
		{usage.OpenAI, "gpt-4.10", ""},
		{usage.OpenAI, "o3mini", ""},
		{usage.OpenAI, "gpt-image-1", ""},
		{usage.OpenAI, "", ""},
		// Providers do not share rows.
		{usage.Anthropic, "gpt-4.1", ""},
		{usage.OpenRouter, "openai/gpt-4.1", ""},
		{usage.OpenRouter, "gpt-4.1", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.provider)+"/"+tt.name, func(t *testing.T) {
			for range 2 { // second pass goes through the cache
				e, ok := c.Lookup(tt.provider, tt.name, d)
				if tt.want == "" {
					if ok {
						t.Fatalf("matched %s, want unpriced", e.Model)
					}
					continue
				}
				if !ok || e.Model != tt.want {
					t.Fatalf("got %v %v, want %s", e, ok, tt.want)
				}
			}
		})
	}
}

func TestLookup_OnlyDatedSnapshotsFallBackToTheirFamily(t *testing.T) {
	// A sibling is never priced as another model: without a gpt-4.1-mini row the mini snapshot is
	// unpriced, not priced as gpt-4.1; "o3-pro" (about 10× o3) and "gpt-5-pro" are not o3/gpt-5.
	c, err := newCatalog([]Entry{{Provider: usage.OpenAI, Model: "gpt-4.1", Standard: Price{Input: 2}},
		{Provider: usage.OpenAI, Model: "o3", Standard: Price{Input: 2}}, {Provider: usage.OpenAI, Model: "gpt-5", Standard: Price{Input: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model, want string
	}{
		{"gpt-4.1-2025-04-14", "gpt-4.1"},
		{"gpt-4.1-20250414", "gpt-4.1"},
		{"GPT-4.1", "gpt-4.1"},
		{"openai/gpt-4.1", "gpt-4.1"},
		{"gpt-4.1-mini-2025-04-14", ""},
		{"o3-pro", ""},
		{"o3-pro-2025-06-10", ""},
		{"gpt-5-pro", ""},
		{"gpt-5-2025-13-45", ""}, // not a date
	} {
		e, ok := c.Lookup(usage.OpenAI, tc.model, 0)
		switch {
		case tc.want == "" && ok:
			t.Errorf("%s priced as %s, want unpriced", tc.model, e.Model)
		case tc.want != "" && (!ok || e.Model != tc.want):
			t.Errorf("%s: got %v %v, want %s", tc.model, e, ok, tc.want)
		}
	}
}

func TestCost_TiersGeographyAndAudio(t *testing.T) {
	c := Default()
	d := day(t, "2026-11-01")
	m := func(s string) ledger.Money {
		v, err := ledger.ParseDollars(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		rec  usage.UsageRecord
		want string // "" = unpriced
	}{
		{"gpt-5 priority is its own row", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-5-2025-08-07"), Tier: usage.TierPriority, Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "22.5"},
		{"gpt-5 flex", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-5"), Tier: usage.TierFlex, Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "5.625"},
		{"a tier without a row is unpriced", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4o-mini"), Tier: usage.TierPriority, Tokens: usage.Tokens{Input: 1}}, ""},
		{"Anthropic priority at standard rates", usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5"), Tier: usage.TierPriority, Tokens: usage.Tokens{Input: 1_000_000}}, "3"},
		{"Anthropic US-only 1.1x", usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5"), USOnly: true, Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "19.8"},
		{"realtime audio at audio rates", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-realtime-2025-08-28"), Tokens: usage.Tokens{Input: 2_000_000, AudioInput: 1_000_000, Output: 1_000_000, AudioOutput: 1_000_000}}, "100"}, // 1M text in at 4, 1M audio in at 32, 1M audio out at 64
		{"audio on a text model is unpriced", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4.1"), Tokens: usage.Tokens{Input: 10, AudioInput: 5}}, ""},
		{"Anthropic fast mode has no list price", usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5"), Fast: true, Tokens: usage.Tokens{Input: 1}}, ""},
		{"o3-pro has its own price", usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("o3-pro-2025-06-10"), Tokens: usage.Tokens{Input: 1_000_000}}, "20"},
	} {
		tc.rec.Day = d
		got, ok := c.Cost(&tc.rec)
		switch {
		case tc.want == "" && ok:
			t.Errorf("%s: priced %s, want unpriced", tc.name, got)
		case tc.want != "" && (!ok || got != m(tc.want)):
			t.Errorf("%s: got %s %v, want %s", tc.name, got, ok, tc.want)
		}
	}
}

func TestLookup_PicksTheLatestRowEffectiveOnTheDay(t *testing.T) {
	c := Default()
	tests := []struct {
		day       string
		wantInput string
		ok        bool
	}{
		{"2025-04-15", "", false}, // before o3 existed
		{"2025-04-16", "10", true},
		{"2025-06-09", "10", true},
		{"2025-06-10", "2", true},
		{"2026-12-31", "2", true},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			e, ok := c.Lookup(usage.OpenAI, "o3-2025-04-16", day(t, tt.day))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && e.Standard.Input != usd(t, tt.wantInput) {
				t.Fatalf("input %s, want %s", e.Standard.Input, tt.wantInput)
			}
		})
	}
}

func TestCost_PricesEachTokenClassOnce(t *testing.T) {
	c := Default()
	d := day(t, "2026-01-15")
	tests := []struct {
		name string
		rec  usage.UsageRecord
		want string // dollars
	}{
		{
			// OpenAI reports input_tokens=1,000,000 with 400,000 cached; the client subtracts, so
			// Input holds the 600,000 uncached ones: 0.6×2 + 0.4×0.5 + 0.1×8 = 2.2.
			name: "openai cached tokens are a subset of input, priced apart",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4.1-2025-04-14"),
				Tokens: usage.Tokens{Input: 600_000, CachedInput: 400_000, Output: 100_000}},
			want: "2.2",
		},
		{
			// OpenAI has no cache-write surcharge: writes cost uncached input.
			name: "openai cache writes cost input",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4.1-mini-2025-04-14"),
				Tokens: usage.Tokens{Input: 1_000_000, CacheWrite5m: 1_000_000}},
			want: "0.8",
		},
		{
			// Reasoning is part of Output: 1M output at 8 is 8, not 8 plus reasoning again.
			name: "reasoning is not priced twice",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("o3-2025-04-16"),
				Tokens: usage.Tokens{Output: 1_000_000, Reasoning: 750_000}},
			want: "8",
		},
		{
			// Anthropic: uncached 91,234×3 + read 455,000×0.30 + 5m write 12,000×3.75 + 1h write
			// 2,000×6 + output 40,000×15, per million.
			name: "anthropic cache reads and writes apart from uncached input",
			rec: usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5-20250929"),
				Tokens: usage.Tokens{Input: 91_234, CachedInput: 455_000, CacheWrite5m: 12_000, CacheWrite1h: 2_000, Output: 40_000}},
			want: "1.067202",
		},
		{
			name: "anthropic opus 4.1 every class",
			rec: usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-opus-4-1-20250805"),
				Tokens: usage.Tokens{Input: 1_000_000, CachedInput: 1_000_000, CacheWrite5m: 1_000_000, CacheWrite1h: 1_000_000, Output: 1_000_000}},
			want: "140.25", // 15 + 1.5 + 18.75 + 30 + 75
		},
		{
			name: "batch is half of standard",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4o-mini-2024-07-18"), Batch: true,
				Tokens: usage.Tokens{Input: 1_000_000, CachedInput: 1_000_000, Output: 1_000_000}},
			want: "0.4125", // (0.15 + 0.075 + 0.6) / 2
		},
		{
			// Half of an odd nano amount stays exact: 3 tokens × 0.005 $/M / 2 = 7.5 nano → 8.
			name: "batch halving rounds once",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-5-nano-2025-08-07"), Batch: true,
				Tokens: usage.Tokens{CachedInput: 3}},
			want: "0.000000008",
		},
		{
			name: "long context tier",
			rec: usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-20250514"), LongContext: true,
				Tokens: usage.Tokens{Input: 1_000_000, CachedInput: 1_000_000, CacheWrite5m: 1_000_000, CacheWrite1h: 1_000_000, Output: 1_000_000}},
			want: "48.6", // 6 + 0.6 + 7.5 + 12 + 22.5
		},
		{
			name: "long context batch is half the long context price",
			rec: usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5"), LongContext: true, Batch: true,
				Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}},
			want: "14.25", // (6 + 22.5) / 2
		},
		{
			name: "long context on a model without the tier uses standard",
			rec: usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-haiku-4-5-20251001"), LongContext: true,
				Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}},
			want: "6",
		},
		{
			name: "embeddings have no cache discount",
			rec: usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("text-embedding-3-small"),
				Tokens: usage.Tokens{Input: 500_000, CachedInput: 500_000}},
			want: "0.02",
		},
		{
			name: "no tokens cost nothing but are priced",
			rec:  usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-5")},
			want: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.Day = d
			got, ok := c.Cost(&tt.rec)
			if !ok {
				t.Fatal("unpriced")
			}
			if want := usd(t, tt.want); got != want {
				t.Fatalf("cost %s, want %s", got, want)
			}
		})
	}
}

func TestCost_UnpricedModels(t *testing.T) {
	c := Default()
	d := day(t, "2026-01-15")
	for _, rec := range []usage.UsageRecord{
		{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-image-1"), Day: d, Tokens: usage.Tokens{Input: 10}},
		{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-2.1"), Day: d, Tokens: usage.Tokens{Input: 10}},
		{Provider: usage.OpenRouter.ID(), Model: usage.Intern("anthropic/claude-sonnet-4.5"), Day: d, Tokens: usage.Tokens{Input: 10}, Billed: ledger.Cent, HasBilled: true},
		{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-5"), Day: day(t, "2025-08-06"), Tokens: usage.Tokens{Input: 10}}, // before launch
	} {
		if got, ok := c.Cost(&rec); ok {
			t.Errorf("%s %s on %s: priced at %s, want unpriced", rec.Provider, rec.Model, rec.Day, got)
		}
	}
}

func TestWith_OverridesWin(t *testing.T) {
	base := Default()
	d := day(t, "2026-01-15")
	got, err := base.With([]Entry{
		// Undated: must not be shadowed by the embedded 2025-04-14 row.
		{Provider: usage.OpenAI, Model: "gpt-4.1", Standard: Price{Input: usd(t, "1"), Output: usd(t, "4")}},
		// A new model, with an explicit batch price.
		{Provider: usage.Anthropic, Model: "claude-next", EffectiveFrom: day(t, "2026-01-01"),
			Standard: Price{Input: usd(t, "2"), Output: usd(t, "10")},
			Batch:    &Price{Input: usd(t, "0.5"), Output: usd(t, "3")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rec  usage.UsageRecord
		want string
	}{
		{usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4.1-2025-04-14"), Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "5"},
		{usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern("gpt-4.1-mini"), Tokens: usage.Tokens{Input: 1_000_000}}, "0.4"},
		{usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-next-20260101"), Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "12"},
		{usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-next"), Batch: true, Tokens: usage.Tokens{Input: 1_000_000, Output: 1_000_000}}, "3.5"},
	}
	for _, tt := range tests {
		tt.rec.Day = d
		cost, ok := got.Cost(&tt.rec)
		if !ok || cost != usd(t, tt.want) {
			t.Errorf("%s: %s %v, want %s", tt.rec.Model, cost, ok, tt.want)
		}
	}
	// The base catalog is unchanged.
	if e, _ := base.Lookup(usage.OpenAI, "gpt-4.1", d); e.Standard.Input != usd(t, "2") {
		t.Errorf("base catalog changed: %s", e.Standard.Input)
	}
	if len(got.Entries()) != len(base.Entries())+1 {
		t.Errorf("entries %d, want %d", len(got.Entries()), len(base.Entries())+1)
	}
}

func TestNew_RejectsBadRows(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"duplicate", []Entry{{Provider: usage.OpenAI, Model: "m", EffectiveFrom: 5}, {Provider: usage.OpenAI, Model: "m", EffectiveFrom: 5}},
			"price 1: duplicate row for openai m effective 1970-01-06"},
		{"openrouter", []Entry{{Provider: usage.OpenRouter, Model: "m"}},
			"price 0 (openrouter m): openrouter usage carries its own billed cost and is never priced from the catalog"},
		{"unknown provider", []Entry{{Provider: "mistral", Model: "m"}},
			`price 0 (mistral m): unknown provider "mistral" (want openai or anthropic)`},
		{"empty model", []Entry{{Provider: usage.OpenAI}}, "price 0 (openai ): model is empty"},
		{"negative", []Entry{{Provider: usage.Anthropic, Model: "m", LongContext: &Price{Output: -1}}},
			"price 0 (anthropic m): long_context.output is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newCatalog(tt.entries)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
	// Same model on two days is fine.
	if _, err := newCatalog([]Entry{{Provider: usage.OpenAI, Model: "m", EffectiveFrom: 5}, {Provider: usage.OpenAI, Model: "m", EffectiveFrom: 6}}); err != nil {
		t.Fatal(err)
	}
}

func TestCost_DoesNotAllocate(t *testing.T) {
	c := Default()
	rec := usage.UsageRecord{Provider: usage.Anthropic.ID(), Model: usage.Intern("claude-sonnet-4-5-20250929"), Day: day(t, "2026-01-15"),
		Tokens: usage.Tokens{Input: 1000, CachedInput: 500, Output: 100}}
	c.Cost(&rec) // fill the cache
	if n := testing.AllocsPerRun(100, func() { c.Cost(&rec) }); n != 0 {
		t.Fatalf("%v allocations per Cost", n)
	}
}

// BenchmarkCost prices a mix of dated snapshots, as the engine does ~300k times per report.
func BenchmarkCost(b *testing.B) {
	c := Default()
	d := day(b, "2026-01-15")
	models := []struct {
		p usage.Provider
		m string
	}{
		{usage.OpenAI, "gpt-4.1-mini-2025-04-14"}, {usage.OpenAI, "gpt-5-2025-08-07"}, {usage.OpenAI, "o3-2025-04-16"},
		{usage.Anthropic, "claude-sonnet-4-5-20250929"}, {usage.Anthropic, "claude-haiku-4-5-20251001"}, {usage.OpenAI, "gpt-image-1"},
	}
	recs := make([]usage.UsageRecord, len(models))
	for i, m := range models {
		recs[i] = usage.UsageRecord{Provider: m.p.ID(), Model: usage.Intern(m.m), Day: d, Tokens: usage.Tokens{Input: 12_345, CachedInput: 6_789, CacheWrite5m: 100, Output: 2_345}}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Cost(&recs[i%len(recs)])
		i++
	}
}

func TestWith_ErrorsCountTheOverrideRows(t *testing.T) {
	_, err := Default().With([]Entry{
		{Provider: usage.OpenAI, Model: "gpt-4.1"},
		{Provider: usage.OpenAI, Model: "gpt-4.1"},
	})
	if want := "price 1: duplicate row for openai gpt-4.1 effective 1970-01-01"; err == nil || err.Error() != want {
		t.Fatalf("err %v, want %s", err, want)
	}
}

func TestCost_ConcurrentLookupsAgree(t *testing.T) {
	c, err := newCatalog(Default().Entries()) // a fresh, empty lookup cache
	if err != nil {
		t.Fatal(err)
	}
	d := day(t, "2026-01-15")
	names := []string{"gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-5-2025-08-07", "unknown-1", "o3-2025-04-16", "gpt-4o-2024-05-13"}
	want := make([]ledger.Money, len(names))
	for i, n := range names {
		want[i], _ = Default().Cost(&usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern(n), Day: d, Tokens: usage.Tokens{Input: 1000, Output: 10}})
	}
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				k := (i + g) % len(names)
				got, _ := c.Cost(&usage.UsageRecord{Provider: usage.OpenAI.ID(), Model: usage.Intern(names[k]), Day: d, Tokens: usage.Tokens{Input: 1000, Output: 10}})
				if got != want[k] {
					done <- fmt.Errorf("%s: %s, want %s", names[k], got, want[k])
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
