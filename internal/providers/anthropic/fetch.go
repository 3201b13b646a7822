package anthropic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// Fetch returns the usage, billed cost and sources of the window. The window is clamped to
// [today−usage.MaxBackfillDays, today+1), with a warning when it shrinks: Anthropic documents no
// retention for these reports (31 is the per-page limit of daily buckets, which Fetch pages
// through), so Fetch reads what the API returns and, for a window reaching further back than one
// page, says which first day had data. Usage is asked through the window's last midnight, the
// next UTC midnight when the window reaches today: the report returns only buckets that end
// before ending_at, so ending_at = now would leave out today's partial day (provider-apis.md,
// correction 5). Cost covers complete days only and is not requested at all when the window has
// none, because the API answers 400 then (trap 10).
// GET /v1/organizations/{usage_report/messages,cost_report,workspaces,api_keys}
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	now := c.now().UTC()
	clamped, warnings := usage.ClampWindow(usage.Anthropic, w, usage.DayOf(now))
	b := &usage.Batch{Provider: usage.Anthropic, Window: clamped, Warnings: warnings}

	// Sources first: their count sizes the report pages, as for OpenAI.
	sources, err := c.names.Sources(ctx, now, nil, c.fetchSources)
	if err != nil {
		return nil, err
	}
	perPage := bucketsPerPage(sources)

	if clamped.Days() > 0 {
		if usageEnd := usageEndingAt(clamped, now); clamped.From.Time().Before(usageEnd) {
			recs, err := c.fetchUsage(ctx, clamped.From.Time(), usageEnd, perPage)
			if err != nil {
				return nil, err
			}
			b.Usage = recs
		}
		costEnd := min(clamped.To, usage.DayOf(now))
		if clamped.From < costEnd {
			costs, err := c.fetchCosts(ctx, clamped.From.Time(), costEnd.Time(), perPage)
			if err != nil {
				return nil, err
			}
			b.Costs = costs
		}
	}

	if n := usage.BackfillNotice(b, usage.DayOf(now)); n != "" {
		b.Warnings = append(b.Warnings, n)
	}

	// A cached listing that lacks a source the usage names (a key made since) is read again now.
	if c.names.Caching() {
		if sources, err = c.names.Sources(ctx, now, b, c.fetchSources); err != nil {
			return nil, err
		}
	}
	b.Sources = sources
	c.logger.Debug("fetched", "window", clamped.String(), "usage_rows", len(b.Usage), "cost_rows", len(b.Costs), "sources", len(b.Sources))
	return b, nil
}

// usageEndingAt is the usage report's ending_at for window w: the midnight that ends it. When w
// reaches today that is the next UTC midnight, in the future: today's 1-day bucket ends then,
// and the report returns only buckets that end before ending_at. The cost report keeps its own,
// complete-day end.
func usageEndingAt(w usage.Window, now time.Time) time.Time {
	return min(w.To, usage.DayOf(now)+1).Time()
}

// usageKey is the grain of a UsageRecord. Rows that differ only in dimensions that change neither
// the source nor the price (standard vs priority tier, say) are summed into one record.
type usageKey struct {
	day                usage.Day
	key, scope         usage.SourceRef
	model              string
	batch, longContext bool
	tier               usage.Tier
	usOnly, fast       bool
}

func (c *Client) fetchUsage(ctx context.Context, start, end time.Time, perPage int) ([]usage.UsageRecord, error) {
	sums := map[usageKey]*usage.UsageRecord{}
	syms := usage.Syms{}
	for bucket, err := range c.messagesUsage(ctx, start, end, perPage) {
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
				tier:        usage.ParseTier(stringOrEmpty(r.ServiceTier)),
				usOnly:      stringOrEmpty(r.InferenceGeo) == inferenceGeoUS,
				fast:        stringOrEmpty(r.Speed) == speedFast,
			}
			rec := sums[k]
			if rec == nil {
				rec = &usage.UsageRecord{
					Provider: usage.Anthropic.ID(), Day: k.day, Key: syms.Of(string(k.key)), Scope: syms.Of(string(k.scope)),
					Model: syms.Of(k.model), Batch: k.batch, LongContext: k.longContext, Tier: k.tier, USOnly: k.usOnly, Fast: k.fast,
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
		strings.Compare(a.Scope.String(), b.Scope.String()),
		strings.Compare(a.Key.String(), b.Key.String()),
		strings.Compare(a.Model.String(), b.Model.String()),
		compareBool(a.Batch, b.Batch),
		compareBool(a.LongContext, b.LongContext),
		cmp.Compare(a.Tier, b.Tier),
		compareBool(a.USOnly, b.USOnly),
		compareBool(a.Fast, b.Fast),
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

func (c *Client) fetchCosts(ctx context.Context, start, end time.Time, perPage int) ([]usage.CostRecord, error) {
	var out []usage.CostRecord
	syms, items := usage.Syms{}, usage.LineItems{}
	for bucket, err := range c.costReport(ctx, start, end, perPage) {
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
				Provider:  usage.Anthropic.ID(),
				Day:       day,
				Source:    syms.Of(string(workspaceRef(stringOrEmpty(r.WorkspaceID)))),
				Item:      items.Of(syms.Of(stringOrEmpty(r.Model)), syms.Of(desc), usage.NoSym),
				TokenType: costTokenType(stringOrEmpty(r.TokenType)),
				Class:     r.class().Bits(),
				Amount:    amount,
			})
		}
	}
	return out, nil
}

// costTokenType maps the cost report's token_type onto the usage token class it bills; other
// values (and non-token costs, where it is null) name none.
func costTokenType(s string) usage.TokenType {
	switch s {
	case "uncached_input_tokens":
		return usage.TokenInput
	case "output_tokens":
		return usage.TokenOutput
	case "cache_read_input_tokens":
		return usage.TokenCachedInput
	case "cache_creation.ephemeral_5m_input_tokens":
		return usage.TokenCacheWrite5m
	case "cache_creation.ephemeral_1h_input_tokens":
		return usage.TokenCacheWrite1h
	}
	return usage.TokenNone
}

// class is the price class a cost line names: its service tier, context window and geography.
func (r CostResult) class() usage.PriceClass {
	tier := stringOrEmpty(r.ServiceTier)
	return usage.PriceClass{
		Tier:        usage.ParseTier(tier),
		Batch:       tier == serviceTierBatch,
		LongContext: stringOrEmpty(r.ContextWindow) == contextWindowLongRange,
		USOnly:      stringOrEmpty(r.InferenceGeo) == inferenceGeoUS,
	}
}

// pageKeyDays is how many (API key, day) pairs a report page is asked to hold, as for OpenAI:
// a month a page up to 96 keys, one day a page from 3,000.
const pageKeyDays = 3000

// bucketsPerPage is the daily buckets to ask for a report page: pageKeyDays shared among the
// listed keys, at least one.
func bucketsPerPage(sources []usage.SourceInfo) int {
	keys := 0
	for _, s := range sources {
		if strings.HasPrefix(string(s.Ref), string(usage.Anthropic)+":"+string(usage.KindAPIKey)+":") {
			keys++
		}
	}
	return max(pageKeyDays/max(keys, 1), 1)
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
