// Package revenue defines the provider-neutral revenue facts: the customers, the revenue
// recognised per customer and day, and the live subscriptions the month-end forecast projects.
// internal/billing/stripe produces them and internal/engine consumes them, so neither copies the
// other's types and no front end needs Stripe's package to read them.
package revenue

import (
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// Customer is a billing customer as Margin needs it.
type Customer struct {
	ID, Name, Email, Plan string
	Currency              string            // the customer's default currency (lower-case ISO 4217)
	Metadata              map[string]string // the customer's metadata as the billing system holds it
	// Sources are the valid references of the metadata key margin_sources.
	Sources []usage.SourceRef
}

// Daily is revenue recognised for one customer on one UTC day, in the reporting currency.
type Daily struct {
	Customer string
	Day      usage.Day
	Amount   ledger.Money
}

// Facts is everything the billing system contributed for a window.
type Facts struct {
	Customers []Customer
	Daily     []Daily
	// Warnings are non-fatal problems worth showing (an invalid margin_sources entry, say).
	Warnings []string
}

// Subscription is a live subscription as the month-end forecast needs it: what it will invoice
// after its current period and what stops it. Times are Unix seconds; zero means unset.
type Subscription struct {
	ID, Customer string
	Status       string // active, trialing, past_due or unpaid: the statuses that still invoice
	// PeriodStart and PeriodEnd bound the current period. A licensed price has invoiced it in
	// advance (a trial's period invoices nothing); a metered one invoices it at PeriodEnd.
	PeriodStart, PeriodEnd int64
	TrialEnd               int64
	CancelAt               int64 // the subscription ends then
	CancelAtPeriodEnd      bool  // the subscription ends at PeriodEnd
	// Paused: collection is paused (pause_collection), so invoices until ResumesAt (0: until
	// resumed by hand) are voided, uncollectible or left as drafts and recognise nothing.
	Paused    bool
	ResumesAt int64
	Discounts []Discount // on the whole subscription
	Items     []SubscriptionItem
	// Upcoming is the current period's invoice while it is still a draft that will be
	// finalized (auto_advance): its total excluding tax, in the reporting currency. Recognition
	// counts drafts as nothing, so the forecast counts this instead. Zero when there is none.
	Upcoming ledger.Money
}

// SubscriptionItem is one price on a subscription.
type SubscriptionItem struct {
	ID, PriceID string
	// Amount is unit_amount × quantity for one interval, in the reporting currency, before
	// discounts and excluding exclusive tax (an inclusive price's tax is inside it).
	Amount        ledger.Money
	Interval      string // day, week, month or year
	IntervalCount int64
	Metered       bool // usage_type metered: billed in arrears from reported usage
	// Unpriced: the price has no flat unit amount (tiered or custom), so the item is not projected.
	Unpriced  bool
	Discounts []Discount // on this item only
	// For a metered, priced item: the current period's usage so far (usage record summary
	// total_usage × unit_amount) and when it was read (Unix seconds; 0: no summary for the period).
	UsageSoFar ledger.Money
	UsageAsOf  int64
}

// Discount is a coupon applied to a subscription or an item. It applies to invoices for periods
// that start before End.
type Discount struct {
	ID         string
	PercentOff ledger.Rate  // 0.2 for 20 %
	AmountOff  ledger.Money // per invoice, in the reporting currency
	End        int64        // the last moment it applies (repeating coupons); 0: no end
}

// Subscriptions are the live subscriptions the billing system reported.
type Subscriptions struct {
	Subscriptions []Subscription
	Warnings      []string
}
