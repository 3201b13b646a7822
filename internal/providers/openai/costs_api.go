package openai

import (
	"context"
	"encoding/json"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"math"
	"strconv"
	"time"
)

const (
	costsEndpoint = "/organization/costs"
	// costsBucketLimit is the most 1d buckets a costs page may hold (up to 180, unlike usage).
	costsBucketLimit = 180
)

// CostBucket is one daily bucket of the costs endpoint.
type CostBucket struct {
	StartTime int64        `json:"start_time"` // Unix seconds, inclusive
	EndTime   int64        `json:"end_time"`   // Unix seconds, exclusive
	Results   []CostResult `json:"results"`
}

// Validate refuses a bucket whose results are null or missing: a bucket without usage sends [].
func (b *CostBucket) Validate() error {
	if b.Results == nil {
		return apiclient.Missing("results")
	}
	return nil
}

// CostResult is one billed line of a cost bucket. Group-by dimensions are nil unless requested or
// when the provider has no value (no key, the default project).
type CostResult struct {
	Amount    *Amount `json:"amount"`
	LineItem  *string `json:"line_item"` // e.g. "gpt-4.1-mini-2025-04-14, input"; opaque text
	ProjectID *string `json:"project_id"`
	APIKeyID  *string `json:"api_key_id"`
	// Quantity and QuantityUnit say how much was billed (with group_by=line_item), for example
	// 184220 "tokens"; both are null for charges without a quantity.
	Quantity     *json.Number `json:"quantity"`
	QuantityUnit *string      `json:"quantity_unit"`
}

// Tokens returns the billed quantity as a token count, when the unit is one.
func (r CostResult) Tokens() (int64, bool) {
	if r.Quantity == nil || r.QuantityUnit == nil {
		return 0, false
	}
	var q float64
	if s := string(*r.Quantity); len(s) <= 15 && isDigits(s) {
		n, _ := strconv.ParseInt(s, 10, 64) // at most 15 digits: exact, below 1e15
		q = float64(n)
	} else {
		var err error
		if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1e15 {
			return 0, false
		}
	}
	switch *r.QuantityUnit {
	case "tokens":
		return int64(math.Round(q)), true
	case "1000_tokens":
		return int64(math.Round(q * 1000)), true
	}
	return 0, false
}

// Amount is a billed amount in the currency's major unit (dollars for "usd").
type Amount struct {
	Value    Decimal `json:"value"` // a JSON number that sometimes arrives as a string (trap 3)
	Currency string  `json:"currency"`
}

// Costs yields every daily cost bucket in [start, end), grouped by project, API key and line
// item, following next_page to the end. The iteration stops at the first error, which it yields.
// Costs settle over the following days; callers should ask for complete days only.
// group_by is sent as repeated keys, as in Usage.
// GET /organization/costs
func (c *Client) Costs(ctx context.Context, start, end time.Time) iter.Seq2[CostBucket, error] {
	return c.costs(ctx, start, end, costsBucketLimit, false)
}

// costs is Costs asking for at most perPage daily buckets a page. With reuse, each bucket is
// decoded into the arrays of the one before: a bucket is only valid until the loop asks for the
// next (fetchCosts reads each at once and keeps nothing of it).
func (c *Client) costs(ctx context.Context, start, end time.Time, perPage int, reuse bool) iter.Seq2[CostBucket, error] {
	q := timeQuery(start, end, min(perPage, costsBucketLimit))
	q["group_by"] = []string{"project_id", "api_key_id", "line_item"}
	h := c.hints.resultHint(costsEndpoint) // results per bucket, as in usage
	hint := int(h.Load())
	texts := valueTexts{reuse: reuse}
	return apiclient.StreamCursorPages(ctx, c.api, costsEndpoint, q, maxPages, func(d *apiclient.Decoder, b *CostBucket) error {
		err := decodeCostBucket(d, b, &hint, &texts)
		raise(h, hint)
		return err
	})
}
