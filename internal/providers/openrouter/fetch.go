package openrouter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// Fetch reads every key's daily activity for the window and names the keys. The window is clamped
// to what /activity serves, the last 30 completed UTC days [today-30, today), with a warning when
// it is cut. Each row carries OpenRouter's own charge (Billed), so there are no separate cost
// records. Requests go out one at a time: the key lists, then one /activity call per key that was
// ever used, then the account-level /activity.
//
// Keys are listed in the default workspace and in every workspace /workspaces returns, but a
// deleted key is listed nowhere, so the account's own /activity (all workspaces, deleted keys
// included) is read as well: whatever it holds beyond the listed keys, per day and model, is
// usage of usage.OpenRouterUnlisted, so the batch's total is the account's spend.
// GET /keys, GET /workspaces, GET /keys?workspace_id=, GET /activity?api_key_hash=, GET /activity
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	today := usage.DayOf(c.now())
	batch := &usage.Batch{Provider: usage.OpenRouter}
	batch.Window, batch.Warnings = usage.ClampWindow(usage.OpenRouter, w, today)
	w = batch.Window

	keys, warnings, err := c.listAllKeys(ctx)
	if err != nil {
		return nil, err
	}
	batch.Warnings = append(batch.Warnings, warnings...)
	for _, k := range keys {
		batch.Sources = append(batch.Sources, usage.SourceInfo{Ref: keyRef(k.Hash), Name: k.DisplayName()})
	}
	if w.Days() == 0 {
		return batch, nil
	}

	sums := map[usageKey]*usage.UsageRecord{}
	idle := 0
	for _, k := range keys {
		if k.Idle() {
			idle++
			continue
		}
		rows, err := c.Activity(ctx, k.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading openrouter activity of key %s: %w", k.Hash, err)
		}
		if err := addActivity(sums, w, keyRef(k.Hash), rows); err != nil {
			return nil, err
		}
	}
	account, err := c.AccountActivity(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading openrouter account activity: %w", err)
	}
	unlisted, warnings, err := unlistedUsage(w, sums, account)
	if err != nil {
		return nil, err
	}
	batch.Warnings = append(batch.Warnings, warnings...)
	c.logger.Debug("fetched", "window", w.String(), "keys", len(keys), "idle_keys_skipped", idle, "unlisted_rows", len(unlisted))

	batch.Usage = make([]usage.UsageRecord, 0, len(sums)+len(unlisted))
	for _, rec := range sums {
		batch.Usage = append(batch.Usage, *rec)
	}
	batch.Usage = append(batch.Usage, unlisted...)
	if len(unlisted) > 0 {
		batch.Sources = append(batch.Sources, usage.SourceInfo{Ref: usage.OpenRouterUnlisted, Name: unlistedName})
	}
	slices.SortFunc(batch.Usage, func(a, b usage.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), strings.Compare(a.Key.String(), b.Key.String()), strings.Compare(a.Model.String(), b.Model.String()))
	})
	return batch, nil
}

// unlistedName names usage.OpenRouterUnlisted where unattributed spend is listed.
const unlistedName = "spend of keys not listed (deleted keys, other workspaces)"

// listAllKeys lists the keys of the default workspace and of every listed workspace, each key
// once (the default workspace is listed both ways). A workspace list the key may not read (403)
// or the server does not serve (404) is a warning, not a failure: the account-level /activity
// still brings those keys' spend, as unlisted.
func (c *Client) listAllKeys(ctx context.Context) ([]Key, []string, error) {
	var keys []Key
	seen := map[string]bool{}
	add := func(it iter.Seq2[Key, error], where string) error {
		for k, err := range it {
			if err != nil {
				return fmt.Errorf("listing openrouter keys%s: %w", where, err)
			}
			if !seen[k.Hash] {
				seen[k.Hash] = true
				keys = append(keys, k)
			}
		}
		return nil
	}
	if err := add(c.ListKeys(ctx), ""); err != nil {
		return nil, nil, err
	}
	var workspaces []Workspace
	for ws, err := range c.ListWorkspaces(ctx) {
		if err != nil {
			var ae *apiclient.Error
			if errors.As(err, &ae) && (ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusNotFound) {
				return keys, []string{fmt.Sprintf("openrouter: keys of the default workspace only (%v): spend of keys in other workspaces is shown under %s", err, usage.OpenRouterUnlisted)}, nil
			}
			return nil, nil, fmt.Errorf("listing openrouter workspaces: %w", err)
		}
		workspaces = append(workspaces, ws)
	}
	for _, ws := range workspaces {
		if err := add(c.ListWorkspaceKeys(ctx, ws.ID), " of workspace "+ws.ID); err != nil {
			return nil, nil, err
		}
	}
	return keys, nil, nil
}

// unlistedUsage returns, per day and model of w, the account's activity that the listed keys'
// records (sums) do not account for, as records of usage.OpenRouterUnlisted. Where the listed keys
// hold more than the account (the reads straddled an update), the keys' figures are kept, the
// excess is not subtracted twice, and a warning says so.
func unlistedUsage(w usage.Window, sums map[usageKey]*usage.UsageRecord, account []ActivityItem) ([]usage.UsageRecord, []string, error) {
	type dayModel struct {
		day   usage.Day
		model string
	}
	total := map[dayModel]*usage.UsageRecord{}
	accountSums := map[usageKey]*usage.UsageRecord{}
	if err := addActivity(accountSums, w, usage.OpenRouterUnlisted, account); err != nil {
		return nil, nil, err
	}
	for k, rec := range accountSums {
		total[dayModel{k.day, k.model}] = rec
	}
	listed := map[dayModel]*usage.UsageRecord{}
	for k, rec := range sums {
		dm := dayModel{k.day, k.model}
		l := listed[dm]
		if l == nil {
			l = &usage.UsageRecord{}
			listed[dm] = l
		}
		l.Tokens.Add(rec.Tokens)
		l.Requests += rec.Requests
		l.Billed += rec.Billed
	}
	var out []usage.UsageRecord
	var warnings []string
	for dm, l := range listed {
		if _, ok := total[dm]; !ok && (l.Billed != 0 || l.Tokens.Total() != 0) {
			warnings = append(warnings, fmt.Sprintf("openrouter: %s %s: the listed keys spent %s but the account-level /activity has no such row; keeping the keys' figures", dm.day, dm.model, l.Billed))
		}
	}
	var none usage.UsageRecord
	for dm, t := range total {
		rec := *t
		l := listed[dm]
		if l == nil {
			l = &none
		}
		if l.Billed > t.Billed {
			warnings = append(warnings, fmt.Sprintf("openrouter: %s %s: the listed keys spent %s, more than the account-level /activity's %s; keeping the keys' figures", dm.day, dm.model, l.Billed, t.Billed))
		}
		rec.Billed = max(0, t.Billed-l.Billed)
		rec.Requests = max(0, t.Requests-l.Requests)
		rec.Tokens = usage.Tokens{
			Input:     max(0, t.Tokens.Input-l.Tokens.Input),
			Output:    max(0, t.Tokens.Output-l.Tokens.Output),
			Reasoning: max(0, t.Tokens.Reasoning-l.Tokens.Reasoning),
		}
		if rec.Billed == 0 && rec.Requests == 0 && rec.Tokens.Total() == 0 {
			continue
		}
		out = append(out, rec)
	}
	slices.Sort(warnings)
	return out, warnings, nil
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
			rec = &usage.UsageRecord{Provider: usage.OpenRouter.ID(), Day: day, Key: usage.InternRef(key), Model: usage.Intern(r.Model), HasBilled: true}
			sums[k] = rec
		}
		rec.Tokens.Add(usage.Tokens{Input: r.PromptTokens, Output: r.CompletionTokens, Reasoning: r.ReasoningTokens})
		rec.Requests += r.Requests
		rec.Billed += r.Usage.Money()
	}
	return nil
}
