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
	"golang.org/x/sync/errgroup"
)

// defaultProject is the source reference Margin gives usage that a project-grouped row reports
// with a null project_id: the organisation's default project.
var defaultProject = usage.Ref(usage.OpenAI, usage.KindProject, "default")

// Fetch reads usage, billed costs and source names for the window, clamped to at most
// usage.MaxBackfillDays complete UTC days and today so far: OpenAI documents no retention limit
// (31 is the per-page limit of daily buckets, which Fetch pages through), so it reads what OpenAI
// returns and, for a window reaching further back than one page, says which first day had data.
// Sources are listed first: their count sizes the usage and cost pages (bucketsPerPage), so a
// page stays tens of megabytes however large the organisation.
// Usage runs up to now (never a future end_time, provider-apis.md trap 10); costs cover complete
// days only, because a day's costs are not final until it ends. Usage and costs are read concurrently, each one page at a time.
// GET /organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions},
// GET /organization/costs, GET /organization/projects, GET /organization/projects/{project_id}/api_keys
func (c *Client) Fetch(ctx context.Context, w usage.Window) (*usage.Batch, error) {
	now := c.now().UTC()
	today := usage.DayOf(now)
	batch := &usage.Batch{Provider: usage.OpenAI}
	batch.Window, batch.Warnings = usage.ClampWindow(usage.OpenAI, w, today)
	w = batch.Window

	sources, err := c.names.Sources(ctx, now, nil, c.fetchSources)
	if err != nil {
		return nil, err
	}
	perPage := bucketsPerPage(sources)

	// Usage and costs are read side by side (two requests in flight at most): a later poll is
	// two streams of pages, and each one's decoding overlaps the other's waiting.
	start := w.From.Time()
	usageEnd := w.To.Time()
	if usageEnd.After(now) {
		usageEnd = now
	}
	costEnd := min(w.To, today).Time()
	g, gctx := errgroup.WithContext(ctx) // the first failure stops the other stream
	if usageEnd.Unix() > start.Unix() {
		g.Go(func() (err error) { batch.Usage, err = c.fetchUsage(gctx, start, usageEnd, perPage); return err })
	}
	if costEnd.After(start) {
		g.Go(func() (err error) { batch.Costs, err = c.fetchCosts(gctx, start, costEnd, perPage); return err })
	}
	if err := g.Wait(); err != nil {
		return nil, err
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

// usageKey is a usage record's identity within a day.
type usageKey struct {
	key, scope, model usage.Sym
	batch             bool
	tier              uint8 // tierRank
}

// fetchUsage reads every usage endpoint and sums rows that fall on the same (day, key, project,
// model, batch, tier): service tiers and endpoints split what Margin counts as one record. As in
// fetchCosts, a row becomes a record as it is read, in one slice sorted in place, and rows of one
// record, neighbours after the sort, are summed then (mergeUsage). The slice is sized by each endpoint's first day; completions, by far the largest, are
// read last, so sizing for them copies only the small endpoints' records: the table is never
// regrown by append nor copied once full (at 10,000 keys it is about 400 MB).
func (c *Client) fetchUsage(ctx context.Context, start, end time.Time, perPage int) ([]usage.UsageRecord, error) {
	days := int((end.Unix() - start.Unix() + 86399) / 86400)
	// The last fetch's records per day size the table; without one, each endpoint's first day does.
	out := make([]usage.UsageRecord, 0, int(c.hints.usagePerDay.Load())*days)
	defer func() { c.hints.usagePerDay.Store(int64(len(out) / max(days, 1))) }()
	syms := newSymRefs()
	for _, ep := range usageReadOrder {
		epStart, epDays, epDay := len(out), 0, usage.Day(0)
		for bucket, err := range c.usage(ctx, ep, start, end, perPage, true) {
			if err != nil {
				return nil, fmt.Errorf("reading openai %s usage: %w", ep, err)
			}
			if err := apiclient.CheckBucket("openai", ep.Path(), time.Unix(bucket.StartTime, 0), start, end); err != nil {
				return nil, err
			}
			day := usage.DayOf(time.Unix(bucket.StartTime, 0))
			if len(bucket.Results) == 0 {
				continue
			}
			if epDays == 0 || day != epDay {
				epDays, epDay = epDays+1, day
				if epDays == 2 {
					// The endpoint's first day sizes the rest of it: days are alike.
					if n := len(out) - epStart; cap(out)-len(out) < n*(days-1) {
						out = slices.Grow(out, n*(days-1)+n/8)
					}
				}
			}
			for _, r := range bucket.Results {
				out = append(out, usage.UsageRecord{Provider: usage.OpenAI.ID(), Day: day, Key: syms.key(r.APIKeyID),
					Scope: syms.project(r.ProjectID), Model: syms.of(r.Model), Batch: bool(r.Batch),
					Tier: usage.ParseTier(deref(r.ServiceTier)), Tokens: r.tokens(ep), Requests: r.NumModelRequests})
			}
		}
	}
	sortUsage(out)
	out = mergeUsage(out)
	return trim(out), nil
}

// mergeUsage sums, in place, each run of sorted records of the same day and usageKey into its
// first: the rows fetchUsage counts as one record (service tiers that price alike, the same model
// on two endpoints).
func mergeUsage(out []usage.UsageRecord) []usage.UsageRecord {
	if len(out) < 2 {
		return out
	}
	w := 0
	for i := 1; i < len(out); i++ {
		a, b := &out[w], &out[i]
		if a.Day == b.Day && keyOfUsage(a) == keyOfUsage(b) {
			a.Tokens.Add(b.Tokens)
			a.Requests += b.Requests
			continue
		}
		w++
		out[w] = out[i]
	}
	return out[:w+1]
}

// usageReadOrder is usageEndpoints with completions last (see fetchUsage).
var usageReadOrder = append(slices.DeleteFunc(slices.Clone(usageEndpoints), func(e UsageEndpoint) bool { return e == Completions }), Completions)

// keyOfUsage is the identity of a record fetchUsage built: its key is stored in its fields.
func keyOfUsage(r *usage.UsageRecord) usageKey {
	return usageKey{key: r.Key, scope: r.Scope, model: r.Model, batch: r.Batch, tier: uint8(tierRank(r.Tier))} // #nosec G115 -- three tiers
}

// sortUsage sorts records by (day, scope, key, model, batch, tier) in place, by ranks of the
// distinct texts: integer compares instead of long string compares.
func sortUsage(out []usage.UsageRecord) {
	if len(out) < 2 {
		return
	}
	var scopes, keys, models symRanks
	first, last := out[0].Day, out[0].Day
	for i := range out {
		scopes.add(out[i].Scope)
		keys.add(out[i].Key)
		models.add(out[i].Model)
		first, last = min(first, out[i].Day), max(last, out[i].Day)
	}
	p := newPackedKeys(len(out))
	p.field(int(last-first)+1, func(i int) int { return int(out[i].Day - first) })
	p.field(scopes.done(), func(i int) int { return int(scopes.rank[out[i].Scope]) })
	p.field(keys.done(), func(i int) int { return int(keys.rank[out[i].Key]) })
	p.field(models.done(), func(i int) int { return int(models.rank[out[i].Model]) })
	p.field(2, func(i int) int { return b2i(out[i].Batch) })
	p.field(3, func(i int) int { return tierRank(out[i].Tier) })
	if p.ok {
		if order := p.order(); order != nil {
			permute(out, order)
		}
		return
	}
	// Too many distinct values to pack: compare field by field.
	cmpRec := func(a, b int32) int {
		x, y := &out[a], &out[b]
		return cmp.Or(cmp.Compare(x.Day, y.Day), cmp.Compare(scopes.rank[x.Scope], scopes.rank[y.Scope]),
			cmp.Compare(keys.rank[x.Key], keys.rank[y.Key]), cmp.Compare(models.rank[x.Model], models.rank[y.Model]),
			cmp.Compare(b2i(x.Batch), b2i(y.Batch)), cmp.Compare(tierRank(x.Tier), tierRank(y.Tier)))
	}
	order := make([]int32, len(out))
	for i := range order {
		order[i] = int32(i) // #nosec G115 -- records of one fetch
	}
	slices.SortFunc(order, cmpRec)
	permute(out, order)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// trim returns s in an array of its own length when the one it grew in has much room left (a
// first day with fewer records than the rest): the table is held for as long as the facts are.
func trim[T any](s []T) []T {
	if len(s) == 0 {
		return nil // as when nothing was appended
	}
	if cap(s)-len(s) > len(s)/16 {
		return slices.Clone(s)
	}
	return s
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

// fetchCosts reads billed costs per day, at the finest grain OpenAI bills: the API key when the
// charge has one, otherwise the project. These are the most numerous facts Margin holds (one line
// per key, model and token type: 9 million at 10,000 keys), so records are built in one slice
// sized after the first day and sorted in place. A page holds each (source, line item) once a
// day, so a row becomes a record as it is read, with no index: the rare repeat is summed into
// its twin after the sort, which makes them neighbours (mergeCosts).
func (c *Client) fetchCosts(ctx context.Context, start, end time.Time, perPage int) ([]usage.CostRecord, error) {
	days := int((end.Unix() - start.Unix() + 86399) / 86400)
	out := make([]usage.CostRecord, 0, int(c.hints.costsPerDay.Load())*days) // as in fetchUsage
	defer func() { c.hints.costsPerDay.Store(int64(len(out) / max(days, 1))) }()
	syms := newSymRefs()
	// Each distinct line item is parsed and interned once, with its quantity in tokens or none.
	type line struct {
		LineItem
		item, inTokens usage.LineItem
		class          usage.ClassBits
	}
	lines := map[usage.Sym]line{}
	var lastDay usage.Day
	daysRead := 0 // distinct days with results so far
	for bucket, err := range c.costs(ctx, start, end, perPage, true) {
		if err != nil {
			return nil, fmt.Errorf("reading openai costs: %w", err)
		}
		if err := apiclient.CheckBucket("openai", costsEndpoint, time.Unix(bucket.StartTime, 0), start, end); err != nil {
			return nil, err
		}
		day := usage.DayOf(time.Unix(bucket.StartTime, 0))
		if len(bucket.Results) > 0 && (daysRead == 0 || day != lastDay) {
			daysRead, lastDay = daysRead+1, day
			if daysRead == 2 && cap(out) < len(out)*days {
				// The first day sizes the table: days are alike, so it rarely grows again.
				out = slices.Grow(out, len(out)*(days-1)+len(out)/8)
			}
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
			description := syms.of(r.LineItem)
			li, ok := lines[description]
			if !ok {
				li.LineItem = parseLineItem(description.String())
				model := syms.text.Of(li.Model)
				li.item = usage.LineItemOf(model, description, usage.NoSym)
				li.inTokens = usage.LineItemOf(model, description, usage.UnitTokens)
				li.class = usage.PriceClass{Tier: li.Tier, Batch: li.Batch, LongContext: li.LongContext}.Bits()
				lines[description] = li
			}
			rec := usage.CostRecord{Provider: usage.OpenAI.ID(), Day: day, Source: source, Item: li.item,
				TokenType: li.TokenType, Class: li.class, Amount: amount}
			if q, ok := r.Tokens(); ok {
				rec.Quantity, rec.Item = q, li.inTokens
			}
			out = append(out, rec)
		}
	}
	sortCosts(out)
	out = mergeCosts(out)
	return trim(out), nil
}

// mergeCosts sums, in place, each run of sorted records of the same day, source and line item
// into its first: what fetchCosts bills once per key and line item a day.
func mergeCosts(out []usage.CostRecord) []usage.CostRecord {
	if len(out) < 2 {
		return out
	}
	w := 0
	for i := 1; i < len(out); i++ {
		a, b := &out[w], &out[i]
		// The same line item with and without a quantity in tokens are two LineItems.
		if a.Day == b.Day && a.Source == b.Source && (a.Item == b.Item || a.Description() == b.Description()) {
			a.Amount += b.Amount
			a.Quantity += b.Quantity
			if a.Item != b.Item && b.QuantityUnit() == usage.UnitTokens {
				a.Item = b.Item
			}
			continue
		}
		w++
		out[w] = out[i]
	}
	return out[:w+1]
}

// sortCosts sorts records by (day, source, description) in place: by ranks of the distinct
// texts, integer compares instead of long string compares.
func sortCosts(out []usage.CostRecord) {
	if len(out) < 2 {
		return
	}
	var sources, descriptions symRanks
	first, last := out[0].Day, out[0].Day
	for i := range out {
		sources.add(out[i].Source)
		descriptions.add(out[i].Description())
		first, last = min(first, out[i].Day), max(last, out[i].Day)
	}
	p := newPackedKeys(len(out))
	p.field(int(last-first)+1, func(i int) int { return int(out[i].Day - first) })
	p.field(sources.done(), func(i int) int { return int(sources.rank[out[i].Source]) })
	p.field(descriptions.done(), func(i int) int { return int(descriptions.rank[out[i].Description()]) })
	if p.ok {
		if order := p.order(); order != nil {
			permute(out, order)
		}
		return
	}
	// Too many distinct values to pack: compare field by field.
	cmpRec := func(x, y *usage.CostRecord) int {
		return cmp.Or(cmp.Compare(x.Day, y.Day), cmp.Compare(sources.rank[x.Source], sources.rank[y.Source]),
			cmp.Compare(descriptions.rank[x.Description()], descriptions.rank[y.Description()]))
	}
	order := make([]int32, len(out))
	for i := range order {
		order[i] = int32(i) // #nosec G115 -- records of one fetch
	}
	slices.SortFunc(order, func(a, b int32) int { return cmpRec(&out[a], &out[b]) })
	permute(out, order)
}

// symRefs interns the source references of API key and project ids, and other texts, once per
// fetch: a page repeats the same few thousand ids hundreds of thousands of times. The decoder
// hands out one *string per distinct text of a paging loop, so a pointer seen before needs no
// string hashing: a row's key and project are most often the previous row's, and the other
// texts are looked up by pointer first.
type symRefs struct {
	keys, projects refMemo
	text           usage.Syms
	byPtr          map[*string]usage.Sym // text by the decoder's pointer
}

// refMemo interns one kind of id's source reference: the previous row's id by pointer, any
// other by its text.
type refMemo struct {
	syms map[string]usage.Sym
	last *string
	sym  usage.Sym
}

func (m *refMemo) of(id *string, ref func(*string) usage.SourceRef) usage.Sym {
	if id == m.last {
		return m.sym
	}
	s, ok := m.syms[*id]
	if !ok {
		s = usage.InternRef(ref(id))
		m.syms[*id] = s
	}
	m.last, m.sym = id, s
	return s
}

func newSymRefs() *symRefs {
	return &symRefs{keys: refMemo{syms: map[string]usage.Sym{}}, projects: refMemo{syms: map[string]usage.Sym{}},
		text: usage.Syms{}, byPtr: map[*string]usage.Sym{}}
}

func (c *symRefs) key(id *string) usage.Sym {
	if id == nil || *id == "" {
		return usage.NoSym
	}
	return c.keys.of(id, keyRef)
}

func (c *symRefs) project(id *string) usage.Sym {
	if id == nil || *id == "" {
		return usage.InternRef(defaultProject)
	}
	return c.projects.of(id, projectRef)
}

// of returns the Sym of the text p points to ("" for nil).
func (c *symRefs) of(p *string) usage.Sym {
	if p == nil {
		return usage.NoSym
	}
	if s, ok := c.byPtr[p]; ok {
		return s
	}
	s := c.text.Of(*p)
	c.byPtr[p] = s
	return s
}

// permute reorders s in place so that s[i] becomes the old s[order[i]], following each cycle
// once: the fact table is the largest thing a fetch holds, and a sorted copy would double it.
// order is consumed (a visited entry is set to ^0, which no index reaches).
func permute[T any, I int | int32 | uint64](s []T, order []I) {
	done := ^I(0)
	for i := range order {
		if order[i] == done {
			continue
		}
		tmp := s[i]
		j := I(i) // #nosec G115 -- an index
		for {
			k := order[j]
			order[j] = done
			if int(k) == i { // #nosec G115 -- an index
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
		return defaultProject
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
