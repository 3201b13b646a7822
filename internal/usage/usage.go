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

// RetentionDays is how many complete UTC days before today each provider still serves. It bounds
// the day-one backfill.
func (p Provider) RetentionDays() int {
	if p == OpenRouter {
		return 30
	}
	return 31
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
}

// UsageRecord is the usage of one source with one model on one UTC day.
type UsageRecord struct {
	Provider Provider
	Day      Day
	// Key is the most specific source the provider reports the usage under (an API key), or ""
	// when there is none (Anthropic Console/Workbench traffic).
	Key SourceRef
	// Scope is the container of Key: an OpenAI project or Anthropic workspace; "" when the
	// provider has no containers (OpenRouter).
	Scope       SourceRef
	Model       string
	Tokens      Tokens
	Requests    int64
	Batch       bool // priced at the batch rate
	LongContext bool // priced at the long-context tier (Anthropic 200k-1M context window)
	// Billed is the provider's own charge for exactly this row, when it reports one
	// (OpenRouter activity); HasBilled says whether it did.
	Billed    ledger.Money
	HasBilled bool
}

// Source returns the most specific source of the record: its key, or its scope when keyless.
func (r *UsageRecord) Source() SourceRef {
	if r.Key != "" {
		return r.Key
	}
	return r.Scope
}

// CostRecord is an amount the provider billed on one UTC day at some grain.
type CostRecord struct {
	Provider Provider
	Day      Day
	// Source is the billed grain: an API key when the provider bills per key, otherwise the
	// project or workspace.
	Source SourceRef
	// Model is the model the charge is for, or "" when it is not model specific (tools, storage).
	Model string
	// Description is the provider's own line-item text, for display.
	Description string
	Amount      ledger.Money
}

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

// Source is one provider's usage and cost API.
type Source interface {
	Provider() Provider
	// Fetch returns usage, billed cost and source names for the window. Implementations follow
	// every page and clamp the window to what the provider serves: usage up to now (today's
	// partial day included when the window reaches it), billed cost for complete days only.
	Fetch(ctx context.Context, w Window) (*Batch, error)
	// Check makes one cheap authenticated call and returns why it fails, if it does.
	Check(ctx context.Context) error
}
