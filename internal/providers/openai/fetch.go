package openai

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// DefaultProject is the source reference Margin gives usage that a project-grouped row reports
// with a null project_id: the organisation's default project.
var DefaultProject = usage.Ref(usage.OpenAI, usage.KindProject, "default")

// Fetch reads usage, billed costs and source names for the window, clamped to at most
// usage.MaxBackfillDays complete UTC days and today so far: OpenAI documents no retention limit
// (31 is the per-page limit of daily buckets, which Fetch pages through), so it reads what OpenAI
// returns and, for a window reaching further back than one page, says which first day had data.
// Sources are listed first: their count sizes the usage and cost pages (bucketsPerPage), so a
// page stays tens of megabytes however large the organisation.
// Usage runs up to now (never a future end_time, provider-apis.md trap 10); costs cover complete
// days only, because a day's costs are not final until it ends. Requests go out one at a time.
// GET /organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions},
// GET /organization/costs, GET /organization/projects, GET /organization/projects/{project_id}/api_keys
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	now := c.now().UTC()
	today := usage.DayOf(now)
	batch := &usage.Batch{Provider: usage.OpenAI}
	batch.Window, batch.Warnings = clampWindow(w, today)
	w = batch.Window

	sources, err := c.names.Sources(ctx, now, nil, c.fetchSources)
	if err != nil {
		return nil, err
	}
	perPage := bucketsPerPage(sources)

	start := w.From.Time()
	usageEnd := w.To.Time()
	if usageEnd.After(now) {
		usageEnd = now
	}
	if usageEnd.Unix() > start.Unix() {
		recs, err := c.fetchUsage(ctx, start, usageEnd, perPage)
		if err != nil {
			return nil, err
		}
		batch.Usage = recs
	}

	costEnd := min(w.To, today).Time()
	if costEnd.After(start) {
		costs, err := c.fetchCosts(ctx, start, costEnd, perPage)
		if err != nil {
			return nil, err
		}
		batch.Costs = costs
	}

	if n := usage.BackfillNotice(batch, today); n != "" {
		batch.Warnings = append(batch.Warnings, n)
	}

	// A cached listing that lacks a source the usage names (a key made since) is read again now.
	if c.names.Caching() {
		if sources, err = c.names.Sources(ctx, now, batch, c.fetchSources); err != nil {
			return nil, err
		}
	}
	batch.Sources = sources
	return batch, nil
}

// pageKeyDays is how many (API key, day) pairs a usage or cost page is asked to hold. With ten
// models a key, a key-day is about 11 KB of indented cost JSON, so a page stays near 32 MB; an
// organisation of up to a hundred keys still reads a month in one page per endpoint.
const pageKeyDays = 3000

// bucketsPerPage is the daily buckets to ask for a page: pageKeyDays shared among the listed keys
// (projects when no key is listed), at least one, since a bucket is the smallest page there is.
func bucketsPerPage(sources []usage.SourceInfo) int {
	keys, projects := 0, 0
	for _, s := range sources {
		if s.Scope != "" {
			keys++
		} else {
			projects++
		}
	}
	if keys == 0 {
		keys = projects
	}
	return max(pageKeyDays/max(keys, 1), 1)
}

// clampWindow limits w to [today-usage.MaxBackfillDays, today+1) and says what it cut.
func clampWindow(w usage.Window, today usage.Day) (usage.Window, []string) {
	earliest := today - usage.Day(usage.OpenAI.RetentionDays()) // #nosec G115 -- retention is 31 days
	latest := today + 1
	var warnings []string
	if w.From < earliest {
		warnings = append(warnings, fmt.Sprintf("openai: window starts %s but Margin reads at most %d days back (%s): reading from %s", w.From, usage.MaxBackfillDays, usage.OpenAI.RetentionStatement(), earliest))
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

// usageKey is a usage record's identity within a day.
type usageKey struct {
	key, scope usage.SourceRef
	model      string
	batch      bool
	tier       usage.Tier
}

// fetchUsage reads every usage endpoint and sums rows that fall on the same (day, key, project,
// model, batch): service tiers and endpoints split what Margin counts as one record.
func (c *Client) fetchUsage(ctx context.Context, start, end time.Time, perPage int) ([]usage.UsageRecord, error) {
	// Records live in one slice indexed by the map (no per-record allocation), and source
	// references are built once per id rather than once per row.
	agg := newDayAgg[usageKey, usage.UsageRecord]()
	refs := newRefCache()
	for _, ep := range usageEndpoints {
		for bucket, err := range c.usage(ctx, ep, start, end, perPage) {
			if err != nil {
				return nil, fmt.Errorf("reading openai %s usage: %w", ep, err)
			}
			if err := apiclient.CheckBucket("openai", ep.Path(), time.Unix(bucket.StartTime, 0), start, end); err != nil {
				return nil, err
			}
			day := usage.DayOf(time.Unix(bucket.StartTime, 0))
			for _, r := range bucket.Results {
				k := usageKey{
					key:   refs.key(r.APIKeyID),
					scope: refs.project(r.ProjectID),
					model: deref(r.Model),
					batch: bool(r.Batch),
					tier:  usage.ParseTier(deref(r.ServiceTier)),
				}
				rec := agg.get(day, k, func() usage.UsageRecord {
					return usage.UsageRecord{Provider: usage.OpenAI, Day: day, Key: k.key, Scope: k.scope, Model: k.model, Batch: k.batch, Tier: k.tier}
				})
				rec.Tokens.Add(r.tokens(ep))
				rec.Requests += r.NumModelRequests
			}
		}
	}
	out := agg.all()
	// Sort by ranks of the distinct texts: integer compares instead of long string compares,
	// in the same order (day, scope, key, model, batch).
	scopes, keys, models := newRanks(), newRanks(), newRanks()
	for i := range out {
		scopes.add(string(out[i].Scope))
		keys.add(string(out[i].Key))
		models.add(out[i].Model)
	}
	scopes.rank()
	keys.rank()
	models.rank()
	type sortKey struct{ day, scope, key, model, batch, tier int }
	sk := make([]sortKey, len(out))
	order := make([]int, len(out))
	for i := range out {
		r := &out[i]
		b := 0
		if r.Batch {
			b = 1
		}
		sk[i] = sortKey{int(r.Day), scopes.of[string(r.Scope)], keys.of[string(r.Key)], models.of[r.Model], b, tierRank(r.Tier)}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := sk[a], sk[b]
		return cmp.Or(cmp.Compare(x.day, y.day), cmp.Compare(x.scope, y.scope), cmp.Compare(x.key, y.key),
			cmp.Compare(x.model, y.model), cmp.Compare(x.batch, y.batch), cmp.Compare(x.tier, y.tier))
	})
	permute(out, order)
	return out, nil
}

// dayAgg sums records per day. Each day has its own index and slice, sized after the largest
// day seen so far: days are alike, so the maps and slices rarely grow, where one map over the
// whole window rehashed and copied hundreds of thousands of records several times.
type dayAgg[K comparable, R any] struct {
	index map[usage.Day]map[K]int
	recs  map[usage.Day][]R
	hint  int
}

func newDayAgg[K comparable, R any]() *dayAgg[K, R] {
	return &dayAgg[K, R]{index: map[usage.Day]map[K]int{}, recs: map[usage.Day][]R{}}
}

// get returns the day's record for k, made by fresh the first time. The pointer is valid until
// the next get.
func (a *dayAgg[K, R]) get(day usage.Day, k K, fresh func() R) *R {
	idx := a.index[day]
	if idx == nil {
		idx = make(map[K]int, a.hint)
		a.index[day] = idx
		a.recs[day] = make([]R, 0, a.hint)
	}
	i, ok := idx[k]
	if !ok {
		i = len(a.recs[day])
		idx[k] = i
		a.recs[day] = append(a.recs[day], fresh())
		a.hint = max(a.hint, i+1)
	}
	return &a.recs[day][i]
}

// all returns every record, days in order, and empties a: each day's records are let go once
// copied, so the table is not held twice.
func (a *dayAgg[K, R]) all() []R {
	a.index = nil
	days := make([]usage.Day, 0, len(a.recs))
	n := 0
	for d, rs := range a.recs {
		days = append(days, d)
		n += len(rs)
	}
	slices.Sort(days)
	out := make([]R, 0, n)
	for _, d := range days {
		out = append(out, a.recs[d]...)
		delete(a.recs, d)
	}
	return out
}

// ranks numbers distinct texts in sorted order.
type ranks struct{ of map[string]int }

func newRanks() *ranks { return &ranks{of: map[string]int{}} }

func (r *ranks) add(s string) {
	if _, ok := r.of[s]; !ok {
		r.of[s] = 0
	}
}

func (r *ranks) rank() {
	all := make([]string, 0, len(r.of))
	for s := range r.of {
		all = append(all, s)
	}
	slices.Sort(all)
	for i, s := range all {
		r.of[s] = i
	}
}

// refCache builds each source reference once per fetch: a page repeats the same few thousand
// ids hundreds of thousands of times.
type refCache struct{ keys, projects map[string]usage.SourceRef }

func newRefCache() *refCache {
	return &refCache{keys: map[string]usage.SourceRef{}, projects: map[string]usage.SourceRef{}}
}

func (c *refCache) key(id *string) usage.SourceRef {
	if id == nil || *id == "" {
		return ""
	}
	ref, ok := c.keys[*id]
	if !ok {
		ref = keyRef(id)
		c.keys[*id] = ref
	}
	return ref
}

func (c *refCache) project(id *string) usage.SourceRef {
	if id == nil || *id == "" {
		return DefaultProject
	}
	ref, ok := c.projects[*id]
	if !ok {
		ref = projectRef(id)
		c.projects[*id] = ref
	}
	return ref
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
			AudioInput:   r.InputAudioTokens,
			AudioOutput:  r.OutputAudioTokens,
		}
	case Embeddings:
		return usage.Tokens{Input: r.InputTokens}
	}
	return usage.Tokens{}
}

// costKey is a cost record's identity within a day; the model is a function of the description.
type costKey struct{ source, description usage.Sym }

// fetchCosts reads billed costs per day, at the finest grain OpenAI bills: the API key when the
// charge has one, otherwise the project. These are the most numerous facts Margin holds (one line
// per key, model and token type: 9 million at 10,000 keys), so records are built in one slice
// sized after the first day, indexed for the day being read only, and sorted in place.
func (c *Client) fetchCosts(ctx context.Context, start, end time.Time, perPage int) ([]usage.CostRecord, error) {
	var out []usage.CostRecord
	days := int((end.Unix() - start.Unix() + 86399) / 86400)
	index := map[costKey]int32{} // the records of day cur
	cur, seen := usage.Day(0), map[usage.Day]bool{}
	syms := newSymRefs()
	lines := map[usage.Sym]LineItem{} // each distinct line item is parsed once
	for bucket, err := range c.costs(ctx, start, end, perPage) {
		if err != nil {
			return nil, fmt.Errorf("reading openai costs: %w", err)
		}
		if err := apiclient.CheckBucket("openai", costsEndpoint, time.Unix(bucket.StartTime, 0), start, end); err != nil {
			return nil, err
		}
		day := usage.DayOf(time.Unix(bucket.StartTime, 0))
		if day != cur || len(seen) == 0 {
			if len(seen) == 1 && len(out) > 0 && cap(out) < len(out)*days {
				// The first day sizes the table: days are alike, so it rarely grows again.
				out = slices.Grow(out, len(out)*(days-1)+len(out)/8)
			}
			clear(index)
			if seen[day] { // a day seen before comes again (not on OpenAI's pages): index it again
				for i := range out {
					if out[i].Day == day {
						index[costKey{out[i].Source, out[i].Description}] = int32(i) // #nosec G115 -- records of one fetch, far below 2^31
					}
				}
			}
			cur, seen[day] = day, true
		}
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
			source := syms.key(r.APIKeyID)
			if source == usage.NoSym {
				source = syms.project(r.ProjectID)
			}
			k := costKey{source: source, description: syms.text.Of(deref(r.LineItem))}
			i, ok := index[k]
			if !ok {
				li, ok := lines[k.description]
				if !ok {
					li = ParseLineItem(k.description.String())
					lines[k.description] = li
				}
				i = int32(len(out)) // #nosec G115 -- records of one fetch, far below 2^31
				index[k] = i
				out = append(out, usage.CostRecord{Provider: usage.OpenAI, Day: day, Source: source, Model: syms.text.Of(li.Model),
					TokenType: li.TokenType, Class: usage.PriceClass{Tier: li.Tier, Batch: li.Batch, LongContext: li.LongContext}.Bits(),
					Description: k.description})
			}
			rec := &out[i]
			rec.Amount += amount
			if q, ok := r.Tokens(); ok {
				rec.Quantity += q
				rec.QuantityUnit = usage.UnitTokens
			}
		}
	}
	sortCosts(out)
	return out, nil
}

// sortCosts sorts records by (day, source, description) in place: by ranks of the distinct
// texts, integer compares instead of long string compares.
func sortCosts(out []usage.CostRecord) {
	var top usage.Sym
	for i := range out {
		top = max(top, out[i].Source, out[i].Description)
	}
	rank := make([]int32, int(top)+1)
	var texts []usage.Sym
	for i := range out {
		for _, s := range [...]usage.Sym{out[i].Source, out[i].Description} {
			if rank[s] == 0 {
				rank[s] = 1
				texts = append(texts, s)
			}
		}
	}
	slices.SortFunc(texts, func(a, b usage.Sym) int { return strings.Compare(a.String(), b.String()) })
	for i, s := range texts {
		rank[s] = int32(i) // #nosec G115 -- distinct texts of one fetch
	}
	cmpRec := func(x, y *usage.CostRecord) int {
		return cmp.Or(cmp.Compare(x.Day, y.Day), cmp.Compare(rank[x.Source], rank[y.Source]), cmp.Compare(rank[x.Description], rank[y.Description]))
	}
	sorted := true
	for i := 1; i < len(out) && sorted; i++ {
		sorted = cmpRec(&out[i-1], &out[i]) <= 0
	}
	if sorted {
		return
	}
	order := make([]int32, len(out))
	for i := range order {
		order[i] = int32(i) // #nosec G115 -- records of one fetch
	}
	slices.SortFunc(order, func(a, b int32) int { return cmpRec(&out[a], &out[b]) })
	permute(out, order)
}

// symRefs interns the source references of API key and project ids, and other texts, once per
// fetch: a page repeats the same few thousand ids hundreds of thousands of times.
type symRefs struct {
	keys, projects map[string]usage.Sym
	text           usage.Syms
}

func newSymRefs() *symRefs {
	return &symRefs{keys: map[string]usage.Sym{}, projects: map[string]usage.Sym{}, text: usage.Syms{}}
}

func (c *symRefs) key(id *string) usage.Sym {
	if id == nil || *id == "" {
		return usage.NoSym
	}
	s, ok := c.keys[*id]
	if !ok {
		s = usage.InternRef(keyRef(id))
		c.keys[*id] = s
	}
	return s
}

func (c *symRefs) project(id *string) usage.Sym {
	if id == nil || *id == "" {
		return usage.InternRef(DefaultProject)
	}
	s, ok := c.projects[*id]
	if !ok {
		s = usage.InternRef(projectRef(id))
		c.projects[*id] = s
	}
	return s
}

// permute reorders s in place so that s[i] becomes the old s[order[i]], following each cycle
// once: the fact table is the largest thing a fetch holds, and a sorted copy would double it.
// order is consumed.
func permute[T any, I int | int32](s []T, order []I) {
	for i := range order {
		if order[i] < 0 {
			continue
		}
		tmp := s[i]
		j := I(i)
		for {
			k := order[j]
			order[j] = -1
			if int(k) == i {
				s[j] = tmp
				break
			}
			s[j] = s[k]
			j = k
		}
	}
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

// tierRank orders tiers in records: standard first.
func tierRank(t usage.Tier) int {
	switch t {
	case usage.TierPriority:
		return 1
	case usage.TierFlex:
		return 2
	}
	return 0
}
