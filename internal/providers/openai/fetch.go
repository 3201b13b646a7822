package openai

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

// DefaultProject is the source reference Margin gives usage that a project-grouped row reports
// with a null project_id: the organisation's default project.
var DefaultProject = usage.Ref(usage.OpenAI, usage.KindProject, "default")

// Fetch reads usage, billed costs and source names for the window, clamped to what OpenAI
// serves: the last 31 complete UTC days and today so far. Usage runs up to now (never a future
// end_time, provider-apis.md trap 10); costs cover complete days only, because a day's costs
// are not final until it ends. Requests go out one at a time.
// GET /organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions},
// GET /organization/costs, GET /organization/projects, GET /organization/projects/{project_id}/api_keys
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	now := c.now().UTC()
	today := usage.DayOf(now)
	batch := &usage.Batch{Provider: usage.OpenAI}
	batch.Window, batch.Warnings = clampWindow(w, today)
	w = batch.Window

	start := w.From.Time()
	usageEnd := w.To.Time()
	if usageEnd.After(now) {
		usageEnd = now
	}
	if usageEnd.Unix() > start.Unix() {
		recs, err := c.fetchUsage(ctx, start, usageEnd)
		if err != nil {
			return nil, err
		}
		batch.Usage = recs
	}

	costEnd := min(w.To, today).Time()
	if costEnd.After(start) {
		costs, err := c.fetchCosts(ctx, start, costEnd)
		if err != nil {
			return nil, err
		}
		batch.Costs = costs
	}

	sources, err := c.fetchSources(ctx)
	if err != nil {
		return nil, err
	}
	batch.Sources = sources
	return batch, nil
}

// clampWindow limits w to [today-31, today+1) and says what it cut.
func clampWindow(w usage.Window, today usage.Day) (usage.Window, []string) {
	earliest := today - usage.Day(usage.OpenAI.RetentionDays())
	latest := today + 1
	var warnings []string
	if w.From < earliest {
		warnings = append(warnings, fmt.Sprintf("openai: window starts %s but OpenAI serves %d days back only: reading from %s", w.From, usage.OpenAI.RetentionDays(), earliest))
		w.From = earliest
	}
	if w.To > latest {
		warnings = append(warnings, fmt.Sprintf("openai: window ends %s, after today: reading to %s", w.To-1, today))
		w.To = latest
	}
	if w.To < w.From {
		w.To = w.From
	}
	return w, warnings
}

type usageKey struct {
	day        usage.Day
	key, scope usage.SourceRef
	model      string
	batch      bool
}

// fetchUsage reads every usage endpoint and sums rows that fall on the same (day, key, project,
// model, batch): service tiers and endpoints split what Margin counts as one record.
func (c *Client) fetchUsage(ctx context.Context, start, end time.Time) ([]usage.UsageRecord, error) {
	sums := map[usageKey]*usage.UsageRecord{}
	for _, ep := range usageEndpoints {
		for bucket, err := range c.Usage(ctx, ep, start, end) {
			if err != nil {
				return nil, fmt.Errorf("reading openai %s usage: %w", ep, err)
			}
			day := usage.DayOf(time.Unix(bucket.StartTime, 0))
			for _, r := range bucket.Results {
				k := usageKey{
					day:   day,
					key:   keyRef(r.APIKeyID),
					scope: projectRef(r.ProjectID),
					model: deref(r.Model),
					batch: bool(r.Batch),
				}
				rec := sums[k]
				if rec == nil {
					rec = &usage.UsageRecord{Provider: usage.OpenAI, Day: k.day, Key: k.key, Scope: k.scope, Model: k.model, Batch: k.batch}
					sums[k] = rec
				}
				rec.Tokens.Add(r.tokens(ep))
				rec.Requests += r.NumModelRequests
			}
		}
	}
	out := make([]usage.UsageRecord, 0, len(sums))
	for _, rec := range sums {
		out = append(out, *rec)
	}
	slices.SortFunc(out, func(a, b usage.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Key, b.Key),
			cmp.Compare(a.Model, b.Model), compareBool(a.Batch, b.Batch))
	})
	return out, nil
}

// tokens normalises a row into disjoint token classes (trap 5): input_tokens includes cached and
// cache-write tokens, so both are taken out of Input. Images and audio carry no tokens Margin
// prices; their money comes from the costs API.
func (r UsageResult) tokens(ep UsageEndpoint) usage.Tokens {
	switch ep {
	case Completions:
		return usage.Tokens{
			Input:        max(r.InputTokens-r.InputCachedTokens-r.InputCacheWriteTokens, 0),
			CachedInput:  r.InputCachedTokens,
			CacheWrite5m: r.InputCacheWriteTokens,
			Output:       r.OutputTokens,
		}
	case Embeddings:
		return usage.Tokens{Input: r.InputTokens}
	}
	return usage.Tokens{}
}

type costKey struct {
	day                usage.Day
	source             usage.SourceRef
	model, description string
}

// fetchCosts reads billed costs per day, at the finest grain OpenAI bills: the API key when the
// charge has one, otherwise the project.
func (c *Client) fetchCosts(ctx context.Context, start, end time.Time) ([]usage.CostRecord, error) {
	sums := map[costKey]*usage.CostRecord{}
	for bucket, err := range c.Costs(ctx, start, end) {
		if err != nil {
			return nil, fmt.Errorf("reading openai costs: %w", err)
		}
		day := usage.DayOf(time.Unix(bucket.StartTime, 0))
		for _, r := range bucket.Results {
			if r.Amount == nil || r.Amount.Value == "" {
				continue // a line without an amount bills nothing
			}
			if !strings.EqualFold(r.Amount.Currency, "usd") {
				return nil, fmt.Errorf("openai: GET %s: day %s: amount in currency %q, want usd", costsEndpoint, day, r.Amount.Currency)
			}
			amount, err := r.Amount.Value.Dollars()
			if err != nil {
				return nil, fmt.Errorf("openai: GET %s: day %s: amount.value: %w", costsEndpoint, day, err)
			}
			source := keyRef(r.APIKeyID)
			if source == "" {
				source = projectRef(r.ProjectID)
			}
			desc := deref(r.LineItem)
			k := costKey{day: day, source: source, model: lineItemModel(desc), description: desc}
			rec := sums[k]
			if rec == nil {
				rec = &usage.CostRecord{Provider: usage.OpenAI, Day: day, Source: source, Model: k.model, Description: desc}
				sums[k] = rec
			}
			rec.Amount += amount
		}
	}
	out := make([]usage.CostRecord, 0, len(sums))
	for _, rec := range sums {
		out = append(out, *rec)
	}
	slices.SortFunc(out, func(a, b usage.CostRecord) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Description, b.Description))
	})
	return out, nil
}

// lineItemModel returns the model a line item bills, the text before ", " in forms like
// "gpt-4.1-mini-2025-04-14, input"; "" for line items without one (tools, storage).
func lineItemModel(lineItem string) string {
	model, _, ok := strings.Cut(lineItem, ", ")
	if !ok {
		return ""
	}
	return model
}

// fetchSources lists every project, archived ones included, and every API key of each.
func (c *Client) fetchSources(ctx context.Context) ([]usage.SourceInfo, error) {
	var projects []Project
	for p, err := range c.ListProjects(ctx) {
		if err != nil {
			return nil, fmt.Errorf("listing openai projects: %w", err)
		}
		projects = append(projects, p)
	}
	var out []usage.SourceInfo
	for _, p := range projects {
		scope := usage.Ref(usage.OpenAI, usage.KindProject, p.ID)
		out = append(out, usage.SourceInfo{Ref: scope, Name: deref(p.Name)})
		for k, err := range c.ListProjectAPIKeys(ctx, p.ID) {
			if err != nil {
				return nil, fmt.Errorf("listing openai API keys of project %s: %w", p.ID, err)
			}
			out = append(out, usage.SourceInfo{Ref: usage.Ref(usage.OpenAI, usage.KindAPIKey, k.ID), Name: k.Name, Scope: scope})
		}
	}
	return out, nil
}

// keyRef returns the source reference of an api_key_id, or "" when there is none.
func keyRef(id *string) usage.SourceRef {
	if id == nil || *id == "" {
		return ""
	}
	return usage.Ref(usage.OpenAI, usage.KindAPIKey, *id)
}

// projectRef returns the source reference of a project_id; null means the default project,
// because Margin always groups by project_id (trap 13).
func projectRef(id *string) usage.SourceRef {
	if id == nil || *id == "" {
		return DefaultProject
	}
	return usage.Ref(usage.OpenAI, usage.KindProject, *id)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
