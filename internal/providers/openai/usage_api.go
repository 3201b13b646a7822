package openai

import (
	"context"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"time"
)

// UsageEndpoint is one of the per-product usage endpoints under /organization/usage/.
type UsageEndpoint string

const (
	Completions         UsageEndpoint = "completions"
	Embeddings          UsageEndpoint = "embeddings"
	Images              UsageEndpoint = "images"
	AudioSpeeches       UsageEndpoint = "audio_speeches"
	AudioTranscriptions UsageEndpoint = "audio_transcriptions"
)

// usageEndpoints are the endpoints Fetch reads. Moderations are free; vector stores, code
// interpreter and search calls have no model and reach Margin through the costs API.
var usageEndpoints = []UsageEndpoint{Completions, Embeddings, Images, AudioSpeeches, AudioTranscriptions}

// Path returns the endpoint path relative to the base URL.
func (e UsageEndpoint) Path() string { return "/organization/usage/" + string(e) }

// groupBy returns the dimensions Margin asks each endpoint to split rows by. Only completions
// accept batch.
func (e UsageEndpoint) groupBy() []string {
	if e == Completions {
		return []string{"project_id", "api_key_id", "model", "batch", "service_tier"}
	}
	return []string{"project_id", "api_key_id", "model"}
}

// usageBucketLimit is the most 1d buckets a usage page may hold.
const usageBucketLimit = 31

// UsageBucket is one time bucket of a usage endpoint. The first bucket of a query starting
// mid-day runs only to the next UTC midnight (provider-apis.md trap 6).
type UsageBucket struct {
	StartTime int64         `json:"start_time"` // Unix seconds, inclusive
	EndTime   int64         `json:"end_time"`   // Unix seconds, exclusive
	Results   []UsageResult `json:"results"`    // empty for a bucket without usage
}

// Validate refuses a bucket whose results are null or missing: a bucket without usage sends [].
func (b *UsageBucket) Validate() error {
	if b.Results == nil {
		return apiclient.Missing("results")
	}
	return nil
}

// UsageResult is one row of a usage bucket: one combination of the group-by dimensions. It is the
// union of the fields Margin reads from every usage endpoint; absent fields decode as zero, so rows
// from before the 2026-07 token split (no cache-write field) decode too. Group-by dimensions are
// nil unless requested or when the provider has no value (no key, the default project).
type UsageResult struct {
	ProjectID *string  `json:"project_id"`
	APIKeyID  *string  `json:"api_key_id"`
	Model     *string  `json:"model"`
	Batch     FlexBool `json:"batch"`
	// ServiceTier is "default", "priority", "flex" or "scale" when grouped by service_tier
	// (completions only); priority bills at about 2× and carries "priority | " line items.
	ServiceTier *string `json:"service_tier"`

	// InputTokens includes cached and, since 2026-07, cache-write tokens (trap 5).
	InputTokens           int64 `json:"input_tokens"`
	InputCachedTokens     int64 `json:"input_cached_tokens"`
	InputCacheWriteTokens int64 `json:"input_cache_write_tokens"`
	OutputTokens          int64 `json:"output_tokens"`
	NumModelRequests      int64 `json:"num_model_requests"`
	// The audio parts of input and output, priced at their own rates.
	InputAudioTokens  int64 `json:"input_audio_tokens"`
	OutputAudioTokens int64 `json:"output_audio_tokens"`

	Images     int64 `json:"images"`     // images endpoint
	Characters int64 `json:"characters"` // audio_speeches endpoint
	Seconds    int64 `json:"seconds"`    // audio_transcriptions endpoint
}

// Usage yields every daily bucket of endpoint in [start, end), grouped by project, API key and
// model (and batch and service tier for completions), following next_page to the end. The iteration stops at the
// first error, which it yields. start should be a UTC midnight and end no later than now.
//
// group_by is sent as repeated keys (group_by=project_id&group_by=api_key_id&…), the form of the
// OpenAI cookbook; the API also accepts brackets and comma lists.
// GET /organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions}
func (c *Client) Usage(ctx context.Context, endpoint UsageEndpoint, start, end time.Time) iter.Seq2[UsageBucket, error] {
	return c.usage(ctx, endpoint, start, end, usageBucketLimit, false)
}

// usage is Usage asking for at most perPage daily buckets a page. With reuse, each bucket is
// decoded into the results array of the one before, as in costs.
func (c *Client) usage(ctx context.Context, endpoint UsageEndpoint, start, end time.Time, perPage int, reuse bool) iter.Seq2[UsageBucket, error] {
	q := timeQuery(start, end, min(perPage, usageBucketLimit))
	q["group_by"] = endpoint.groupBy()
	// Results per bucket so far (and in the last fetch): each bucket's slice is sized once.
	h := c.hints.resultHint(endpoint.Path())
	hint := int(h.Load())
	var into *[]UsageResult
	if reuse {
		into = new([]UsageResult)
	}
	return apiclient.StreamCursorPages(ctx, c.api, endpoint.Path(), q, maxPages, func(d *apiclient.Decoder, b *UsageBucket) error {
		err := decodeUsageBucket(d, b, &hint, into)
		raise(h, hint)
		return err
	})
}

// CompletionsUsage is Usage of the completions endpoint, grouped by project, API key, model and
// batch.
// GET /organization/usage/completions
func (c *Client) CompletionsUsage(ctx context.Context, start, end time.Time) iter.Seq2[UsageBucket, error] {
	return c.Usage(ctx, Completions, start, end)
}
