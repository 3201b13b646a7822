package anthropic

import (
	"fmt"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// The usage and cost reports are decoded by hand from the token stream, result by result, with
// every id and model name interned, like OpenAI's usage and costs pages. Unknown fields are
// skipped, as encoding/json skips them.

// decodeTime reads an RFC 3339 time as time.Time's UnmarshalJSON does (null leaves it zero).
func decodeTime(d *apiclient.Decoder, t *time.Time) error {
	raw, err := d.Raw()
	if err != nil || string(raw) == "null" {
		return err
	}
	return t.UnmarshalJSON(raw)
}

func decodeUsageBucket(d *apiclient.Decoder, b *UsageBucket, hint *int) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "starting_at":
			err = decodeTime(d, &b.StartingAt)
		case "ending_at":
			err = decodeTime(d, &b.EndingAt)
		case "results":
			b.Results, err = apiclient.Results(d, hint, func(r *UsageResult) error { return decodeUsageResult(d, r) })
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeUsageResult(d *apiclient.Decoder, r *UsageResult) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "uncached_input_tokens":
			r.UncachedInputTokens, err = d.Int()
		case "cache_read_input_tokens":
			r.CacheReadInputTokens, err = d.Int()
		case "cache_creation":
			err = d.Object(func(name []byte) error {
				var err error
				switch string(name) {
				case "ephemeral_5m_input_tokens":
					r.CacheCreation.Ephemeral5mInputTokens, err = d.Int()
				case "ephemeral_1h_input_tokens":
					r.CacheCreation.Ephemeral1hInputTokens, err = d.Int()
				default:
					err = d.Skip()
				}
				return err
			})
		case "output_tokens":
			r.OutputTokens, err = d.Int()
		case "server_tool_use":
			err = d.Object(func(name []byte) error {
				if string(name) == "web_search_requests" {
					var err error
					r.ServerToolUse.WebSearchRequests, err = d.Int()
					return err
				}
				return d.Skip()
			})
		case "api_key_id":
			r.APIKeyID, err = d.StrPtr()
		case "workspace_id":
			r.WorkspaceID, err = d.StrPtr()
		case "model":
			r.Model, err = d.StrPtr()
		case "service_tier":
			r.ServiceTier, err = d.StrPtr()
		case "context_window":
			r.ContextWindow, err = d.StrPtr()
		case "inference_geo":
			r.InferenceGeo, err = d.StrPtr()
		case "speed":
			r.Speed, err = d.StrPtr()
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeCostBucket(d *apiclient.Decoder, b *CostBucket, hint *int) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "starting_at":
			err = decodeTime(d, &b.StartingAt)
		case "ending_at":
			err = decodeTime(d, &b.EndingAt)
		case "results":
			b.Results, err = apiclient.Results(d, hint, func(r *CostResult) error { return decodeCostResult(d, r) })
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeCostResult(d *apiclient.Decoder, r *CostResult) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "amount":
			var raw []byte
			if raw, err = d.Raw(); err == nil {
				if err = r.Amount.UnmarshalJSON(raw); err != nil {
					err = fmt.Errorf("amount: %w", err)
				}
			}
		case "currency":
			r.Currency, err = d.Str()
		case "cost_type":
			r.CostType, err = d.StrPtr()
		case "description":
			r.Description, err = d.StrPtr()
		case "model":
			r.Model, err = d.StrPtr()
		case "token_type":
			r.TokenType, err = d.StrPtr()
		case "service_tier":
			r.ServiceTier, err = d.StrPtr()
		case "context_window":
			r.ContextWindow, err = d.StrPtr()
		case "inference_geo":
			r.InferenceGeo, err = d.StrPtr()
		case "workspace_id":
			r.WorkspaceID, err = d.StrPtr()
		default:
			err = d.Skip()
		}
		return err
	})
}
