// Package usage defines the provider-neutral facts every provider client produces (token usage,
// billed cost, source names) and the Source interface the engine fetches them through. It holds no
// arithmetic beyond adding token counts and no knowledge of any single provider's API.
package usage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/ledger"
)

// Provider names an LLM provider. The values are used in config keys, source references and labels.
type Provider string

const (
	OpenAI     Provider = "openai"
	Anthropic  Provider = "anthropic"
	OpenRouter Provider = "openrouter"
)

// Providers lists every provider in display order.
var Providers = []Provider{OpenAI, Anthropic, OpenRouter}

// MaxBackfillDays is the most complete UTC days before today Margin reads from any provider: the
// upper bound of the config's backfill_days.
const MaxBackfillDays = 365

// DocumentedRetentionDays is how many complete UTC days before today the provider documents
// serving, or 0 when it documents no limit. OpenRouter's /activity serves the last 30 completed
// days; OpenAI's usage and costs and Anthropic's reports document none (31 is their per-page limit
// for daily buckets, not a retention: provider-apis.md, correction 9).
func (p Provider) DocumentedRetentionDays() int {
	if p == OpenRouter {
		return 30
	}
	return 0
}

// RetentionDays is how many complete UTC days before today Margin asks the provider for: its
// documented retention, else MaxBackfillDays. What a provider without a documented limit actually
// returns is only known after reading it (see FirstDataNotice).
func (p Provider) RetentionDays() int {
	if d := p.DocumentedRetentionDays(); d > 0 {
		return d
	}
	return MaxBackfillDays
}

// RetentionStatement says what the provider documents about its history, for messages that also
// say what was observed.
func (p Provider) RetentionStatement() string {
	if d := p.DocumentedRetentionDays(); d > 0 {
		return fmt.Sprintf("%s documents the last %d completed UTC days", p, d)
	}
	return fmt.Sprintf("%s documents no retention limit", p)
}

// Served is the window of days the provider serves on today: its RetentionDays complete days
// before today, and today's partial day except from OpenRouter, whose /activity serves completed
// days only (provider-apis.md trap 11).
func (p Provider) Served(today Day) Window {
	w := Window{From: today - Day(p.RetentionDays()), To: today + 1} // #nosec G115 -- a retention is at most MaxBackfillDays
	if p == OpenRouter {
		w.To = today
	}
	return w
}

// ClampWindow limits w to what the provider serves on today and says what it cut, in the words
// every Margin front end shows. It is the one clamp: the engine plans each fetch with it and each
// client applies it to what it is asked.
func ClampWindow(p Provider, w Window, today Day) (Window, []string) {
	served := p.Served(today)
	var warnings []string
	if w.From < served.From {
		why := fmt.Sprintf("Margin reads at most %d days back (%s)", MaxBackfillDays, p.RetentionStatement())
		if p.DocumentedRetentionDays() > 0 {
			why = p.RetentionStatement()
		}
		warnings = append(warnings, fmt.Sprintf("%s: window starts %s but %s: reading from %s", p, w.From, why, served.From))
		w.From = served.From
	}
	// A window through today is what every poll and report asks for: a provider without today's
	// partial day (OpenRouter) is cut to yesterday without a word, unless today was all it asked.
	quiet := w.To == today+1 && served.To == today && w.From < today
	if w.To > served.To && !quiet {
		what := "today is the last day with usage"
		if served.To == today {
			what = fmt.Sprintf("%s serves completed days only", p)
		}
		warnings = append(warnings, fmt.Sprintf("%s: window ends %s but %s: reading to %s", p, w.To-1, what, served.To-1))
		w.To = served.To
	}
	w.To = min(w.To, served.To)
	if w.To < w.From {
		w.To = w.From
	}
	return w, warnings
}

// DailyBucketsPerPage is the most daily buckets one page of OpenAI's usage API or Anthropic's
// reports holds: once mistaken for their retention.
const DailyBucketsPerPage = 31

// FirstDay returns the earliest day of any usage or cost record of the batch; ok is false when
// it has none.
func (b *Batch) FirstDay() (first Day, ok bool) {
	for i := range b.Usage {
		if d := b.Usage[i].Day; !ok || d < first {
			first, ok = d, true
		}
	}
	for i := range b.Costs {
		if d := b.Costs[i].Day; !ok || d < first {
			first, ok = d, true
		}
	}
	return first, ok
}

// BackfillNotice is FirstDataNotice for a batch whose window reaches further back than one page
// of daily buckets before today, the history a provider without a documented retention may or
// may not hold. A shorter window (every poll's trailing days) gets no notice: a quiet first day
// there says nothing about history.
func BackfillNotice(b *Batch, today Day) string {
	if b.Window.From >= today-DailyBucketsPerPage {
		return ""
	}
	first, ok := b.FirstDay()
	return FirstDataNotice(b.Provider, b.Window, first, ok)
}

// FirstDataNotice returns the notice a batch carries when a provider without a documented
// retention returned nothing for the first days of the window: the first day that had data, so a
// reader can tell how far back the provider really served. first is the earliest day of any usage
// or cost record, or ok false when there was none. It is "" when the window's first day had data.
func FirstDataNotice(p Provider, w Window, first Day, ok bool) string {
	switch {
	case w.Days() == 0 || (ok && first <= w.From):
		return ""
	case !ok:
		return fmt.Sprintf("%s: no usage or cost on any day of %s (%s; observed: none served for this window)", p, w, p.RetentionStatement())
	}
	return fmt.Sprintf("%s: the first day with data is %s, not %s (%s; observed: nothing served before %s)", p, first, w.From, p.RetentionStatement(), first)
}

// Kind is the kind of provider-side identity a source reference names.
type Kind string

const (
	KindProject   Kind = "project"   // OpenAI project
	KindAPIKey    Kind = "api_key"   // OpenAI project API key or Anthropic API key
	KindWorkspace Kind = "workspace" // Anthropic workspace
	KindKey       Kind = "key"       // OpenRouter key, by hash
)

// DefaultWorkspaceID is the id Margin gives Anthropic's default workspace, which reports as null.
const DefaultWorkspaceID = "default"

// unlistedKeyID is the id of the OpenRouter source that holds the account's spend no listed key
// accounts for (keys since deleted, keys of workspaces Margin could not list): the account-level
// /activity minus the sum over listed keys. It cannot clash with a key, whose id is a 64-hex hash.
const unlistedKeyID = "unlisted"

// OpenRouterUnlisted is the source reference of that spend, "openrouter:key:unlisted".
var OpenRouterUnlisted = Ref(OpenRouter, KindKey, unlistedKeyID)

// SourceRef is a source reference such as "openai:api_key:key_abc" (DESIGN.md §3).
type SourceRef string

// Ref builds a source reference.
func Ref(p Provider, k Kind, id string) SourceRef {
	return SourceRef(string(p) + ":" + string(k) + ":" + id)
}

var validKinds = map[Provider][]Kind{
	OpenAI:     {KindProject, KindAPIKey},
	Anthropic:  {KindWorkspace, KindAPIKey},
	OpenRouter: {KindKey},
}

// ParseRef checks that s is a well-formed source reference and returns its parts.
func ParseRef(s string) (Provider, Kind, string, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[2] == "" {
		return "", "", "", fmt.Errorf("source %q: want provider:kind:id, e.g. openai:api_key:key_abc", s)
	}
	p, k, id := Provider(parts[0]), Kind(parts[1]), parts[2]
	kinds, ok := validKinds[p]
	if !ok {
		return "", "", "", fmt.Errorf("source %q: unknown provider %q (want openai, anthropic or openrouter)", s, p)
	}
	for _, vk := range kinds {
		if vk == k {
			return p, k, id, nil
		}
	}
	return "", "", "", fmt.Errorf("source %q: %s has no source kind %q (want %s)", s, p, k, joinKinds(kinds))
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}

// Provider returns the provider part of the reference.
func (r SourceRef) Provider() Provider {
	p, _, _ := strings.Cut(string(r), ":")
	return Provider(p)
}

// Day is a UTC calendar day, counted in days since 1970-01-01.
type Day int32

// DayOf returns the UTC day containing t.
func DayOf(t time.Time) Day {
	u := t.UTC().Unix()
	d := u / 86400
	if u < 0 && u%86400 != 0 {
		d--
	}
	return Day(d) // #nosec G115 -- Unix days fit int32 for 5.8 million years either side of 1970
}

// ParseDay parses "2006-01-02".
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return DayOf(t), nil
}

// Time returns midnight UTC at the start of the day.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the day as "2006-01-02".
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// MonthStart is the first day of d's calendar month (UTC).
func (d Day) MonthStart() Day {
	t := d.Time()
	return DayOf(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
}

// NextMonthStart is the first day of the month after d's: the exclusive end of d's month.
func (d Day) NextMonthStart() Day {
	t := d.Time()
	return DayOf(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC))
}

// Month is d's calendar month as a window of days: every month boundary Margin uses (month to
// date, month end, the forecast's month) is this one.
func (d Day) Month() Window { return Window{From: d.MonthStart(), To: d.NextMonthStart()} }

// Window is a half-open range of UTC days [From, To).
type Window struct {
	From, To Day
}

// Days returns the number of days in the window.
func (w Window) Days() int {
	if w.To <= w.From {
		return 0
	}
	return int(w.To - w.From)
}

// Contains reports whether d lies in the window.
func (w Window) Contains(d Day) bool { return d >= w.From && d < w.To }

// LastCompleteDays returns the n complete UTC days before the day of now.
func LastCompleteDays(now time.Time, n int) Window {
	today := DayOf(now)
	return Window{From: today - Day(n), To: today} // #nosec G115 -- n is a window length in days, validated by callers
}

func (w Window) String() string { return fmt.Sprintf("%s..%s", w.From, w.To-1) }

// Tokens counts tokens in disjoint classes, so that Total never counts a token twice. Providers
// report overlapping fields (OpenAI's input_tokens include cached and cache-write tokens); each
// client normalises into these classes.
type Tokens struct {
	Input        int64 // uncached input, excluding cache reads and cache writes
	CachedInput  int64 // input served from the prompt cache
	CacheWrite5m int64 // input written to the cache (5-minute or unspecified TTL)
	CacheWrite1h int64 // input written to the 1-hour cache
	Output       int64 // all output, including reasoning
	Reasoning    int64 // reasoning tokens; a subset of Output, kept for display only
	// AudioInput and AudioOutput are the audio parts of Input and Output (OpenAI bills them at
	// their own rates); like Reasoning they are subsets, never added to Total.
	AudioInput, AudioOutput int64
}

// Total returns every billed token once: input, cached input, cache writes and output.
func (t Tokens) Total() int64 {
	return t.Input + t.CachedInput + t.CacheWrite5m + t.CacheWrite1h + t.Output
}

// Add adds o to t.
func (t *Tokens) Add(o Tokens) {
	t.Input += o.Input
	t.CachedInput += o.CachedInput
	t.CacheWrite5m += o.CacheWrite5m
	t.CacheWrite1h += o.CacheWrite1h
	t.Output += o.Output
	t.Reasoning += o.Reasoning
	t.AudioInput += o.AudioInput
	t.AudioOutput += o.AudioOutput
}

// UsageRecord is the usage of one source with one model on one UTC day. Its names are interned
// (Sym) and its provider packed, as in CostRecord: there is one record per key, model and day.
type UsageRecord struct {
	Tokens   Tokens
	Requests int64
	// Billed is the provider's own charge for exactly this row, when it reports one
	// (OpenRouter activity); HasBilled says whether it did.
	Billed ledger.Money
	Day    Day
	// Key is the most specific source the provider reports the usage under (an API key), or
	// NoSym when there is none (Anthropic Console/Workbench traffic).
	Key Sym
	// Scope is the container of Key: an OpenAI project or Anthropic workspace; NoSym when the
	// provider has no containers (OpenRouter).
	Scope       Sym
	Model       Sym
	Batch       bool // priced at the batch rate
	LongContext bool // priced at the long-context tier (Anthropic 200k-1M context window)
	USOnly      bool // Anthropic inference_geo "us"
	Fast        bool // Anthropic fast mode
	HasBilled   bool
	Provider    ProviderID
	Tier        Tier // service tier (OpenAI service_tier, Anthropic priority and flex)
}

// Class returns the record's price class.
func (r *UsageRecord) Class() PriceClass {
	return PriceClass{Tier: r.Tier, Batch: r.Batch, LongContext: r.LongContext, USOnly: r.USOnly, Fast: r.Fast}
}

// Source returns the most specific source of the record: its key, or its scope when keyless.
func (r *UsageRecord) Source() SourceRef {
	if r.Key != NoSym {
		return r.Key.Ref()
	}
	return r.Scope.Ref()
}

// CostRecord is an amount the provider billed on one UTC day at some grain. A large organisation
// has millions (OpenAI bills one line per key, model and token type), so the names are interned
// (Sym, LineItem), the class and provider packed: 32 bytes and no pointer a record, where strings
// took 136. TestFactRecords_CompactAndPointerFree pins it.
type CostRecord struct {
	Amount ledger.Money
	// Quantity is the billed quantity in the item's QuantityUnit (tokens, images, …) when the
	// provider says.
	Quantity int64
	Day      Day
	// Source is the billed grain: an API key when the provider bills per key, otherwise the
	// project or workspace (a SourceRef: Source.Ref()).
	Source Sym
	// Item is the model, line-item text and quantity unit the charge names, interned together:
	// a provider's distinct line items are few beside its records.
	Item LineItem
	// TokenType is the token class the charge is for; TokenNone when the bill names none (tools,
	// storage, a line item Margin cannot parse): such a bill is split by priced usage instead.
	TokenType TokenType
	// Class is the tier and qualifiers the bill names (priority, batch, long context, …).
	Class    ClassBits
	Provider ProviderID
}

// Model is the model the charge is for, or NoSym when it is not model specific (tools, storage).
func (r *CostRecord) Model() Sym { return r.Item.Model() }

// Description is the provider's own line-item text, for display.
func (r *CostRecord) Description() Sym { return r.Item.Description() }

// QuantityUnit is the unit of Quantity; NoSym when the provider gives no quantity.
func (r *CostRecord) QuantityUnit() Sym { return r.Item.QuantityUnit() }

// UnitTokens is the QuantityUnit of a quantity in tokens.
var UnitTokens = Intern("tokens")

// SourceInfo describes a source the provider lists, so unattributed spend can be shown by name
// and names that carry a Stripe customer id can be attributed.
type SourceInfo struct {
	Ref   SourceRef
	Name  string
	Scope SourceRef // the project or workspace of a key; "" otherwise
}

// Batch is everything one provider returned for a window.
type Batch struct {
	Provider Provider
	Window   Window
	Usage    []UsageRecord
	Costs    []CostRecord
	Sources  []SourceInfo
	// Warnings are non-fatal problems worth showing (a day the provider would not serve, say).
	Warnings []string
}

// Since returns the batch from day d on: b itself when its window starts there or later,
// otherwise a copy whose window starts at d, holding only the usage and cost records of those
// days (in their order) and sharing the sources and warnings.
func (b *Batch) Since(d Day) *Batch {
	if b.Window.From >= d {
		return b
	}
	out := *b
	out.Window.From = min(d, b.Window.To)
	out.Usage = keepSince(b.Usage, d, func(r *UsageRecord) Day { return r.Day })
	out.Costs = keepSince(b.Costs, d, func(r *CostRecord) Day { return r.Day })
	return &out
}

// keepSince copies the records of rs on day d or later into a slice of exactly their size.
func keepSince[R any](rs []R, d Day, day func(*R) Day) []R {
	n := 0
	for i := range rs {
		if day(&rs[i]) >= d {
			n++
		}
	}
	out := make([]R, 0, n)
	for i := range rs {
		if day(&rs[i]) >= d {
			out = append(out, rs[i])
		}
	}
	return out
}

// Source is one provider's usage and cost API.
type Source interface {
	Provider() Provider
	// Fetch returns usage, billed cost and source names for the window. Implementations follow
	// every page and clamp the window to the provider's RetentionDays: usage up to now (today's
	// partial day included when the window reaches it), billed cost for complete days only. A
	// provider without a documented retention adds a BackfillNotice when the window's first
	// days came back empty.
	Fetch(ctx context.Context, w Window) (*Batch, error)
	// Check makes one cheap authenticated call and returns why it fails, if it does.
	Check(ctx context.Context) error
}
