package simulator

import "github.com/marginhq/margin/internal/ledger"

// The simulator's own price list: public list prices per million tokens, used to bill the world's
// usage. It is deliberately separate from internal/catalog so tests of the catalog compare two
// independent tables.

// perMillion is a price in nano-dollars per million tokens.
type perMillion = ledger.Money

func usd(s string) ledger.Money {
	m, err := ledger.ParseDollars(s)
	if err != nil {
		panic(err)
	}
	return m
}

// openaiModel prices an OpenAI model: uncached input, cached input, output. Batch is half price.
type openaiModel struct {
	id                     string
	input, cached, output  perMillion
	embedding, demoDefault bool
}

// openaiModels: the first five completion models and the embedding model make up the demo; the
// rest only appear when ModelsPerKey asks for more.
var openaiModels = []openaiModel{
	{id: "gpt-4.1-2025-04-14", input: usd("2"), cached: usd("0.5"), output: usd("8"), demoDefault: true},
	{id: "gpt-4.1-mini-2025-04-14", input: usd("0.36"), cached: usd("0.09"), output: usd("1.44"), demoDefault: true}, // 10% negotiated
	{id: "gpt-4o-mini-2024-07-18", input: usd("0.15"), cached: usd("0.075"), output: usd("0.6"), demoDefault: true},
	{id: "o4-mini-2025-04-16", input: usd("1.1"), cached: usd("0.275"), output: usd("4.4"), demoDefault: true},
	{id: "gpt-5-mini-2025-08-07", input: usd("0.25"), cached: usd("0.025"), output: usd("2"), demoDefault: true},
	{id: "gpt-4.1-nano-2025-04-14", input: usd("0.1"), cached: usd("0.025"), output: usd("0.4")},
	{id: "gpt-4o-2024-08-06", input: usd("2.5"), cached: usd("1.25"), output: usd("10")},
	{id: "o3-2025-04-16", input: usd("2"), cached: usd("0.5"), output: usd("8")},
	{id: "gpt-5-2025-08-07", input: usd("1.25"), cached: usd("0.125"), output: usd("10")},
	{id: "gpt-5-nano-2025-08-07", input: usd("0.05"), cached: usd("0.005"), output: usd("0.4")},
}

// unknownModel is newer than any catalog: only its bills price it.
var unknownModel = openaiModel{id: "gpt-5.6-sol", input: usd("1.5"), cached: usd("0.15"), output: usd("12")}

var embeddingModel = openaiModel{id: "text-embedding-3-small", input: usd("0.02"), embedding: true}

// openaiWebSearchPerCall is the price of one web search tool call ($10 per 1,000).
var openaiWebSearchPerCall = usd("0.01")

// anthropicPrice is one tier of an Anthropic model's prices.
type anthropicPrice struct {
	input, cacheRead, write5m, write1h, output perMillion
}

type anthropicModel struct {
	id, display string
	// alias is what the cost report names the model, when it writes the undated alias rather
	// than the dated id the usage report uses (provider-apis.md correction 6).
	alias       string
	standard    anthropicPrice
	longContext *anthropicPrice // 200k-1M context window tier; nil when the model has none
}

var anthropicModels = []anthropicModel{
	{
		// A negotiated 10% off the list price: bills carry it, the catalog does not.
		id: "claude-sonnet-4-5-20250929", display: "Claude Sonnet 4.5",
		standard:    anthropicPrice{usd("2.7"), usd("0.27"), usd("3.375"), usd("5.4"), usd("13.5")},
		longContext: &anthropicPrice{usd("6"), usd("0.6"), usd("7.5"), usd("12"), usd("22.5")},
	},
	{
		id: "claude-haiku-4-5-20251001", display: "Claude Haiku 4.5", alias: "claude-haiku-4-5",
		standard: anthropicPrice{usd("0.9"), usd("0.09"), usd("1.125"), usd("1.8"), usd("4.5")},
	},
	{
		id: "claude-opus-4-1-20250805", display: "Claude Opus 4.1",
		standard: anthropicPrice{usd("15"), usd("1.5"), usd("18.75"), usd("30"), usd("75")},
	},
}

// anthropicWebSearchPerRequest is $10 per 1,000 searches.
var anthropicWebSearchPerRequest = usd("0.01")

// openrouterModel is an OpenRouter slug with the prompt/completion prices its activity is billed at.
type openrouterModel struct {
	slug, permaslug, provider string
	prompt, completion        perMillion
	reasoningPerMille         int64 // share of completion tokens that are reasoning
}

var openrouterModels = []openrouterModel{
	{slug: "openai/gpt-4.1", permaslug: "openai/gpt-4.1-2025-04-14", provider: "OpenAI", prompt: usd("2"), completion: usd("8")},
	{slug: "anthropic/claude-sonnet-4.5", permaslug: "anthropic/claude-4.5-sonnet-20250929", provider: "Anthropic", prompt: usd("3"), completion: usd("15")},
	{slug: "google/gemini-2.5-flash", permaslug: "google/gemini-2.5-flash", provider: "Google", prompt: usd("0.30"), completion: usd("2.50"), reasoningPerMille: 300},
	{slug: "meta-llama/llama-3.3-70b-instruct", permaslug: "meta-llama/llama-3.3-70b-instruct", provider: "DeepInfra", prompt: usd("0.13"), completion: usd("0.40")},
}

// priceTokens returns tokens at a per-million price, rounded half away from zero to the nano-dollar.
func priceTokens(tokens int64, price perMillion) ledger.Money {
	return ledger.Money(ledger.MustMulDiv(tokens, int64(price), 1_000_000))
}

// costReportID is the model id the cost report writes.
func (m *anthropicModel) costReportID() string {
	if m.alias != "" {
		return m.alias
	}
	return m.id
}
