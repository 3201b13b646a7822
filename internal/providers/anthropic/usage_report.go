package anthropic

import (
	"context"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"time"
)

const usageEndpoint = "/v1/organizations/usage_report/messages"

// usageGroupBy splits usage rows by every dimension that changes who is billed or at what rate.
// inference_geo matters because US-only inference bills 1.1× (provider-apis.md correction 7).
var usageGroupBy = []string{"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "speed"}

// fastModeBeta is the beta header that makes the usage report carry speed (fast mode).
const fastModeBeta = "fast-mode-2026-02-01"

// Values of the usage report's service_tier and context_window that change the price.
const (
	serviceTierBatch       = "batch"
	contextWindowLongRange = "200k-1M"
	inferenceGeoUS         = "us"
	speedFast              = "fast"
)

// UsageBucket is one daily bucket of the messages usage report. Buckets without usage have no
// results.
type UsageBucket struct {
	StartingAt time.Time     `json:"starting_at"` // inclusive
	EndingAt   time.Time     `json:"ending_at"`   // exclusive
	Results    []UsageResult `json:"results"`
}

// Validate refuses a bucket whose results are null or missing: a bucket without usage sends [].
func (b *UsageBucket) Validate() error {
	if b.Results == nil {
		return apiclient.Missing("results")
	}
	return nil
}

// UsageResult is one row of a usage bucket: one combination of the group-by dimensions. Token
// counts are disjoint; cache writes nest under cache_creation (trap 15: some third-party schemas
// flatten them, the API does not). Dimensions are nil unless grouped by; api_key_id is also nil
// for Console/Workbench traffic and workspace_id for the default workspace.
type UsageResult struct {
	UncachedInputTokens  int64         `json:"uncached_input_tokens"`
	CacheReadInputTokens int64         `json:"cache_read_input_tokens"`
	CacheCreation        CacheCreation `json:"cache_creation"`
	OutputTokens         int64         `json:"output_tokens"`
	ServerToolUse        ServerToolUse `json:"server_tool_use"`

	APIKeyID      *string `json:"api_key_id"`
	WorkspaceID   *string `json:"workspace_id"`
	Model         *string `json:"model"`
	ServiceTier   *string `json:"service_tier"`
	ContextWindow *string `json:"context_window"`
	InferenceGeo  *string `json:"inference_geo"`
	Speed         *string `json:"speed"` // "standard" or "fast", with the fast-mode beta header
}

// CacheCreation counts the input tokens written to the prompt cache, per cache lifetime.
type CacheCreation struct {
	Ephemeral5mInputTokens int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1hInputTokens int64 `json:"ephemeral_1h_input_tokens"`
}

// ServerToolUse counts server-side tool calls, billed per call rather than per token.
type ServerToolUse struct {
	WebSearchRequests int64 `json:"web_search_requests"`
}

// MessagesUsage yields every daily bucket of the messages usage report in [start, end), grouped
// by API key, workspace, model, service tier and context window, following next_page to the end.
// The iteration stops at the first error, which it yields. start should be a UTC midnight (the API
// snaps it to one) and end no later than now. The report has no request count.
// GET /v1/organizations/usage_report/messages
func (c *Client) MessagesUsage(ctx context.Context, start, end time.Time) iter.Seq2[UsageBucket, error] {
	return c.messagesUsage(ctx, start, end, reportBucketLimit)
}

// messagesUsage is MessagesUsage asking for at most perPage daily buckets a page.
func (c *Client) messagesUsage(ctx context.Context, start, end time.Time, perPage int) iter.Seq2[UsageBucket, error] {
	hint := 0 // results per bucket so far: each bucket's slice is sized once
	return apiclient.StreamCursorPages(ctx, c.api, usageEndpoint, reportQueryPage(start, end, perPage, usageGroupBy...), bucketMaxPages, func(d *apiclient.Decoder, b *UsageBucket) error {
		return decodeUsageBucket(d, b, &hint)
	})
}
