package anthropic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// Fetch returns the usage, billed cost and sources of the window. The window is clamped to what
// the Admin API serves, [today−31, today+1), with a warning when it shrinks. Usage runs up to now,
// today's partial day included; cost covers complete days only and is not requested at all when
// the window has none, because the API answers 400 then (trap 10).
// GET /v1/organizations/{usage_report/messages,cost_report,workspaces,api_keys}
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	now := c.now().UTC()
	clamped, warnings := clampWindow(w, now)
	b := &usage.Batch{Provider: usage.Anthropic, Window: clamped, Warnings: warnings}

	if clamped.Days() > 0 {
		usageEnd := clamped.To.Time()
		if now.Before(usageEnd) {
			usageEnd = now // ending_at must not lie in the future (trap 10)
		}
		if clamped.From.Time().Before(usageEnd) {
			recs, err := c.fetchUsage(ctx, clamped.From.Time(), usageEnd)
			if err != nil {
				return nil, err
			}
			b.Usage = recs
		}
		costEnd := min(clamped.To, usage.DayOf(now))
		if clamped.From < costEnd {
			costs, err := c.fetchCosts(ctx, clamped.From.Time(), costEnd.Time())
			if err != nil {
				return nil, err
			}
			b.Costs = costs
		}
	}

	sources, err := c.fetchSources(ctx)
	if err != nil {
		return nil, err
	}
	b.Sources = sources
	c.logger.Debug("fetched", "window", clamped.String(), "usage_rows", len(b.Usage), "cost_rows", len(b.Costs), "sources", len(b.Sources))
	return b, nil
}

// clampWindow limits w to the days the Admin API serves: the 31 complete days before today and
// today itself.
func clampWindow(w usage.Window, now time.Time) (usage.Window, []string) {
	today := usage.DayOf(now)
	served := usage.Window{From: today - usage.Day(usage.Anthropic.RetentionDays()), To: today + 1} // #nosec G115 -- retention is 31 days
	out := usage.Window{From: max(w.From, served.From), To: min(w.To, served.To)}
	if out.To < out.From {
		out.To = out.From
	}
	if out == w {
		return out, nil
	}
	msg := fmt.Sprintf("anthropic: requested window %s clamped to %s: the Admin API serves only %s", w, out, served)
	if out.Days() == 0 {
		msg = fmt.Sprintf("anthropic: requested window %s is outside the days the Admin API serves (%s); nothing fetched", w, served)
	}
	return out, []string{msg}
}

// usageKey is the grain of a UsageRecord. Rows that differ only in dimensions that change neither
// the source nor the price (standard vs priority tier, say) are summed into one record.
type usageKey struct {
	day                usage.Day
	key, scope         usage.SourceRef
	model              string
	batch, longContext bool
}

func (c *Client) fetchUsage(ctx context.Context, start, end time.Time) ([]usage.UsageRecord, error) {
	sums := map[usageKey]*usage.UsageRecord{}
	for bucket, err := range c.MessagesUsage(ctx, start, end) {
		if err != nil {
			return nil, err
		}
		day, err := bucketDay(usageEndpoint, bucket.StartingAt, start, end)
		if err != nil {
			return nil, err
		}
		for _, r := range bucket.Results {
			k := usageKey{
				day:         day,
				key:         apiKeyRef(stringOrEmpty(r.APIKeyID)),
				scope:       workspaceRef(stringOrEmpty(r.WorkspaceID)),
				model:       stringOrEmpty(r.Model),
				batch:       stringOrEmpty(r.ServiceTier) == serviceTierBatch,
				longContext: stringOrEmpty(r.ContextWindow) == contextWindowLongRange,
			}
			rec := sums[k]
			if rec == nil {
				rec = &usage.UsageRecord{
					Provider: usage.Anthropic, Day: k.day, Key: k.key, Scope: k.scope,
					Model: k.model, Batch: k.batch, LongContext: k.longContext,
				}
				sums[k] = rec
			}
			rec.Tokens.Add(usage.Tokens{
				Input:        r.UncachedInputTokens,
				CachedInput:  r.CacheReadInputTokens,
				CacheWrite5m: r.CacheCreation.Ephemeral5mInputTokens,
				CacheWrite1h: r.CacheCreation.Ephemeral1hInputTokens,
				Output:       r.OutputTokens,
			})
		}
	}
	out := make([]usage.UsageRecord, 0, len(sums))
	for _, rec := range sums {
		out = append(out, *rec)
	}
	slices.SortFunc(out, compareUsage)
	return out, nil
}

func compareUsage(a, b usage.UsageRecord) int {
	return cmp.Or(
		cmp.Compare(a.Day, b.Day),
		cmp.Compare(a.Scope, b.Scope),
		cmp.Compare(a.Key, b.Key),
		cmp.Compare(a.Model, b.Model),
		compareBool(a.Batch, b.Batch),
		compareBool(a.LongContext, b.LongContext),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// bucketDay returns the UTC day a bucket starts on; a bucket without a start, or starting outside
// the query [start, end), is malformed.
func bucketDay(endpoint string, startingAt, start, end time.Time) (usage.Day, error) {
	if startingAt.IsZero() {
		return 0, &apiclient.Error{Provider: string(usage.Anthropic), Endpoint: endpoint,
			Err: &apiclient.DecodeError{Err: errors.New("bucket without starting_at")}}
	}
	if err := apiclient.CheckBucket(string(usage.Anthropic), endpoint, startingAt, start, end); err != nil {
		return 0, err
	}
	return usage.DayOf(startingAt), nil
}

func (c *Client) fetchCosts(ctx context.Context, start, end time.Time) ([]usage.CostRecord, error) {
	var out []usage.CostRecord
	for bucket, err := range c.CostReport(ctx, start, end) {
		if err != nil {
			return nil, err
		}
		day, err := bucketDay(costEndpoint, bucket.StartingAt, start, end)
		if err != nil {
			return nil, err
		}
		for _, r := range bucket.Results {
			amount, err := r.Money()
			if err != nil {
				return nil, fmt.Errorf("anthropic: GET %s: %s: %w", costEndpoint, day, err)
			}
			desc := stringOrEmpty(r.Description)
			if desc == "" {
				desc = stringOrEmpty(r.CostType)
			}
			out = append(out, usage.CostRecord{
				Provider:    usage.Anthropic,
				Day:         day,
				Source:      workspaceRef(stringOrEmpty(r.WorkspaceID)),
				Model:       stringOrEmpty(r.Model),
				Description: desc,
				Amount:      amount,
			})
		}
	}
	return out, nil
}

// fetchSources lists workspaces, the default workspace (never listed) and API keys.
func (c *Client) fetchSources(ctx context.Context) ([]usage.SourceInfo, error) {
	var out []usage.SourceInfo
	listed := map[string]bool{}
	for ws, err := range c.ListWorkspaces(ctx) {
		if err != nil {
			return nil, err
		}
		listed[ws.ID] = true
		out = append(out, usage.SourceInfo{Ref: workspaceRef(ws.ID), Name: ws.Name})
	}
	out = append(out, usage.SourceInfo{Ref: defaultWorkspaceRef, Name: defaultWorkspaceName})
	for key, err := range c.ListAPIKeys(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, usage.SourceInfo{Ref: apiKeyRef(key.ID), Name: key.Name, Scope: key.WorkspaceRef(listed)})
	}
	return out, nil
}
