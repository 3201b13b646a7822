package openai

import (
	"strings"

	"github.com/marginhq/margin/internal/usage"
)

// LineItem is an OpenAI costs line_item taken apart. The text has no documented format
// (provider-apis.md correction 1); the forms seen on real organisations are
//
//	"gpt-4.1-mini-2025-04-14, input"
//	"gpt-4o-2024-08-06, cached input"
//	"gpt-5, cache writes"
//	"priority | gpt-5.6-sol, output, long context"
//	"gpt-audio-mini-2025-12-15 audio, input"
//	"gpt-realtime-2025-08-28, audio input"
//	"gpt-4.1, input (batch)" or "gpt-4.1, input, batch"
//	"web search tool calls"
//
// An optional "<tier> | " prefix, a model possibly followed by a modality word, then a kind and
// qualifiers, comma-separated. What is not understood is kept in Unknown; a line item that names no
// token type is still billed once, split over its source's usage by price.
type LineItem struct {
	Tier     usage.Tier
	Model    string // "" when the charge is not for a model (tools, storage)
	Modality string // "audio", "image", "text" or ""
	Kind     string // the kind as written, lower case: "input", "cached input", "output", …
	// TokenType is the usage token class the charge is for; TokenNone when the kind or
	// modality is one Margin does not count in usage (image tokens, say) or was not understood.
	TokenType   usage.TokenType
	Batch       bool
	LongContext bool
	Unknown     []string // qualifiers Margin did not recognise, as written
}

var modalities = map[string]bool{"audio": true, "image": true, "text": true}

// parseLineItem takes a line_item apart. It never fails: an unrecognised text is a LineItem with
// no model and no token type.
func parseLineItem(s string) LineItem {
	var li LineItem
	rest := strings.TrimSpace(s)
	if tier, after, ok := strings.Cut(rest, " | "); ok {
		li.Tier = parseTierWord(strings.TrimSpace(tier))
		if li.Tier == usage.TierStandard && !strings.EqualFold(strings.TrimSpace(tier), "default") && !strings.EqualFold(strings.TrimSpace(tier), "standard") {
			li.Unknown = append(li.Unknown, strings.TrimSpace(tier))
		}
		rest = strings.TrimSpace(after)
	}
	parts := strings.Split(rest, ",")
	if len(parts) < 2 {
		return LineItem{Unknown: li.Unknown} // "web search tool calls": no model named
	}
	head := strings.Fields(parts[0])
	switch {
	case len(head) == 1:
		li.Model = head[0]
	case len(head) == 2 && modalities[strings.ToLower(head[1])]:
		li.Model, li.Modality = head[0], strings.ToLower(head[1])
	default:
		return LineItem{Unknown: append(li.Unknown, strings.TrimSpace(rest))}
	}
	kind := strings.ToLower(strings.TrimSpace(parts[1]))
	if k, ok := strings.CutSuffix(kind, "(batch)"); ok {
		kind, li.Batch = strings.TrimSpace(k), true
	}
	if w, k, ok := strings.Cut(kind, " "); ok && modalities[w] && li.Modality == "" {
		li.Modality, kind = w, strings.TrimSpace(k)
	}
	li.Kind = kind
	for _, q := range parts[2:] {
		q = strings.ToLower(strings.TrimSpace(q))
		switch {
		case q == "":
		case q == "long context" || q == "long-context" || q == "long_context":
			li.LongContext = true
		case q == "batch" || q == "(batch)":
			li.Batch = true
		case parseTierWord(q) != usage.TierStandard:
			li.Tier = parseTierWord(q)
		default:
			li.Unknown = append(li.Unknown, q)
		}
	}
	li.TokenType = tokenTypeOf(kind, li.Modality)
	if li.TokenType == usage.TokenNone {
		li.Unknown = append(li.Unknown, kind)
	}
	return li
}

func parseTierWord(s string) usage.Tier {
	switch strings.ToLower(s) {
	case "priority":
		return usage.TierPriority
	case "flex":
		return usage.TierFlex
	}
	return usage.TierStandard
}

// tokenTypeOf maps a kind (and modality) onto the usage token class it bills.
func tokenTypeOf(kind, modality string) usage.TokenType {
	var tt usage.TokenType
	switch kind {
	case "input", "uncached input":
		tt = usage.TokenInput
	case "cached input", "cache read", "cache reads", "cached":
		tt = usage.TokenCachedInput
	case "cache write", "cache writes", "cache creation":
		tt = usage.TokenCacheWrite5m
	case "output":
		tt = usage.TokenOutput
	default:
		return usage.TokenNone
	}
	switch modality {
	case "", "text":
		return tt
	case "audio":
		switch tt {
		case usage.TokenInput:
			return usage.TokenAudioInput
		case usage.TokenOutput:
			return usage.TokenAudioOutput
		}
	}
	// Image tokens and cached audio are not counted apart in usage: split by price instead.
	return usage.TokenNone
}
