package openrouter

import (
	"context"
	"net/url"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

const activityEndpoint = "/activity"

// ActivityItem is one row of /activity: a key's use of one model through one serving endpoint on
// one UTC day.
type ActivityItem struct {
	Date           string `json:"date"`  // YYYY-MM-DD, UTC
	Model          string `json:"model"` // slug, e.g. "openai/gpt-4.1"
	ModelPermaslug string `json:"model_permaslug"`
	EndpointID     string `json:"endpoint_id"`
	ProviderName   string `json:"provider_name"`
	// Usage is what OpenRouter billed in credits, in USD.
	Usage USD `json:"usage"`
	// BYOKUsageInference is inference paid through the account's own provider key (BYOK): the
	// upstream provider bills it, OpenRouter only estimates it at market rates.
	BYOKUsageInference USD   `json:"byok_usage_inference"`
	Requests           int64 `json:"requests"`
	PromptTokens       int64 `json:"prompt_tokens"`
	// CompletionTokens include ReasoningTokens.
	CompletionTokens int64  `json:"completion_tokens"`
	ReasoningTokens  int64  `json:"reasoning_tokens"`
	WorkspaceID      string `json:"workspace_id"` // only with group_by=workspace, which Margin does not send
}

// Activity returns the key's activity over the last 30 completed UTC days (today never), one row
// per day, model and endpoint. Leaving out date returns all 30 days in one call; the endpoint does
// not page.
// GET /activity
func (c *Client) Activity(ctx context.Context, keyHash string) ([]ActivityItem, error) {
	var out apiclient.Data[[]ActivityItem] // data null or missing is an error, not a quiet day
	if err := c.api.Get(ctx, activityEndpoint, url.Values{"api_key_hash": {keyHash}}, &out); err != nil {
		return nil, err
	}
	return *out.Data, nil
}

// AccountActivity returns the whole account's activity over the last 30 completed UTC days: every
// workspace and every key, deleted keys included, aggregated per day, model and endpoint (no key
// column). It is what the account was billed, so it bounds the sum over listed keys.
// GET /activity
func (c *Client) AccountActivity(ctx context.Context) ([]ActivityItem, error) {
	var out struct {
		Data []ActivityItem `json:"data"`
	}
	if err := c.api.Get(ctx, activityEndpoint, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
