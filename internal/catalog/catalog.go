package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// tokensPerMillion is the unit prices are quoted in.
const tokensPerMillion = 1_000_000

// maxCachedNames bounds the lookup cache so a stream of odd model names cannot grow it forever;
// past it, lookups still work, they are just not remembered.
const maxCachedNames = 4096

// Catalog is an immutable, effective-dated price list. It is safe for concurrent use.
type Catalog struct {
	entries []Entry // sorted by provider, model, effective day
	// families holds, per provider and catalog model id, its rows sorted by effective day.
	families map[lookupKey][]row

	// cache remembers which family a (provider, model name) resolves to. Readers load the map
	// without locking; a miss copies it under mu (distinct model names are few).
	cache atomic.Pointer[map[lookupKey][]row]
	mu    sync.Mutex
}

type lookupKey struct {
	provider usage.Provider
	model    string
}

// row is an entry with its price tiers resolved once, so Cost does no fallback logic per call.
type row struct {
	entry *Entry
	// tiers indexed by tierIndex(batch, longContext).
	tiers [4]tier
	// priority and flex are set when the entry lists those tiers.
	priority, flex *tier
}

// tier is a price set and the divisor that turns tokens × price into money: one million, or two
// million where the tier is half of another (batch by default), which keeps the halving exact.
type tier struct {
	price   Price
	divisor int64
}

func tierIndex(batch, longContext bool) int {
	i := 0
	if batch {
		i |= 1
	}
	if longContext {
		i |= 2
	}
	return i
}

// newCatalog builds a catalog from entries. It rejects rows for providers that bill their own usage
// (OpenRouter), empty model ids, negative prices and two rows for the same provider, model and day.
func newCatalog(entries []Entry) (*Catalog, error) {
	var errs []error
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		if err := validate(e); err != nil {
			errs = append(errs, fmt.Errorf("price %d (%s %s): %w", i, e.Provider, e.Model, err))
			continue
		}
		id := string(e.Provider) + "\x00" + e.Model + "\x00" + e.EffectiveFrom.String()
		if seen[id] {
			errs = append(errs, fmt.Errorf("price %d: duplicate row for %s %s effective %s", i, e.Provider, e.Model, e.EffectiveFrom))
		}
		seen[id] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Catalog{entries: make([]Entry, len(entries)), families: map[lookupKey][]row{}}
	for i, e := range entries {
		c.entries[i] = cloneEntry(e)
	}
	sortby.Func(c.entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.EffectiveFrom, b.EffectiveFrom))
	})
	for i := range c.entries {
		e := &c.entries[i]
		k := lookupKey{e.Provider, e.Model}
		c.families[k] = append(c.families[k], resolve(e))
	}
	empty := map[lookupKey][]row{}
	c.cache.Store(&empty)
	return c, nil
}

func validate(e *Entry) error {
	switch e.Provider {
	case usage.OpenAI, usage.Anthropic:
	case usage.OpenRouter:
		return errors.New("openrouter usage carries its own billed cost and is never priced from the catalog")
	default:
		return fmt.Errorf("unknown provider %q (want openai or anthropic)", e.Provider)
	}
	if strings.TrimSpace(e.Model) == "" {
		return errors.New("model is empty")
	}
	check := func(name string, p *Price) error {
		if p == nil {
			return nil
		}
		for _, f := range []struct {
			key string
			v   ledger.Money
		}{{"input", p.Input}, {"cached_input", p.CachedInput}, {"cache_write_5m", p.CacheWrite5m}, {"cache_write_1h", p.CacheWrite1h}, {"output", p.Output},
			{"audio_input", p.AudioInput}, {"audio_output", p.AudioOutput}} {
			if f.v < 0 {
				return fmt.Errorf("%s%s is negative", name, f.key)
			}
		}
		return nil
	}
	return errors.Join(check("", &e.Standard), check("batch.", e.Batch), check("long_context.", e.LongContext),
		check("priority.", e.Priority), check("flex.", e.Flex))
}

func cloneEntry(e Entry) Entry {
	if e.Batch != nil {
		b := *e.Batch
		e.Batch = &b
	}
	if e.LongContext != nil {
		l := *e.LongContext
		e.LongContext = &l
	}
	for _, pp := range []**Price{&e.Priority, &e.Flex} {
		if *pp != nil {
			c := **pp
			*pp = &c
		}
	}
	return e
}

// withFallbacks fills prices a provider does not charge separately: cache reads and writes cost
// what uncached input costs unless a row says otherwise (OpenAI bills cache writes as input, and
// embeddings have no cache discount), and a 1-hour write costs what a 5-minute write costs. A row
// never prices tokens at zero because a column was left out.
func withFallbacks(p Price) Price {
	if p.CachedInput == 0 {
		p.CachedInput = p.Input
	}
	if p.CacheWrite5m == 0 {
		p.CacheWrite5m = p.Input
	}
	if p.CacheWrite1h == 0 {
		p.CacheWrite1h = p.CacheWrite5m
	}
	return p
}

// resolve computes the four tiers of an entry. Batch requests in the long-context tier pay half
// the long-context price: Anthropic's batch discount applies on top of every other rate.
func resolve(e *Entry) row {
	std := tier{withFallbacks(e.Standard), tokensPerMillion}
	long := std
	if e.LongContext != nil {
		long = tier{withFallbacks(*e.LongContext), tokensPerMillion}
	}
	half := func(t tier) tier { return tier{t.price, 2 * tokensPerMillion} }
	r := row{entry: e}
	r.tiers[tierIndex(false, false)] = std
	r.tiers[tierIndex(false, true)] = long
	r.tiers[tierIndex(true, false)] = half(std)
	if e.Batch != nil {
		r.tiers[tierIndex(true, false)] = tier{withFallbacks(*e.Batch), tokensPerMillion}
	}
	r.tiers[tierIndex(true, true)] = half(long)
	if e.LongContext == nil {
		r.tiers[tierIndex(true, true)] = r.tiers[tierIndex(true, false)]
	}
	if e.Priority != nil {
		r.priority = &tier{withFallbacks(*e.Priority), tokensPerMillion}
	}
	if e.Flex != nil {
		r.flex = &tier{withFallbacks(*e.Flex), tokensPerMillion}
	}
	return r
}

// With returns a new catalog in which overrides replace the rows of every (provider, model) they
// name: all of that model's rows, not only those with the same day, so an undated override is not
// shadowed by a later-dated embedded row. Models the overrides do not name keep their rows.
func (c *Catalog) With(overrides []Entry) (*Catalog, error) {
	if len(overrides) == 0 {
		return c, nil
	}
	// Validate the overrides alone first, so errors count rows as the caller does.
	if _, err := newCatalog(overrides); err != nil {
		return nil, err
	}
	named := make(map[lookupKey]bool, len(overrides))
	for _, o := range overrides {
		named[lookupKey{o.Provider, o.Model}] = true
	}
	merged := make([]Entry, 0, len(c.entries)+len(overrides))
	for _, e := range c.entries {
		if !named[lookupKey{e.Provider, e.Model}] {
			merged = append(merged, e)
		}
	}
	merged = append(merged, overrides...)
	return newCatalog(merged)
}

// Entries returns a copy of every row, sorted by provider, model and effective day.
func (c *Catalog) Entries() []Entry {
	out := make([]Entry, len(c.entries))
	for i, e := range c.entries {
		out[i] = cloneEntry(e)
	}
	return out
}

// Lookup finds the row that prices model on day d: the rows of its canonical id (usage.
// CanonicalModel), or of its family when it is a dated snapshot ("claude-sonnet-4-5-20250929"),
// and of those the one with the latest effective day on or before d. Any other unknown id is
// unpriced: "o3-pro" is not "o3". The returned entry belongs to the catalog and must not be
// modified.
func (c *Catalog) Lookup(p usage.Provider, model string, d usage.Day) (*Entry, bool) {
	r, ok := c.find(p, model, d)
	if !ok {
		return nil, false
	}
	return r.entry, true
}

func (c *Catalog) find(p usage.Provider, model string, d usage.Day) (*row, bool) {
	return rowAt(c.family(p, model), d)
}

// rowAt returns the row of a model's rows in effect on d.
func rowAt(fam []row, d usage.Day) (*row, bool) {
	for i := len(fam) - 1; i >= 0; i-- {
		if fam[i].entry.EffectiveFrom <= d {
			return &fam[i], true
		}
	}
	return nil, false
}

// family returns the rows model resolves to (nil when none), from the cache when it can.
func (c *Catalog) family(p usage.Provider, model string) []row {
	k := lookupKey{p, model}
	if fam, ok := (*c.cache.Load())[k]; ok {
		return fam
	}
	fam := c.match(p, model)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.cache.Load()
	if len(old) >= maxCachedNames {
		return fam
	}
	next := make(map[lookupKey][]row, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = fam
	c.cache.Store(&next)
	return fam
}

// match resolves model by its canonical id, then, for a dated snapshot only, by its family.
func (c *Catalog) match(p usage.Provider, model string) []row {
	canon := usage.CanonicalModel(p, model)
	if fam, ok := c.families[lookupKey{p, canon}]; ok {
		return fam
	}
	if base, dated := usage.ModelFamily(p, canon); dated {
		return c.families[lookupKey{p, base}]
	}
	return nil
}

// Cost estimates what r cost at list price: each token class times its per-million price,
// rounded to the nano-dollar per class. Token classes are disjoint (usage.Tokens): Input excludes
// cache reads and writes, which are priced at their own rates, and Reasoning is already part of
// Output, so it is not priced again; audio parts are priced at the audio rates. Batch rows use the
// batch tier (half of standard unless the row sets one), long-context rows the long-context tier
// when the model has one; OpenAI priority and flex rows their tier's row. Anthropic's Priority
// Tier has no per-token list price (it is bought as committed capacity) and never appears in the
// cost report, so it is estimated at the standard rates; US-only inference bills 1.1×. ok is false
// when the catalog has no price for the model, tier or a token class on that day, and always for
// OpenRouter, whose rows carry their own billed cost.
func (c *Catalog) Cost(r *usage.UsageRecord) (ledger.Money, bool) {
	if r.Provider.Name() == usage.OpenRouter {
		return 0, false
	}
	return costAt(c.family(r.Provider.Name(), r.Model.String()), r)
}

// ModelPricer returns what Cost does for the records of one provider and model, with the model
// resolved once: for a caller pricing many records of each model.
func (c *Catalog) ModelPricer(p usage.Provider, model string) ModelPricer {
	if p == usage.OpenRouter {
		return ModelPricer{}
	}
	return ModelPricer{rows: c.family(p, model)}
}

// ModelPricer prices records of the provider and model it was made for; others get a wrong
// price, so callers key it by both.
type ModelPricer struct {
	rows []row
}

// Cost is Catalog.Cost for a record of the pricer's provider and model.
func (m ModelPricer) Cost(r *usage.UsageRecord) (ledger.Money, bool) {
	if r.Provider.Name() == usage.OpenRouter {
		return 0, false
	}
	return costAt(m.rows, r)
}

func costAt(fam []row, r *usage.UsageRecord) (ledger.Money, bool) {
	rw, ok := rowAt(fam, r.Day)
	if !ok {
		return 0, false
	}
	t := &rw.tiers[tierIndex(r.Batch, r.LongContext)]
	switch {
	case r.Tier == usage.TierStandard || r.Provider.Name() == usage.Anthropic && r.Tier == usage.TierPriority:
	case r.Tier == usage.TierPriority && rw.priority != nil:
		t = rw.priority
	case r.Tier == usage.TierFlex && rw.flex != nil:
		t = rw.flex
	default:
		return 0, false // a tier the catalog has no price for: unpriced, not priced as standard
	}
	if r.Fast {
		return 0, false // fast mode has no list price here: priced from its bills, else unpriced
	}
	if r.Tokens.AudioInput > 0 && t.price.AudioInput == 0 || r.Tokens.AudioOutput > 0 && t.price.AudioOutput == 0 {
		return 0, false // audio on a model the catalog lists without audio prices
	}
	var sum ledger.Money
	for _, part := range [...]struct {
		tokens int64
		price  ledger.Money
	}{
		{r.Tokens.Of(usage.TokenInput), t.price.Input},
		{r.Tokens.CachedInput, t.price.CachedInput},
		{r.Tokens.CacheWrite5m, t.price.CacheWrite5m},
		{r.Tokens.CacheWrite1h, t.price.CacheWrite1h},
		{r.Tokens.Of(usage.TokenOutput), t.price.Output},
		{r.Tokens.Of(usage.TokenAudioInput), t.price.AudioInput},
		{r.Tokens.Of(usage.TokenAudioOutput), t.price.AudioOutput},
	} {
		if part.tokens == 0 || part.price == 0 {
			continue
		}
		sum = addSaturating(sum, ledger.Money(ledger.MustMulDiv(part.tokens, int64(part.price), t.divisor)))
	}
	if r.USOnly && r.Provider.Name() == usage.Anthropic {
		sum = ledger.Money(ledger.MustMulDiv(int64(sum), 11, 10))
	}
	return sum, true
}

// addSaturating adds without wrapping around, so an absurd token count cannot turn into a
// negative cost.
func addSaturating(a, b ledger.Money) ledger.Money {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
