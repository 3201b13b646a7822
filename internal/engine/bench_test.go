package engine

import (
	"fmt"
	"testing"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// benchFacts builds keys × models × days of daily usage with bills at each provider's real grain:
// OpenAI per key and model, Anthropic per workspace and model (split by the engine), OpenRouter
// per row. Half the keys map to customers.
func benchFacts(keys, models, days int) (*Facts, Mapping) {
	today := usage.Day(20_420)
	w := usage.Window{From: today - usage.Day(days), To: today}
	oaModels := []string{"gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14", "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "o3-2025-04-16", "o4-mini-2025-04-16", "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-5-nano-2025-08-07"}
	anModels := []string{"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805", "claude-sonnet-4-20250514", "claude-3-5-haiku-20241022", "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929-x", "claude-haiku-4-5-x", "claude-opus-4-1-x", "claude-sonnet-4-x"}
	oa := &usage.Batch{Provider: usage.OpenAI}
	an := &usage.Batch{Provider: usage.Anthropic}
	or := &usage.Batch{Provider: usage.OpenRouter}
	m := Mapping{Customers: map[string][]usage.SourceRef{}}
	for k := 0; k < keys; k++ {
		var b *usage.Batch
		var key, scope usage.SourceRef
		names := oaModels
		switch k % 10 {
		case 0, 1, 2, 3, 4:
			b, key, scope = oa, usage.Ref(usage.OpenAI, usage.KindAPIKey, fmt.Sprintf("key_%05d", k)), usage.Ref(usage.OpenAI, usage.KindProject, fmt.Sprintf("proj_%02d", k%7))
		case 5, 6, 7, 8:
			b, key, scope = an, usage.Ref(usage.Anthropic, usage.KindAPIKey, fmt.Sprintf("apikey_%05d", k)), usage.Ref(usage.Anthropic, usage.KindWorkspace, fmt.Sprintf("wrkspc_%02d", k%20))
			names = anModels
		default:
			b, key = or, usage.Ref(usage.OpenRouter, usage.KindKey, fmt.Sprintf("%064d", k))
		}
		b.Sources = append(b.Sources, usage.SourceInfo{Ref: key, Name: fmt.Sprintf("key %d", k), Scope: scope})
		if k%2 == 0 {
			m.Customers[fmt.Sprintf("cus_%05d", k)] = []usage.SourceRef{key}
		}
		for mi := 0; mi < models; mi++ {
			model := names[mi%len(names)]
			for d := w.From; d < w.To; d++ {
				tok := int64(1000 + (k*31+mi*7+int(d))%5000)
				r := usage.UsageRecord{Provider: b.Provider.ID(), Day: d, Key: usage.InternRef(key), Scope: usage.InternRef(scope), Model: usage.Intern(model),
					Tokens: usage.Tokens{Input: tok * 10, CachedInput: tok * 3, Output: tok}, Requests: 10}
				switch b.Provider {
				case usage.OpenRouter:
					r.Billed, r.HasBilled = ledger.Money(tok)*ledger.Micro, true
				case usage.OpenAI:
					// One line item per token type, as OpenAI bills them.
					for _, li := range [...]struct {
						tt  usage.TokenType
						per ledger.Money
					}{{usage.TokenInput, 2}, {usage.TokenCachedInput, 1}, {usage.TokenOutput, 8}} {
						b.Costs = append(b.Costs, usage.CostRecord{Provider: usage.OpenAI.ID(), Day: d, Source: usage.InternRef(key), Item: usage.LineItemOf(usage.Intern(model), usage.NoSym, usage.NoSym), TokenType: li.tt,
							Amount: ledger.Money(tok) * li.per * ledger.Micro})
					}
				}
				b.Usage = append(b.Usage, r)
			}
		}
	}
	// Anthropic bills per workspace and model: one cost record per (day, workspace, model).
	for d := w.From; d < w.To; d++ {
		for ws := 0; ws < 20; ws++ {
			for mi := 0; mi < models; mi++ {
				an.Costs = append(an.Costs, usage.CostRecord{Provider: usage.Anthropic.ID(), Day: d,
					Source: usage.InternRef(usage.Ref(usage.Anthropic, usage.KindWorkspace, fmt.Sprintf("wrkspc_%02d", ws))), Item: usage.LineItemOf(usage.Intern(anModels[mi%len(anModels)]), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(3)})
			}
		}
	}
	return &Facts{Window: w, Today: today, Batches: []*usage.Batch{oa, an, or}}, m
}

// BenchmarkCompute measures attribution, pricing, reconciliation and the report over
// 1,000 keys × 10 models × 31 daily buckets (310,000 usage rows).
func BenchmarkCompute(b *testing.B) {
	f, m := benchFacts(1000, 10, 31)
	cat := catalog.Default()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := Compute(f, cat, m)
		rep := SummarizeFor(res, "usd", DefaultTargetMargin)
		if len(rep.Customers) == 0 {
			b.Fatal("no customers")
		}
	}
}

func TestBenchFacts_Reconcile(t *testing.T) {
	f, m := benchFacts(100, 3, 5)
	res := Compute(f, catalog.Default(), m)
	if len(res.Warnings) != 0 {
		t.Fatalf("warnings: %v", res.Warnings[:min(3, len(res.Warnings))])
	}
	for _, rc := range res.Reconciliation {
		if rc.Attributed+rc.Unattributed != rc.Billed || rc.Billed == 0 {
			t.Fatalf("%+v does not reconcile", rc)
		}
	}
}
