package catalog

import (
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

// ModelPricer must price every record exactly as Cost does: the engine uses it in Cost's place.
func TestModelPricer_AgreesWithCost(t *testing.T) {
	c := Default()
	models := map[lookupKey]bool{{usage.OpenAI, "gpt-4o-2024-08-06"}: true, {usage.Anthropic, "claude-sonnet-4-5-20250929"}: true,
		{usage.OpenAI, "o3-pro"}: true, {usage.OpenRouter, "openai/gpt-4o"}: true}
	for _, e := range c.Entries() {
		models[lookupKey{e.Provider, e.Model}] = true
	}
	var days []usage.Day
	for _, e := range c.Entries() {
		days = append(days, e.EffectiveFrom-1, e.EffectiveFrom)
	}
	days = append(days, 20_420)
	tiers := []usage.Tier{usage.TierStandard, usage.TierPriority, usage.TierFlex}
	checked, priced := 0, 0
	for k := range models {
		mp := c.ModelPricer(k.provider, k.model)
		for i, d := range days {
			r := usage.UsageRecord{Provider: k.provider.ID(), Model: usage.Intern(k.model), Day: d, Tier: tiers[i%len(tiers)],
				Batch: i%2 == 0, LongContext: i%3 == 0, USOnly: i%5 == 0, Fast: i%7 == 6,
				Tokens: usage.Tokens{Input: int64(1000 + i), CachedInput: int64(i), CacheWrite5m: 7, CacheWrite1h: 3, Output: 500, AudioInput: int64(i % 2)}}
			want, wantOK := c.Cost(&r)
			got, gotOK := mp.Cost(&r)
			if got != want || gotOK != wantOK {
				t.Fatalf("%s %s on %s: ModelPricer %s %v, Cost %s %v", k.provider, k.model, d, got, gotOK, want, wantOK)
			}
			checked++
			if wantOK {
				priced++
			}
		}
	}
	if priced == 0 || priced == checked {
		t.Fatalf("%d of %d records priced: the cases do not cover both outcomes", priced, checked)
	}
}
