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
	// data null or missing is an error, not a quiet day
	return c.activity(ctx, url.Values{"api_key_hash": {keyHash}}, true)
}

// AccountActivity returns the whole account's activity over the last 30 completed UTC days: every
// workspace and every key, deleted keys included, aggregated per day, model and endpoint (no key
// column). It is what the account was billed, so it bounds the sum over listed keys.
// GET /activity
func (c *Client) AccountActivity(ctx context.Context) ([]ActivityItem, error) {
	return c.activity(ctx, nil, false)
}

// activity reads an /activity body as it streams, row by row, with the texts interned: a later
// poll reads every used key's 30 days again. required refuses a body whose data is null or
// missing; otherwise that reads as no rows.
func (c *Client) activity(ctx context.Context, q url.Values, required bool) ([]ActivityItem, error) {
	var rows []ActivityItem
	err := c.api.GetStream(ctx, activityEndpoint, q, func(d *apiclient.Decoder) error {
		rows = nil // a retried body starts over
		var got bool
		err := d.Object(func(name []byte) error {
			if string(name) != "data" {
				return d.Skip()
			}
			out := []ActivityItem{}
			null, err := d.Array(func(int) error {
				out = append(out, ActivityItem{})
				return decodeActivityItem(d, &out[len(out)-1])
			})
			if got = !null; got {
				rows = out
			} else {
				rows = nil
			}
			return err
		})
		if err == nil && !got && required {
			return apiclient.Missing("data")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// decodeActivityItem reads one row as encoding/json would into ActivityItem (unknown fields
// skipped, null leaving a field zero), without reflection.
func decodeActivityItem(d *apiclient.Decoder, r *ActivityItem) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "date":
			r.Date, err = d.Str()
		case "model":
			r.Model, err = d.Str()
		case "model_permaslug":
			r.ModelPermaslug, err = d.Str()
		case "endpoint_id":
			r.EndpointID, err = d.Str()
		case "provider_name":
			r.ProviderName, err = d.Str()
		case "workspace_id":
			r.WorkspaceID, err = d.Str()
		case "usage":
			err = decodeUSD(d, &r.Usage)
		case "byok_usage_inference":
			err = decodeUSD(d, &r.BYOKUsageInference)
		case "requests":
			r.Requests, err = d.Int()
		case "prompt_tokens":
			r.PromptTokens, err = d.Int()
		case "completion_tokens":
			r.CompletionTokens, err = d.Int()
		case "reasoning_tokens":
			r.ReasoningTokens, err = d.Int()
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeUSD(d *apiclient.Decoder, u *USD) error {
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	return u.UnmarshalJSON(raw)
}
