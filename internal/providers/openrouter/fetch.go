package openrouter

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/marginhq/margin/internal/usage"
)

// Fetch reads every key's daily activity for the window and names the keys. The window is clamped
// to what /activity serves, the last 30 completed UTC days [today-30, today), with a warning when
// it is cut. Each row carries OpenRouter's own charge (Billed), so there are no separate cost
// records. Requests go out one at a time: the key list first, then one /activity call per key.
//
// Only keys of the default workspace are listed (/keys without workspace_id), and a deleted key is
// no longer listed, so their activity is not read.
// GET /keys, GET /activity
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	today := usage.DayOf(c.now())
	batch := &usage.Batch{Provider: usage.OpenRouter}
	batch.Window, batch.Warnings = clampWindow(w, today)
	w = batch.Window

	var keys []Key
	for k, err := range c.ListKeys(ctx) {
		if err != nil {
			return nil, fmt.Errorf("listing openrouter keys: %w", err)
		}
		keys = append(keys, k)
		batch.Sources = append(batch.Sources, usage.SourceInfo{Ref: keyRef(k.Hash), Name: k.DisplayName()})
	}
	if w.Days() == 0 {
		return batch, nil
	}

	sums := map[usageKey]*usage.UsageRecord{}
	for _, k := range keys {
		rows, err := c.Activity(ctx, k.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading openrouter activity of key %s: %w", k.Hash, err)
		}
		if err := addActivity(sums, w, keyRef(k.Hash), rows); err != nil {
			return nil, err
		}
	}
	batch.Usage = make([]usage.UsageRecord, 0, len(sums))
	for _, rec := range sums {
		batch.Usage = append(batch.Usage, *rec)
	}
	slices.SortFunc(batch.Usage, func(a, b usage.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Model, b.Model))
	})
	return batch, nil
}

// clampWindow limits w to [today-30, today) and says what it cut: /activity never serves today
// and nothing older than 30 completed days (provider-apis.md trap 11).
func clampWindow(w usage.Window, today usage.Day) (usage.Window, []string) {
	days := usage.OpenRouter.RetentionDays()
	earliest := today - usage.Day(days) // #nosec G115 -- retention is 30 days
	var warnings []string
	if w.From < earliest {
		warnings = append(warnings, fmt.Sprintf("openrouter: window starts %s but /activity serves the last %d completed days only: reading from %s", w.From, days, earliest))
		w.From = earliest
	}
	if w.To > today {
		warnings = append(warnings, fmt.Sprintf("openrouter: window ends %s but /activity serves completed days only: reading to %s", w.To-1, today-1))
		w.To = today
	}
	if w.To < w.From {
		w.To = w.From
	}
	return w, warnings
}

type usageKey struct {
	day   usage.Day
	key   usage.SourceRef
	model string
}

// addActivity adds the key's rows that fall in w to sums. Rows are per serving endpoint, so one
// (day, key, model) can span several rows; they are summed into one record.
//
// byok_usage_inference is left out on purpose (provider-apis.md trap 12): it is inference paid
// through the account's own provider key, billed by that provider, not by OpenRouter, and only
// estimated by OpenRouter at market rates. Adding it to Billed would overstate OpenRouter's bill,
// and where that provider is configured in Margin too its own cost API already reports the charge.
func addActivity(sums map[usageKey]*usage.UsageRecord, w usage.Window, key usage.SourceRef, rows []ActivityItem) error {
	for _, r := range rows {
		day, err := usage.ParseDay(r.Date)
		if err != nil {
			return errorf(activityEndpoint, "key %s: %w", key, err)
		}
		if !w.Contains(day) {
			continue
		}
		k := usageKey{day: day, key: key, model: r.Model}
		rec := sums[k]
		if rec == nil {
			rec = &usage.UsageRecord{Provider: usage.OpenRouter, Day: day, Key: key, Model: r.Model, HasBilled: true}
			sums[k] = rec
		}
		rec.Tokens.Add(usage.Tokens{Input: r.PromptTokens, Output: r.CompletionTokens, Reasoning: r.ReasoningTokens})
		rec.Requests += r.Requests
		rec.Billed += r.Usage.Money()
	}
	return nil
}
