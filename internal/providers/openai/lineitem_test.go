package openai

import (
	"reflect"
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

func TestParseLineItem(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LineItem
	}{
		{"gpt-4.1-mini-2025-04-14, input", LineItem{Model: "gpt-4.1-mini-2025-04-14", Kind: "input", TokenType: usage.TokenInput}},
		{"gpt-4o-2024-08-06, output", LineItem{Model: "gpt-4o-2024-08-06", Kind: "output", TokenType: usage.TokenOutput}},
		{"gpt-4o, cached input", LineItem{Model: "gpt-4o", Kind: "cached input", TokenType: usage.TokenCachedInput}},
		{"gpt-5, cache writes", LineItem{Model: "gpt-5", Kind: "cache writes", TokenType: usage.TokenCacheWrite5m}},
		{"priority | gpt-5.6-sol, output, long context", LineItem{Tier: usage.TierPriority, Model: "gpt-5.6-sol", Kind: "output", TokenType: usage.TokenOutput, LongContext: true}},
		{"flex | o3, input", LineItem{Tier: usage.TierFlex, Model: "o3", Kind: "input", TokenType: usage.TokenInput}},
		{"gpt-audio-mini-2025-12-15 audio, input", LineItem{Model: "gpt-audio-mini-2025-12-15", Modality: "audio", Kind: "input", TokenType: usage.TokenAudioInput}},
		{"gpt-realtime-2025-08-28, audio output", LineItem{Model: "gpt-realtime-2025-08-28", Modality: "audio", Kind: "output", TokenType: usage.TokenAudioOutput}},
		{"gpt-realtime-2025-08-28, text input", LineItem{Model: "gpt-realtime-2025-08-28", Modality: "text", Kind: "input", TokenType: usage.TokenInput}},
		{"gpt-4.1, input (batch)", LineItem{Model: "gpt-4.1", Kind: "input", TokenType: usage.TokenInput, Batch: true}},
		{"gpt-4.1, output, batch", LineItem{Model: "gpt-4.1", Kind: "output", TokenType: usage.TokenOutput, Batch: true}},
		{"gpt-5, output, priority", LineItem{Tier: usage.TierPriority, Model: "gpt-5", Kind: "output", TokenType: usage.TokenOutput}},
		{"  gpt-5 ,  INPUT  ", LineItem{Model: "gpt-5", Kind: "input", TokenType: usage.TokenInput}},
		// Known model, unknown kind or modality: model kept, no token type, the rest kept.
		{"gpt-image-1, image output", LineItem{Model: "gpt-image-1", Modality: "image", Kind: "output", Unknown: []string{"output"}}},
		{"gpt-4o-audio, audio, cached input", LineItem{Model: "gpt-4o-audio", Kind: "audio", Unknown: []string{"cached input", "audio"}}},
		{"gpt-5, reasoning summary", LineItem{Model: "gpt-5", Kind: "reasoning summary", Unknown: []string{"reasoning summary"}}},
		{"gpt-5, output, eu data residency", LineItem{Model: "gpt-5", Kind: "output", TokenType: usage.TokenOutput, Unknown: []string{"eu data residency"}}},
		{"scale | gpt-5, input", LineItem{Model: "gpt-5", Kind: "input", TokenType: usage.TokenInput, Unknown: []string{"scale"}}},
		{"default | gpt-5, input", LineItem{Model: "gpt-5", Kind: "input", TokenType: usage.TokenInput}},
		// No model named.
		{"web search tool calls", LineItem{}},
		{"file search storage", LineItem{}},
		{"", LineItem{}},
		{"code interpreter sessions, container", LineItem{Unknown: []string{"code interpreter sessions, container"}}},
	} {
		if got := parseLineItem(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLineItem(%q) =\n  %+v\nwant\n  %+v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseLineItem(f *testing.F) {
	for _, s := range []string{"gpt-4.1-mini-2025-04-14, input", "priority | gpt-5.6-sol, output, long context",
		"gpt-audio-mini-2025-12-15 audio, input", "web search tool calls", "a | b | c, d, e", ",,,", " | , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		li := parseLineItem(s)
		if li.Model == "" && li.TokenType != usage.TokenNone {
			t.Fatalf("%q: token type %v without a model", s, li.TokenType)
		}
		if li.TokenType > usage.TokenAudioOutput {
			t.Fatalf("%q: token type %d out of range", s, li.TokenType)
		}
	})
}
