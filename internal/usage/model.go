package usage

import (
	"fmt"
	"strconv"
	"strings"
)

// CanonicalModel is the one spelling of a model id that bills, usage and the catalog are compared
// in: trimmed, lower case, without a provider prefix ("openai/gpt-4o", "anthropic/claude-…").
// OpenRouter slugs keep their vendor prefix: there it is part of the id.
func CanonicalModel(p Provider, model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if p == OpenRouter {
		return m
	}
	if i := strings.IndexByte(m, '/'); i >= 0 {
		switch m[:i] {
		case "openai", "anthropic":
			m = m[i+1:]
		}
	}
	return m
}

// ModelFamily returns the canonical id without a dated snapshot suffix ("-2025-04-14" or
// "-20250929"), and whether there was one. Only such suffixes name the same model under another
// id: "o3-pro" is not "o3", and "gpt-5-pro" is not "gpt-5" (provider-apis.md correction 11).
func ModelFamily(p Provider, model string) (string, bool) {
	m := CanonicalModel(p, model)
	if base, ok := cutDatedSuffix(m); ok {
		return base, true
	}
	return m, false
}

// cutDatedSuffix removes a trailing -YYYY-MM-DD or -YYYYMMDD.
func cutDatedSuffix(m string) (string, bool) {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	if n := len(m); n > 11 && m[n-11] == '-' && m[n-6] == '-' && m[n-3] == '-' &&
		digits(m[n-10:n-6]) && digits(m[n-5:n-3]) && digits(m[n-2:]) && plausibleDate(m[n-10:n-6], m[n-5:n-3], m[n-2:]) {
		return m[:n-11], true
	}
	if n := len(m); n > 9 && m[n-9] == '-' && digits(m[n-8:]) && plausibleDate(m[n-8:n-4], m[n-4:n-2], m[n-2:]) {
		return m[:n-9], true
	}
	return m, false
}

func plausibleDate(y, mo, d string) bool {
	return y >= "2020" && y <= "2099" && mo >= "01" && mo <= "12" && d >= "01" && d <= "31"
}

// TokenType names one disjoint token class of Tokens, as bills name what they charge for.
type TokenType uint8

const (
	TokenNone         TokenType = iota // the bill names no token type (tools, storage, unknown)
	TokenInput                         // uncached input
	TokenCachedInput                   // cache reads
	TokenCacheWrite5m                  // cache writes, 5-minute or only TTL
	TokenCacheWrite1h                  // cache writes, 1-hour TTL
	TokenOutput                        // output, reasoning included
	TokenAudioInput                    // the audio part of uncached input
	TokenAudioOutput                   // the audio part of output
)

var tokenTypeNames = [...]string{"", "input", "cached_input", "cache_write_5m", "cache_write_1h", "output", "audio_input", "audio_output"}

func (t TokenType) String() string {
	if int(t) < len(tokenTypeNames) {
		return tokenTypeNames[t]
	}
	return "unknown"
}

// Of returns the tokens of class tt. Text input and output exclude their audio parts, so a bill
// for "audio, input" and one for "input" split over disjoint counts.
func (t Tokens) Of(tt TokenType) int64 {
	switch tt {
	case TokenInput:
		return max(t.Input-t.AudioInput, 0)
	case TokenCachedInput:
		return t.CachedInput
	case TokenCacheWrite5m:
		return t.CacheWrite5m
	case TokenCacheWrite1h:
		return t.CacheWrite1h
	case TokenOutput:
		return max(t.Output-t.AudioOutput, 0)
	case TokenAudioInput:
		return min(t.AudioInput, t.Input)
	case TokenAudioOutput:
		return min(t.AudioOutput, t.Output)
	}
	return 0
}

// BilledTokenTypes lists the classes a usage row can be priced by, each token in exactly one.
var BilledTokenTypes = [...]TokenType{TokenInput, TokenCachedInput, TokenCacheWrite5m, TokenCacheWrite1h, TokenOutput, TokenAudioInput, TokenAudioOutput}

// Tier is a provider's service tier where it changes the price. The zero value is standard. It
// is one byte, not its name, so that a usage record holds no pointer (the collector need not
// scan a table of millions); it prints, compares and marshals as its name ("" standard,
// "flex", "priority", in that order).
type Tier uint8

const (
	TierStandard Tier = iota
	TierFlex
	TierPriority
)

var tierNames = [...]string{TierStandard: "", TierFlex: "flex", TierPriority: "priority"}

// String returns the tier's name: "" for standard.
func (t Tier) String() string {
	if int(t) < len(tierNames) {
		return tierNames[t]
	}
	return "tier(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText writes the tier's name.
func (t Tier) MarshalText() ([]byte, error) {
	if int(t) >= len(tierNames) {
		return nil, fmt.Errorf("unknown service tier %d", t)
	}
	return []byte(tierNames[t]), nil
}

// UnmarshalText reads a name MarshalText wrote.
func (t *Tier) UnmarshalText(b []byte) error {
	for i, n := range tierNames {
		if string(b) == n {
			*t = Tier(i) // #nosec G115 -- three tiers
			return nil
		}
	}
	return fmt.Errorf("unknown service tier %q", b)
}

// ParseTier maps the providers' service_tier values onto Tier; batch is a separate flag and
// values Margin does not know price as standard.
func ParseTier(s string) Tier {
	switch s = strings.ToLower(strings.TrimSpace(s)); {
	case strings.HasPrefix(s, "priority"):
		return TierPriority
	case strings.HasPrefix(s, "flex"):
		return TierFlex
	}
	return TierStandard
}

// PriceClass is every dimension besides model and token type that changes a token's price. Bills
// and usage are matched on it.
type PriceClass struct {
	Tier        Tier
	Batch       bool
	LongContext bool // long-context tier (Anthropic 200k-1M window, OpenAI "long context" line items)
	USOnly      bool // Anthropic inference_geo "us": 1.1× the global price
	Fast        bool // Anthropic fast mode (speed "fast")
}
