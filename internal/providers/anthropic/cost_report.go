package anthropic

import (
	"context"
	"fmt"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/ledger"
)

const costEndpoint = "/v1/organizations/cost_report"

// costGroupBy is every dimension the cost report can split by; it cannot split by API key
// (trap 12), so per-key cost is estimated from usage elsewhere.
var costGroupBy = []string{"workspace_id", "description"}

// CostBucket is one daily bucket of the cost report.
type CostBucket struct {
	StartingAt time.Time    `json:"starting_at"` // inclusive
	EndingAt   time.Time    `json:"ending_at"`   // exclusive
	Results    []CostResult `json:"results"`
}

// Validate refuses a bucket whose results are null or missing: a bucket without usage sends [].
func (b *CostBucket) Validate() error {
	if b.Results == nil {
		return apiclient.Missing("results")
	}
	return nil
}

// CostResult is one line of a cost bucket. Dimensions are nil unless grouped by; workspace_id is
// also nil for the default workspace, and model for charges that are not model specific.
type CostResult struct {
	Amount        Cents   `json:"amount"`
	Currency      string  `json:"currency"`
	CostType      *string `json:"cost_type"` // tokens, web_search, code_execution, …
	Description   *string `json:"description"`
	Model         *string `json:"model"`
	TokenType     *string `json:"token_type"` // dotted names such as cache_creation.ephemeral_5m_input_tokens
	ServiceTier   *string `json:"service_tier"`
	ContextWindow *string `json:"context_window"`
	InferenceGeo  *string `json:"inference_geo"`
	WorkspaceID   *string `json:"workspace_id"`
}

// Money returns the amount in the reporting currency, which must be USD in any letter case: Margin
// has no rate for anything else the report might one day return.
func (r CostResult) Money() (ledger.Money, error) {
	if !strings.EqualFold(r.Currency, "USD") {
		return 0, fmt.Errorf("cost in currency %q, want USD", r.Currency)
	}
	return r.Amount.Cents()
}

// Cents is the cost report's amount: a decimal in cents, the currency's lowest unit, so "123.45"
// is $1.2345 (trap 2: reading it as dollars overstates cost 100×). The API sends a string; a JSON
// number is accepted too, as the official cookbook reads it defensively. The text is kept as is so
// money never passes through float64.
type Cents = ledger.Decimal

// CostReport yields every daily bucket of the cost report in [start, end), grouped by workspace
// and description, following next_page to the end. The iteration stops at the first error, which
// it yields. Both bounds should be UTC midnights and end no later than today's: the API answers
// 400 when the range holds no complete day (trap 10).
// GET /v1/organizations/cost_report
func (c *Client) CostReport(ctx context.Context, start, end time.Time) iter.Seq2[CostBucket, error] {
	return c.costReport(ctx, start, end, reportBucketLimit)
}

// costReport is CostReport asking for at most perPage daily buckets a page.
func (c *Client) costReport(ctx context.Context, start, end time.Time, perPage int) iter.Seq2[CostBucket, error] {
	hint := 0
	return apiclient.StreamCursorPages(ctx, c.api, costEndpoint, reportQueryPage(start, end, perPage, costGroupBy...), bucketMaxPages, func(d *apiclient.Decoder, b *CostBucket) error {
		return decodeCostBucket(d, b, &hint)
	})
}
