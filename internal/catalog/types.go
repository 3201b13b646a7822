// Package catalog is the effective-dated price list used to estimate cost from token usage where
// the providers do not bill at the needed grain, and to split coarse billed amounts by priced usage.
// An embedded table covers current OpenAI and Anthropic models; config entries override it.
// A model the catalog does not know is unpriced, never free.
package catalog

import (
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// Price is a set of per-million-token prices.
type Price struct {
	Input        ledger.Money // uncached input
	CachedInput  ledger.Money // cache reads
	CacheWrite5m ledger.Money // cache writes, 5-minute TTL (or the provider's only TTL)
	CacheWrite1h ledger.Money // cache writes, 1-hour TTL
	Output       ledger.Money
	// AudioInput and AudioOutput price the audio parts of input and output (OpenAI realtime and
	// audio models); zero means the model takes no audio, and audio tokens are then unpriced.
	AudioInput, AudioOutput ledger.Money
}

// Entry prices one model of one provider from a day on.
type Entry struct {
	Provider usage.Provider
	// Model is a model id, matched by its canonical spelling or as the family of a dated
	// snapshot ("gpt-4.1-mini" prices "gpt-4.1-mini-2025-04-14"); never as a sibling ("o3" does
	// not price "o3-pro").
	Model         string
	EffectiveFrom usage.Day // zero: always
	Standard      Price
	// Batch prices batch requests; nil means half the standard price.
	Batch *Price
	// LongContext prices requests in the long-context tier (Anthropic's 200k-1M window); nil
	// means the model has no such tier and the standard price applies.
	LongContext *Price
	// Priority and Flex price OpenAI's priority and flex processing tiers; nil means the model
	// has no such list price, and that tier's usage is unpriced (Anthropic's Priority Tier is
	// the exception: it is estimated at the standard rates, see Cost).
	Priority, Flex *Price
}
