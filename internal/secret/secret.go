// Package secret keeps credentials out of logs, errors, metrics and output: a String type that
// never prints its value, and Scrub for text that comes from elsewhere (provider error bodies).
package secret

import (
	"encoding/json"
	"log/slog"
	"regexp"
)

// String holds a credential. Every way of printing it shows a mask; call Reveal to use it.
type String string

const mask = "<secret>"

// Reveal returns the credential itself, for the one place that sends it.
func (s String) Reveal() string { return string(s) }

// IsSet reports whether a value is present.
func (s String) IsSet() bool { return s != "" }

func (s String) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString masks %#v too.
func (s String) GoString() string { return s.String() }

// MarshalJSON masks JSON output.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML masks YAML output.
func (s String) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText masks text encodings.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue masks slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// keyPattern matches the credential formats Margin handles: OpenAI (sk-admin-, sk-proj-, sk-…),
// Anthropic (sk-ant-…), OpenRouter (sk-or-v1-…) and Stripe (sk_/rk_ live or test keys).
var keyPattern = regexp.MustCompile(`\b(?:sk-[A-Za-z0-9_\-*.]{6,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9*]{4,})`)

// Scrub replaces anything that looks like a credential in s with a mask.
func Scrub(s string) string { return keyPattern.ReplaceAllString(s, mask) }
