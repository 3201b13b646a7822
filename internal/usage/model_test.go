package usage

import (
	"math/rand/v2"
	"testing"
)

func TestCanonicalModel(t *testing.T) {
	for _, tc := range []struct {
		p        Provider
		in, want string
	}{
		{OpenAI, " GPT-4o ", "gpt-4o"},
		{OpenAI, "openai/gpt-4o-mini", "gpt-4o-mini"},
		{Anthropic, "anthropic/Claude-Sonnet-4-5", "claude-sonnet-4-5"},
		// Only the two provider prefixes are dropped: anything else is part of the id.
		{OpenAI, "ft:gpt-4o:acme/custom", "ft:gpt-4o:acme/custom"},
		{Anthropic, "vendor/claude", "vendor/claude"},
		// OpenRouter slugs keep their vendor: "openai/gpt-4o" there is the model's id.
		{OpenRouter, "OpenAI/GPT-4o", "openai/gpt-4o"},
	} {
		if got := CanonicalModel(tc.p, tc.in); got != tc.want {
			t.Errorf("CanonicalModel(%s, %q) = %q, want %q", tc.p, tc.in, got, tc.want)
		}
	}
}

func TestModelFamily_CutsOnlyDatedSnapshots(t *testing.T) {
	for _, tc := range []struct {
		p      Provider
		in     string
		family string
		dated  bool
	}{
		{OpenAI, "gpt-4.1-2025-04-14", "gpt-4.1", true},
		{Anthropic, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", true},
		{Anthropic, "anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku", true},
		{OpenRouter, "openai/gpt-4o-2024-08-06", "openai/gpt-4o", true},
		// Not dates: a different model, or a number that is no plausible day.
		{OpenAI, "o3-pro", "o3-pro", false},
		{OpenAI, "gpt-5-pro", "gpt-5-pro", false},
		{OpenAI, "gpt-4-0613", "gpt-4-0613", false},
		{OpenAI, "model-1999-01-01", "model-1999-01-01", false},
		{OpenAI, "model-2025-13-01", "model-2025-13-01", false},
		{OpenAI, "model-20251300", "model-20251300", false},
		{OpenAI, "model-2025-0a-01", "model-2025-0a-01", false},
		{OpenAI, "model-2025x04x14", "model-2025x04x14", false},
		{OpenAI, "-20250101", "-20250101", false}, // nothing left before the suffix
		{OpenAI, "", "", false},
	} {
		f, dated := ModelFamily(tc.p, tc.in)
		if f != tc.family || dated != tc.dated {
			t.Errorf("ModelFamily(%s, %q) = %q, %v; want %q, %v", tc.p, tc.in, f, dated, tc.family, tc.dated)
		}
	}
}

func TestParseTier(t *testing.T) {
	for in, want := range map[string]Tier{
		"priority": TierPriority, " Priority_on_demand ": TierPriority, "flex": TierFlex, "FLEX": TierFlex,
		"default": TierStandard, "auto": TierStandard, "scale": TierStandard, "": TierStandard, "batch": TierStandard,
	} {
		if got := ParseTier(in); got != want {
			t.Errorf("ParseTier(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokenType_String(t *testing.T) {
	want := []string{"", "input", "cached_input", "cache_write_5m", "cache_write_1h", "output", "audio_input", "audio_output"}
	for i, w := range want {
		if got := TokenType(i).String(); got != w { // #nosec G115 -- i < 8
			t.Errorf("TokenType(%d) = %q, want %q", i, got, w)
		}
	}
	if got := TokenType(200).String(); got != "unknown" {
		t.Errorf("out-of-range TokenType = %q, want unknown", got)
	}
	if TokenNone.String() != "" || len(BilledTokenTypes) != len(want)-1 {
		t.Errorf("TokenNone %q; %d billed types", TokenNone, len(BilledTokenTypes))
	}
}

// Property: the billed token classes partition Total, so pricing every class of a row never
// counts a token twice nor drops one, whatever audio share the provider reports.
func TestTokens_BilledTypesPartitionTotal(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 8)) // #nosec G404 -- deterministic test inputs
	for i := 0; i < 2000; i++ {
		tk := Tokens{
			Input: r.Int64N(1e9), CachedInput: r.Int64N(1e9), CacheWrite5m: r.Int64N(1e6), CacheWrite1h: r.Int64N(1e6),
			Output: r.Int64N(1e8),
		}
		tk.Reasoning = r.Int64N(tk.Output + 1)
		tk.AudioInput = r.Int64N(tk.Input + 1)
		tk.AudioOutput = r.Int64N(tk.Output + 1)
		var sum int64
		for _, tt := range BilledTokenTypes {
			n := tk.Of(tt)
			if n < 0 {
				t.Fatalf("%+v: Of(%s) = %d < 0", tk, tt, n)
			}
			sum += n
		}
		if sum != tk.Total() {
			t.Fatalf("%+v: billed classes sum to %d, Total is %d", tk, sum, tk.Total())
		}
		if tk.Of(TokenNone) != 0 {
			t.Fatalf("Of(TokenNone) = %d", tk.Of(TokenNone))
		}
	}
	// A provider reporting more audio than input (inconsistent counts) still never yields
	// negative text tokens, and audio is capped at what was billed.
	odd := Tokens{Input: 5, AudioInput: 9, Output: 3, AudioOutput: 7}
	if odd.Of(TokenInput) != 0 || odd.Of(TokenAudioInput) != 5 || odd.Of(TokenOutput) != 0 || odd.Of(TokenAudioOutput) != 3 {
		t.Errorf("inconsistent audio: input %d audio_in %d output %d audio_out %d",
			odd.Of(TokenInput), odd.Of(TokenAudioInput), odd.Of(TokenOutput), odd.Of(TokenAudioOutput))
	}
}
