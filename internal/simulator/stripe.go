package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Stripe fake: API version 2023-10-16 shapes (what stripe-go v76 decodes), with unexpanded
// references written as id strings the way the API sends them. Built once in New; changed only by
// the Stripe* methods of stripe_events.go, under stripeData.mu.

const stripeAPIVersion = "2023-10-16"

type stripeData struct {
	customers   []*stCustomer // newest first, as Stripe lists them
	products    []*stProduct
	prices      []*stPrice
	subs        []*stSubscription
	invoices    []*stInvoice
	creditNotes []*stCreditNote
	usage       map[string][]*stUsageSummary // by metered subscription item, newest period first
	events      []*stEvent                   // newest first; only changes made after New

	mu sync.RWMutex // held for reading while a request is served
}

type stUsageSummary struct {
	ID               string        `json:"id"`
	Object           string        `json:"object"`
	Invoice          *string       `json:"invoice"`
	Livemode         bool          `json:"livemode"`
	Period           stUsagePeriod `json:"period"`
	SubscriptionItem string        `json:"subscription_item"`
	TotalUsage       int64         `json:"total_usage"`
}

type stUsagePeriod struct {
	End   *int64 `json:"end"`
	Start int64  `json:"start"`
}

type stCustomer struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Address          *struct{}         `json:"address"`
	Balance          int64             `json:"balance"`
	Created          int64             `json:"created"`
	Currency         string            `json:"currency"`
	DefaultSource    *string           `json:"default_source"`
	Delinquent       bool              `json:"delinquent"`
	Description      *string           `json:"description"`
	Discount         *stDiscount       `json:"discount"`
	Email            string            `json:"email"`
	InvoicePrefix    string            `json:"invoice_prefix"`
	InvoiceSettings  stInvoiceSettings `json:"invoice_settings"`
	Livemode         bool              `json:"livemode"`
	Metadata         map[string]string `json:"metadata"`
	Name             string            `json:"name"`
	Phone            *string           `json:"phone"`
	PreferredLocales []string          `json:"preferred_locales"`
	Shipping         *struct{}         `json:"shipping"`
	TaxExempt        string            `json:"tax_exempt"`
	TestClock        *string           `json:"test_clock"`
}

type stInvoiceSettings struct {
	CustomFields         *struct{} `json:"custom_fields"`
	DefaultPaymentMethod *string   `json:"default_payment_method"`
	Footer               *string   `json:"footer"`
	RenderingOptions     *struct{} `json:"rendering_options"`
}

type stProduct struct {
	ID           string            `json:"id"`
	Object       string            `json:"object"`
	Active       bool              `json:"active"`
	Created      int64             `json:"created"`
	DefaultPrice *string           `json:"default_price"`
	Description  *string           `json:"description"`
	Images       []string          `json:"images"`
	Livemode     bool              `json:"livemode"`
	Metadata     map[string]string `json:"metadata"`
	Name         string            `json:"name"`
	TaxCode      *string           `json:"tax_code"`
	Type         string            `json:"type"`
	UnitLabel    *string           `json:"unit_label"`
	Updated      int64             `json:"updated"`
	URL          *string           `json:"url"`
}

type stRecurring struct {
	AggregateUsage  *string `json:"aggregate_usage"`
	Interval        string  `json:"interval"`
	IntervalCount   int64   `json:"interval_count"`
	TrialPeriodDays *int64  `json:"trial_period_days"`
	UsageType       string  `json:"usage_type"`
}

type stPrice struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Active            bool              `json:"active"`
	BillingScheme     string            `json:"billing_scheme"`
	Created           int64             `json:"created"`
	Currency          string            `json:"currency"`
	CustomUnitAmount  *struct{}         `json:"custom_unit_amount"`
	Livemode          bool              `json:"livemode"`
	LookupKey         *string           `json:"lookup_key"`
	Metadata          map[string]string `json:"metadata"`
	Nickname          *string           `json:"nickname"`
	Product           string            `json:"product"`
	Recurring         *stRecurring      `json:"recurring"`
	TaxBehavior       string            `json:"tax_behavior"`
	TiersMode         *string           `json:"tiers_mode"`
	TransformQuantity *struct{}         `json:"transform_quantity"`
	Type              string            `json:"type"`
	UnitAmount        int64             `json:"unit_amount"`
	UnitAmountDecimal string            `json:"unit_amount_decimal"`
}

type stCoupon struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	AmountOff        *int64            `json:"amount_off"`
	Created          int64             `json:"created"`
	Currency         *string           `json:"currency"`
	Duration         string            `json:"duration"`
	DurationInMonths *int64            `json:"duration_in_months"`
	Livemode         bool              `json:"livemode"`
	MaxRedemptions   *int64            `json:"max_redemptions"`
	Metadata         map[string]string `json:"metadata"`
	Name             string            `json:"name"`
	PercentOff       float64           `json:"percent_off"` // Stripe's own type; not money
	RedeemBy         *int64            `json:"redeem_by"`
	TimesRedeemed    int64             `json:"times_redeemed"`
	Valid            bool              `json:"valid"`
}

type stDiscount struct {
	ID              string   `json:"id"`
	Object          string   `json:"object"`
	CheckoutSession *string  `json:"checkout_session"`
	Coupon          stCoupon `json:"coupon"`
	Customer        string   `json:"customer"`
	End             *int64   `json:"end"`
	Invoice         *string  `json:"invoice"`
	InvoiceItem     *string  `json:"invoice_item"`
	PromotionCode   *string  `json:"promotion_code"`
	Start           int64    `json:"start"`
	Subscription    string   `json:"subscription"`
}

type stList[T any] struct {
	Object     string `json:"object"`
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	TotalCount int    `json:"total_count,omitempty"`
	URL        string `json:"url"`
}

type stSubItem struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	BillingThresholds *struct{}         `json:"billing_thresholds"`
	Created           int64             `json:"created"`
	Metadata          map[string]string `json:"metadata"`
	Price             *stPrice          `json:"price"`
	Quantity          int64             `json:"quantity"`
	Subscription      string            `json:"subscription"`
	TaxRates          []string          `json:"tax_rates"`
}

type stSubscription struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	BillingCycleAnchor int64              `json:"billing_cycle_anchor"`
	CancelAt           *int64             `json:"cancel_at"`
	CancelAtPeriodEnd  bool               `json:"cancel_at_period_end"`
	CanceledAt         *int64             `json:"canceled_at"`
	CollectionMethod   string             `json:"collection_method"`
	Created            int64              `json:"created"`
	Currency           string             `json:"currency"`
	CurrentPeriodEnd   int64              `json:"current_period_end"`
	CurrentPeriodStart int64              `json:"current_period_start"`
	Customer           string             `json:"customer"`
	Description        *string            `json:"description"`
	Discount           *stDiscount        `json:"discount"`
	Discounts          []any              `json:"discounts"` // ids, or the objects with expand[]=data.discounts
	EndedAt            *int64             `json:"ended_at"`
	Items              stList[*stSubItem] `json:"items"`
	LatestInvoice      any                `json:"latest_invoice"` // id, or the invoice with expand[]=data.latest_invoice
	Livemode           bool               `json:"livemode"`
	Metadata           map[string]string  `json:"metadata"`
	PauseCollection    *struct{}          `json:"pause_collection"`
	StartDate          int64              `json:"start_date"`
	Status             string             `json:"status"`
	TrialEnd           *int64             `json:"trial_end"`
	TrialStart         *int64             `json:"trial_start"`
}

type stDiscountAmount struct {
	Amount   int64  `json:"amount"`
	Discount string `json:"discount"`
}

type stTaxAmount struct {
	Amount           int64  `json:"amount"`
	Inclusive        bool   `json:"inclusive"`
	TaxRate          string `json:"tax_rate"`
	TaxabilityReason string `json:"taxability_reason"`
	TaxableAmount    int64  `json:"taxable_amount"`
}

type stPeriod struct {
	End   int64 `json:"end"`
	Start int64 `json:"start"`
}

type stProrationDetails struct {
	CreditedItems *struct{} `json:"credited_items"`
}

type stLine struct {
	ID                     string             `json:"id"`
	Object                 string             `json:"object"`
	Amount                 int64              `json:"amount"`
	AmountExcludingTax     int64              `json:"amount_excluding_tax"`
	Currency               string             `json:"currency"`
	Description            string             `json:"description"`
	DiscountAmounts        []stDiscountAmount `json:"discount_amounts"`
	Discountable           bool               `json:"discountable"`
	Discounts              []string           `json:"discounts"`
	InvoiceItem            string             `json:"invoice_item,omitempty"`
	Livemode               bool               `json:"livemode"`
	Metadata               map[string]string  `json:"metadata"`
	Period                 stPeriod           `json:"period"`
	Price                  *stPrice           `json:"price"`
	Proration              bool               `json:"proration"`
	ProrationDetails       stProrationDetails `json:"proration_details"`
	Quantity               int64              `json:"quantity"`
	Subscription           *string            `json:"subscription"`
	SubscriptionItem       string             `json:"subscription_item,omitempty"`
	TaxAmounts             []stTaxAmount      `json:"tax_amounts"`
	TaxRates               []string           `json:"tax_rates"`
	Type                   string             `json:"type"`
	UnitAmountExcludingTax string             `json:"unit_amount_excluding_tax"`
}

type stStatusTransitions struct {
	FinalizedAt           *int64 `json:"finalized_at"`
	MarkedUncollectibleAt *int64 `json:"marked_uncollectible_at"`
	PaidAt                *int64 `json:"paid_at"`
	VoidedAt              *int64 `json:"voided_at"`
}

type stInvoice struct {
	ID                           string              `json:"id"`
	Object                       string              `json:"object"`
	AccountCountry               string              `json:"account_country"`
	AccountName                  string              `json:"account_name"`
	AmountDue                    int64               `json:"amount_due"`
	AmountPaid                   int64               `json:"amount_paid"`
	AmountRemaining              int64               `json:"amount_remaining"`
	AmountShipping               int64               `json:"amount_shipping"`
	AttemptCount                 int64               `json:"attempt_count"`
	Attempted                    bool                `json:"attempted"`
	AutoAdvance                  bool                `json:"auto_advance"`
	BillingReason                string              `json:"billing_reason"`
	CollectionMethod             string              `json:"collection_method"`
	Created                      int64               `json:"created"`
	Currency                     string              `json:"currency"`
	Customer                     string              `json:"customer"`
	CustomerEmail                string              `json:"customer_email"`
	CustomerName                 string              `json:"customer_name"`
	Description                  *string             `json:"description"`
	Discount                     *stDiscount         `json:"discount"`
	Discounts                    []string            `json:"discounts"`
	DueDate                      *int64              `json:"due_date"`
	EffectiveAt                  *int64              `json:"effective_at"`
	EndingBalance                *int64              `json:"ending_balance"`
	HostedInvoiceURL             *string             `json:"hosted_invoice_url"`
	Lines                        stList[*stLine]     `json:"lines"`
	Livemode                     bool                `json:"livemode"`
	Metadata                     map[string]string   `json:"metadata"`
	Number                       *string             `json:"number"`
	Paid                         bool                `json:"paid"`
	PaidOutOfBand                bool                `json:"paid_out_of_band"`
	PeriodEnd                    int64               `json:"period_end"`
	PeriodStart                  int64               `json:"period_start"`
	PostPaymentCreditNotesAmount int64               `json:"post_payment_credit_notes_amount"`
	PrePaymentCreditNotesAmount  int64               `json:"pre_payment_credit_notes_amount"`
	StartingBalance              int64               `json:"starting_balance"`
	Status                       string              `json:"status"`
	StatusTransitions            stStatusTransitions `json:"status_transitions"`
	Subscription                 *string             `json:"subscription"`
	Subtotal                     int64               `json:"subtotal"`
	SubtotalExcludingTax         int64               `json:"subtotal_excluding_tax"`
	Tax                          *int64              `json:"tax"`
	Total                        int64               `json:"total"`
	TotalDiscountAmounts         []stDiscountAmount  `json:"total_discount_amounts"`
	TotalExcludingTax            int64               `json:"total_excluding_tax"`
	TotalTaxAmounts              []stTaxAmount       `json:"total_tax_amounts"`

	allLines []*stLine
}

type stCreditNoteLine struct {
	ID                     string             `json:"id"`
	Object                 string             `json:"object"`
	Amount                 int64              `json:"amount"`
	AmountExcludingTax     int64              `json:"amount_excluding_tax"`
	Description            string             `json:"description"`
	DiscountAmount         int64              `json:"discount_amount"`
	DiscountAmounts        []stDiscountAmount `json:"discount_amounts"`
	InvoiceLineItem        *string            `json:"invoice_line_item"`
	Livemode               bool               `json:"livemode"`
	Quantity               int64              `json:"quantity"`
	TaxAmounts             []stTaxAmount      `json:"tax_amounts"`
	TaxRates               []string           `json:"tax_rates"`
	Type                   string             `json:"type"`
	UnitAmount             int64              `json:"unit_amount"`
	UnitAmountDecimal      string             `json:"unit_amount_decimal"`
	UnitAmountExcludingTax string             `json:"unit_amount_excluding_tax"`
}

type stCreditNote struct {
	ID                         string                    `json:"id"`
	Object                     string                    `json:"object"`
	Amount                     int64                     `json:"amount"`
	AmountShipping             int64                     `json:"amount_shipping"`
	Created                    int64                     `json:"created"`
	Currency                   string                    `json:"currency"`
	Customer                   string                    `json:"customer"`
	CustomerBalanceTransaction *string                   `json:"customer_balance_transaction"`
	DiscountAmount             int64                     `json:"discount_amount"`
	DiscountAmounts            []stDiscountAmount        `json:"discount_amounts"`
	EffectiveAt                *int64                    `json:"effective_at"`
	Invoice                    string                    `json:"invoice"`
	Lines                      stList[*stCreditNoteLine] `json:"lines"`
	Livemode                   bool                      `json:"livemode"`
	Memo                       *string                   `json:"memo"`
	Metadata                   map[string]string         `json:"metadata"`
	Number                     string                    `json:"number"`
	OutOfBandAmount            *int64                    `json:"out_of_band_amount"`
	PDF                        string                    `json:"pdf"`
	Reason                     *string                   `json:"reason"`
	Refund                     *string                   `json:"refund"`
	Status                     string                    `json:"status"`
	Subtotal                   int64                     `json:"subtotal"`
	SubtotalExcludingTax       int64                     `json:"subtotal_excluding_tax"`
	TaxAmounts                 []stTaxAmount             `json:"tax_amounts"`
	Total                      int64                     `json:"total"`
	TotalExcludingTax          int64                     `json:"total_excluding_tax"`
	Type                       string                    `json:"type"`
	VoidedAt                   *int64                    `json:"voided_at"`
}

func ptr[T any](v T) *T { return &v }

// planAmounts are the monthly list prices in minor units per currency.
var planAmounts = map[string][3]int64{
	"usd": {4900, 29900, 150000},
	"eur": {4500, 27500, 139000},
	"gbp": {3900, 23900, 119000},
}

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int64) int64 {
	if (a < 0) != (b < 0) {
		return -((abs(a) + abs(b)/2) / abs(b))
	}
	return (abs(a) + abs(b)/2) / abs(b)
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

type period struct{ start, end time.Time }

func (w *World) buildStripe() {
	sd := &stripeData{usage: map[string][]*stUsageSummary{}}
	w.stripe = sd
	base := w.now.AddDate(-2, 0, 0).Unix()
	products := make([]*stProduct, 3)
	for p := starter; p <= enterprise; p++ {
		products[p] = &stProduct{ID: w.id("prod_", 14, "product", p.name()), Object: "product", Active: true, Created: base,
			Images: []string{}, Metadata: map[string]string{}, Name: p.name(), Type: "service", Updated: base}
	}
	support := &stProduct{ID: w.id("prod_", 14, "product", "support"), Object: "product", Active: true, Created: base,
		Images: []string{}, Metadata: map[string]string{}, Name: "Dedicated support hours", Type: "service", Updated: base}
	sd.products = append(append([]*stProduct{}, products...), support)

	prices := map[string]*stPrice{}
	priceFor := func(p plan, currency string, inclusive, yearly bool) *stPrice {
		key := fmt.Sprint(p, currency, inclusive, yearly)
		if pr, ok := prices[key]; ok {
			return pr
		}
		behavior := "exclusive"
		if inclusive {
			behavior = "inclusive"
		}
		amt, interval, lookup := planAmounts[currency][p], "month", strings.ToLower(p.name())+"_"+currency
		if yearly { // two months free
			amt, interval, lookup = 10*amt, "year", lookup+"_yearly"
		}
		pr := &stPrice{ID: w.id("price_", 24, "price", key), Object: "price", Active: true, BillingScheme: "per_unit", Created: base,
			Currency: currency, LookupKey: ptr(lookup), Metadata: map[string]string{},
			Nickname: ptr(p.name() + " " + interval + "ly"), Product: products[p].ID,
			Recurring:   &stRecurring{Interval: interval, IntervalCount: 1, UsageType: "licensed"},
			TaxBehavior: behavior, Type: "recurring", UnitAmount: amt, UnitAmountDecimal: strconv.FormatInt(amt, 10)}
		prices[key] = pr
		sd.prices = append(sd.prices, pr)
		if products[p].DefaultPrice == nil && currency == "usd" && !yearly {
			products[p].DefaultPrice = &pr.ID
		}
		return pr
	}
	supportPrice := &stPrice{ID: w.id("price_", 24, "price", "support"), Object: "price", Active: true, BillingScheme: "per_unit",
		Created: base, Currency: "usd", Metadata: map[string]string{}, Nickname: ptr("Support hours block"), Product: support.ID,
		TaxBehavior: "exclusive", Type: "one_time", UnitAmount: 25000, UnitAmountDecimal: "25000"}
	sd.prices = append(sd.prices, supportPrice)
	support.DefaultPrice = &supportPrice.ID
	// API calls beyond the plan, reported as usage and billed in arrears at $0.02 a call.
	calls := &stProduct{ID: w.id("prod_", 14, "product", "api-calls"), Object: "product", Active: true, Created: base,
		Images: []string{}, Metadata: map[string]string{}, Name: "API calls", Type: "service", Updated: base}
	sd.products = append(sd.products, calls)
	meteredPrice := &stPrice{ID: w.id("price_", 24, "price", "api-calls"), Object: "price", Active: true, BillingScheme: "per_unit",
		Created: base, Currency: "usd", Metadata: map[string]string{}, Nickname: ptr("API calls"), Product: calls.ID,
		Recurring:   &stRecurring{AggregateUsage: ptr("sum"), Interval: "month", IntervalCount: 1, UsageType: "metered"},
		TaxBehavior: "exclusive", Type: "recurring", UnitAmount: 2, UnitAmountDecimal: "2"}
	sd.prices = append(sd.prices, meteredPrice)
	calls.DefaultPrice = &meteredPrice.ID

	for _, c := range w.customers {
		meta := map[string]string{}
		if c.path == byMetadata && len(c.refs) > 0 {
			refs := make([]string, len(c.refs))
			for i, r := range c.refs {
				refs[i] = string(r)
			}
			meta["margin_sources"] = strings.Join(refs, ",")
		}
		if c.marginPlan != "" {
			meta["margin_plan"] = c.marginPlan
		}
		prefix := strings.ToUpper(w.id("", 8, "prefix", c.id))
		cust := &stCustomer{ID: c.id, Object: "customer", Created: c.created.Unix(), Currency: c.currency, Email: c.email,
			InvoicePrefix: prefix, Metadata: meta, Name: c.name, PreferredLocales: []string{}, TaxExempt: "none"}
		sd.customers = append(sd.customers, cust)
		w.buildSubscription(c, cust, priceFor, supportPrice, meteredPrice)
	}
	byCreatedDesc := func(a, b int64, ida, idb string) int {
		if a != b {
			if a > b {
				return -1
			}
			return 1
		}
		return strings.Compare(idb, ida)
	}
	slices.SortStableFunc(sd.customers, func(a, b *stCustomer) int { return byCreatedDesc(a.Created, b.Created, a.ID, b.ID) })
	slices.SortStableFunc(sd.subs, func(a, b *stSubscription) int { return byCreatedDesc(a.Created, b.Created, a.ID, b.ID) })
	slices.SortStableFunc(sd.invoices, func(a, b *stInvoice) int { return byCreatedDesc(a.Created, b.Created, a.ID, b.ID) })
	slices.SortStableFunc(sd.creditNotes, func(a, b *stCreditNote) int { return byCreatedDesc(a.Created, b.Created, a.ID, b.ID) })
}

// buildSubscription creates a customer's subscription and the invoices of its last ~4 months.
func (w *World) buildSubscription(c *customer, cust *stCustomer, priceFor func(plan, string, bool, bool) *stPrice, supportPrice, meteredPrice *stPrice) {
	sd := w.stripe
	hour := int(w.hash("anchor-hour", c.id) % 24)
	// anchor(n) is the start of the n-th billing period from now's; a yearly plan renews in the
	// month it was created.
	anchor := func(periodsFromNow int) time.Time {
		if c.yearly {
			t := time.Date(w.now.Year(), c.created.Month(), c.anchorDay, hour, 0, 0, 0, time.UTC)
			return t.AddDate(periodsFromNow, 0, 0)
		}
		t := time.Date(w.now.Year(), w.now.Month(), c.anchorDay, hour, 0, 0, 0, time.UTC)
		return t.AddDate(0, periodsFromNow, 0)
	}
	interval := "month"
	if c.yearly {
		interval = "year"
	}
	// Period 0 is the current one: the latest anchor not after now.
	shift := 0
	if anchor(0).After(w.now) {
		shift = -1
	}
	periodOf := func(k int) period { return period{anchor(shift - k), anchor(shift - k + 1)} }

	subID := w.id("sub_", 24, "subscription", c.id)
	itemID := w.id("si_", 14, "subscription-item", c.id)
	meteredItemID := w.id("si_", 14, "subscription-item", c.id, "metered")
	var discount *stDiscount
	if c.discountPct > 0 {
		discount = &stDiscount{ID: w.id("di_", 24, "discount", c.id), Object: "discount",
			Coupon: stCoupon{ID: "LAUNCH" + strconv.FormatInt(c.discountPct, 10), Object: "coupon", Created: c.created.Unix(),
				Duration: "forever", Metadata: map[string]string{}, Name: "Launch discount", PercentOff: float64(c.discountPct),
				TimesRedeemed: 1, Valid: true},
			Customer: c.id, Start: c.created.Unix(), Subscription: subID}
	}
	inclusive := c.taxInclusive
	startPlan := c.plan
	var upgradeAt time.Time
	if c.upgrades {
		startPlan = starter
		p1 := periodOf(1)
		upgradeAt = p1.start.Add(p1.end.Sub(p1.start) * 4 / 10).Truncate(time.Second)
	}
	planAt := func(t time.Time) plan {
		if c.upgrades && !t.Before(upgradeAt) {
			return growth
		}
		return startPlan
	}
	txr := w.id("txr_", 24, "tax-rate", c.currency, strconv.FormatInt(c.taxBps, 10), strconv.FormatBool(inclusive))
	seq := 0
	newLine := func(inv *stInvoice, desc string, amount int64, per period, price *stPrice, proration bool, sub bool) {
		l := &stLine{ID: w.id("il_", 24, "line", inv.ID, strconv.Itoa(len(inv.allLines))), Object: "line_item", Amount: amount,
			Currency: c.currency, Description: desc, DiscountAmounts: []stDiscountAmount{}, Discountable: true, Discounts: []string{},
			Metadata: map[string]string{}, Period: stPeriod{End: per.end.Unix(), Start: per.start.Unix()}, Price: price,
			Proration: proration, Quantity: 1, TaxAmounts: []stTaxAmount{}, TaxRates: []string{}, Type: "subscription"}
		if sub {
			l.Subscription, l.SubscriptionItem = ptr(subID), itemID
		} else {
			l.Type, l.InvoiceItem = "invoiceitem", w.id("ii_", 24, "invoice-item", l.ID)
		}
		net := amount
		if discount != nil && l.Discountable {
			d := roundDiv(amount*c.discountPct, 100)
			l.DiscountAmounts = append(l.DiscountAmounts, stDiscountAmount{Amount: d, Discount: discount.ID})
			net -= d
		}
		l.AmountExcludingTax = amount
		if c.taxBps > 0 {
			var tax int64
			if inclusive {
				tax = roundDiv(net*c.taxBps, 10000+c.taxBps)
				l.AmountExcludingTax = amount - tax
			} else {
				tax = roundDiv(net*c.taxBps, 10000)
			}
			taxable := net
			if inclusive {
				taxable = net - tax
			}
			l.TaxAmounts = append(l.TaxAmounts, stTaxAmount{Amount: tax, Inclusive: inclusive, TaxRate: txr,
				TaxabilityReason: "standard_rated", TaxableAmount: taxable})
		}
		l.UnitAmountExcludingTax = strconv.FormatInt(l.AmountExcludingTax, 10)
		inv.allLines = append(inv.allLines, l)
	}

	var invoices []*stInvoice
	oldest := w.now.AddDate(0, 0, -125)
	if c.yearly {
		oldest = w.now.AddDate(-1, 0, 0)
	}
	for k := 4; k >= 0; k-- {
		per := periodOf(k)
		// A trial's periods invoice nothing.
		if per.start.Before(oldest) || per.start.Before(c.created) || per.start.Before(c.trialEnd) {
			continue
		}
		created := per.start.Unix()
		seq++
		inv := &stInvoice{ID: w.id("in_", 24, "invoice", c.id, strconv.FormatInt(created, 10)), Object: "invoice",
			AccountCountry: "US", AccountName: "Margin Demo AI, Inc.", Attempted: true, BillingReason: "subscription_cycle",
			CollectionMethod: "charge_automatically", Created: created, Currency: c.currency, Customer: c.id,
			CustomerEmail: c.email, CustomerName: c.name, Discount: discount, Discounts: []string{}, Metadata: map[string]string{},
			Number: ptr(fmt.Sprintf("%s-%04d", cust.InvoicePrefix, seq)), Subscription: ptr(subID),
			TotalDiscountAmounts: []stDiscountAmount{}, TotalTaxAmounts: []stTaxAmount{}, EndingBalance: ptr(int64(0))}
		// A renewal invoice's own period is the one before the service period its line covers.
		prev := periodOf(k + 1)
		inv.PeriodStart, inv.PeriodEnd = prev.start.Unix(), prev.end.Unix()
		if discount != nil {
			inv.Discounts = []string{discount.ID}
		}
		if c.upgrades && k == 0 {
			p1 := periodOf(1)
			frac := func(amount int64) int64 {
				return roundDiv(amount*int64(p1.end.Sub(upgradeAt)/time.Second), int64(p1.end.Sub(p1.start)/time.Second))
			}
			rest := period{upgradeAt, p1.end}
			date := upgradeAt.Format("2 Jan 2006")
			sp, gp := priceFor(starter, c.currency, inclusive, false), priceFor(growth, c.currency, inclusive, false)
			newLine(inv, "Unused time on Starter after "+date, -frac(sp.UnitAmount), rest, sp, true, true)
			newLine(inv, "Remaining time on Growth after "+date, frac(gp.UnitAmount), rest, gp, true, true)
		}
		pl := planAt(per.start)
		price := priceFor(pl, c.currency, inclusive, c.yearly)
		newLine(inv, "1 × "+pl.name()+" (at "+moneyText(price.UnitAmount, c.currency)+" / "+interval+")", price.UnitAmount, per, price, false, true)
		if c.metered && !prev.start.Before(c.created) {
			// Metered usage is invoiced in arrears: this invoice bills the period before.
			qty := w.between(5000, 15000, "api-calls", c.id, strconv.FormatInt(prev.start.Unix(), 10))
			newLine(inv, fmt.Sprintf("%d × API calls (at $0.02 / call)", qty), qty*meteredPrice.UnitAmount, prev, meteredPrice, false, true)
			l := inv.allLines[len(inv.allLines)-1]
			l.Quantity, l.SubscriptionItem = qty, meteredItemID
		}
		if c.bigInvoice && k == 0 {
			for wk := 1; wk <= 11; wk++ {
				newLine(inv, fmt.Sprintf("Dedicated support hours, block %d", wk), supportPrice.UnitAmount, per, supportPrice, false, false)
			}
		}
		w.finishInvoice(inv)
		invoices = append(invoices, inv)
	}

	// Statuses other than paid, one each, on fixed customers.
	if n := len(invoices); n > 0 {
		latest := invoices[n-1]
		second := latest
		if n > 1 {
			second = invoices[n-2]
		}
		switch c.idx {
		case 5:
			setStatus(latest, "open")
		case 11:
			setStatus(second, "void")
		case 13:
			setStatus(latest, "draft")
		case 14:
			setStatus(second, "uncollectible")
		case 6:
			w.addCreditNote(c, second, 5000, "issued")
		case 17:
			w.addCreditNote(c, second, 2000, "void")
		}
	}
	sd.invoices = append(sd.invoices, invoices...)

	cur := periodOf(0)
	price := priceFor(planAt(w.now), c.currency, inclusive, c.yearly)
	var latest any // null for a trial that has invoiced nothing yet
	if len(invoices) > 0 {
		latest = invoices[len(invoices)-1].ID
	}
	items := []*stSubItem{{ID: itemID, Object: "subscription_item", Created: c.created.Unix(),
		Metadata: map[string]string{}, Price: price, Quantity: 1, Subscription: subID, TaxRates: []string{}}}
	if c.metered {
		items = append(items, &stSubItem{ID: meteredItemID, Object: "subscription_item", Created: c.created.Unix(),
			Metadata: map[string]string{}, Price: meteredPrice, Subscription: subID, TaxRates: []string{}})
		// Usage reported so far this period: the share of the calls the period's invoice will bill
		// (the same count), as reported by now; then last period's, invoiced by the latest invoice.
		calls := func(p period) int64 {
			return w.between(5000, 15000, "api-calls", c.id, strconv.FormatInt(p.start.Unix(), 10))
		}
		soFar := calls(cur) * int64(w.now.Sub(cur.start)/time.Second) / int64(cur.end.Sub(cur.start)/time.Second)
		prev := periodOf(1)
		var billed *string
		if id, ok := latest.(string); ok {
			billed = &id
		}
		sd.usage[meteredItemID] = []*stUsageSummary{
			{ID: w.id("sis_", 24, "usage", meteredItemID, "0"), Object: "usage_record_summary", Period: stUsagePeriod{Start: cur.start.Unix()},
				SubscriptionItem: meteredItemID, TotalUsage: soFar},
			{ID: w.id("sis_", 24, "usage", meteredItemID, "1"), Object: "usage_record_summary", Invoice: billed,
				Period: stUsagePeriod{Start: prev.start.Unix(), End: ptr(prev.end.Unix())}, SubscriptionItem: meteredItemID, TotalUsage: calls(prev)},
		}
	}
	sub := &stSubscription{ID: subID, Object: "subscription", BillingCycleAnchor: anchor(-24).Unix(),
		CollectionMethod: "charge_automatically", Created: c.created.Unix(), Currency: c.currency,
		CurrentPeriodEnd: cur.end.Unix(), CurrentPeriodStart: cur.start.Unix(), Customer: c.id, Discount: discount, Discounts: []any{},
		Items:         stList[*stSubItem]{Object: "list", Data: items, TotalCount: len(items), URL: "/v1/subscription_items?subscription=" + subID},
		LatestInvoice: latest, Metadata: map[string]string{}, StartDate: c.created.Unix(), Status: "active"}
	if discount != nil {
		sub.Discounts = []any{discount.ID}
	}
	if !c.trialEnd.IsZero() {
		sub.TrialStart, sub.TrialEnd = ptr(c.created.Unix()), ptr(c.trialEnd.Unix())
		if w.now.Before(c.trialEnd) {
			sub.Status = "trialing"
			sub.CurrentPeriodStart, sub.CurrentPeriodEnd = c.created.Unix(), c.trialEnd.Unix()
		}
	}
	if c.cancelAtPeriodEnd {
		sub.CancelAtPeriodEnd, sub.CancelAt = true, ptr(sub.CurrentPeriodEnd)
	}
	sd.subs = append(sd.subs, sub)
}

func moneyText(minor int64, currency string) string {
	sym := map[string]string{"usd": "$", "eur": "€", "gbp": "£"}[currency]
	return fmt.Sprintf("%s%d.%02d", sym, minor/100, minor%100)
}

// finishInvoice totals the lines and marks the invoice paid.
func (w *World) finishInvoice(inv *stInvoice) {
	var discounts, taxes int64
	inclusive := false
	for _, l := range inv.allLines {
		inv.Subtotal += l.Amount
		inv.SubtotalExcludingTax += l.AmountExcludingTax
		for _, d := range l.DiscountAmounts {
			discounts += d.Amount
		}
		for _, t := range l.TaxAmounts {
			taxes += t.Amount
			inclusive = t.Inclusive
		}
	}
	if discounts != 0 {
		inv.TotalDiscountAmounts = []stDiscountAmount{{Amount: discounts, Discount: inv.Discount.ID}}
	}
	if len(inv.allLines) > 0 && len(inv.allLines[0].TaxAmounts) > 0 {
		t := inv.allLines[0].TaxAmounts[0]
		inv.TotalTaxAmounts = []stTaxAmount{{Amount: taxes, Inclusive: inclusive, TaxRate: t.TaxRate, TaxabilityReason: t.TaxabilityReason,
			TaxableAmount: inv.SubtotalExcludingTax - discounts}}
		inv.Tax = ptr(taxes)
	}
	inv.TotalExcludingTax = inv.SubtotalExcludingTax - discounts
	inv.Total = inv.TotalExcludingTax + taxes
	inv.AmountDue = max(inv.Total, 0)
	inv.Lines = stList[*stLine]{Object: "list", Data: inv.allLines[:min(10, len(inv.allLines))], HasMore: len(inv.allLines) > 10,
		TotalCount: len(inv.allLines), URL: "/v1/invoices/" + inv.ID + "/lines"}
	setStatus(inv, "paid")
}

func setStatus(inv *stInvoice, status string) {
	at := inv.Created + 3600
	inv.Status = status
	inv.StatusTransitions = stStatusTransitions{FinalizedAt: ptr(at)}
	inv.EffectiveAt = ptr(at)
	inv.AmountPaid, inv.AmountRemaining, inv.Paid, inv.AutoAdvance = 0, inv.AmountDue, false, false
	inv.HostedInvoiceURL = ptr("https://invoice.stripe.com/i/acct_demo/" + inv.ID)
	switch status {
	case "paid":
		inv.AmountPaid, inv.AmountRemaining, inv.Paid = inv.AmountDue, 0, true
		inv.StatusTransitions.PaidAt = ptr(at + 60)
		inv.AttemptCount = 1
	case "open":
		inv.AutoAdvance, inv.AttemptCount = true, 1
	case "void":
		inv.AmountRemaining = 0
		inv.StatusTransitions.VoidedAt = ptr(at + 86400)
	case "uncollectible":
		inv.StatusTransitions.MarkedUncollectibleAt = ptr(at + 14*86400)
		inv.AttemptCount = 4
	case "draft":
		inv.StatusTransitions.FinalizedAt, inv.EffectiveAt, inv.Number, inv.HostedInvoiceURL = nil, nil, nil, nil
		inv.Attempted, inv.AutoAdvance = false, true
	}
}

func (w *World) addCreditNote(c *customer, inv *stInvoice, amount int64, status string) {
	id := w.id("cn_", 24, "credit-note", inv.ID)
	effective := inv.Created + 5*86400
	cn := &stCreditNote{ID: id, Object: "credit_note", Amount: amount, Created: effective, Currency: c.currency, Customer: c.id,
		DiscountAmounts: []stDiscountAmount{}, EffectiveAt: ptr(effective), Invoice: inv.ID, Metadata: map[string]string{},
		Number: *inv.Number + "-CN-01", PDF: "https://pay.stripe.com/credit_notes/acct_demo/" + id + "/pdf",
		Reason: ptr("product_unsatisfactory"), Status: status, Subtotal: amount, SubtotalExcludingTax: amount,
		TaxAmounts: []stTaxAmount{}, Total: amount, TotalExcludingTax: amount, Type: "post_payment", Memo: ptr("Service credit for degraded latency"),
		Lines: stList[*stCreditNoteLine]{Object: "list", URL: "/v1/credit_notes/" + id + "/lines", Data: []*stCreditNoteLine{{
			ID: w.id("cnli_", 24, "credit-note-line", id), Object: "credit_note_line_item", Amount: amount, AmountExcludingTax: amount,
			Description: "Service credit", DiscountAmounts: []stDiscountAmount{}, Quantity: 1, TaxAmounts: []stTaxAmount{},
			TaxRates: []string{}, Type: "custom_line_item", UnitAmount: amount, UnitAmountDecimal: strconv.FormatInt(amount, 10),
			UnitAmountExcludingTax: strconv.FormatInt(amount, 10)}}}}
	if status == "void" {
		cn.VoidedAt = ptr(effective + 3600)
	} else {
		inv.PostPaymentCreditNotesAmount += amount
	}
	w.stripe.creditNotes = append(w.stripe.creditNotes, cn)
}

// --- serving ---

func (w *World) stripeHandler() http.Handler {
	mux := http.NewServeMux()
	sd := func() *stripeData { return w.stripe }
	mux.HandleFunc("GET /v1/customers", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		email := q.Get("email")
		serveList(rw, r, "/v1/customers", sd().customers, func(c *stCustomer) string { return c.ID },
			func(c *stCustomer) bool { return (email == "" || c.Email == email) && createdMatches(q, c.Created) })
	})
	mux.HandleFunc("GET /v1/customers/{id}", func(rw http.ResponseWriter, r *http.Request) {
		serveOne(rw, "customer", r.PathValue("id"), sd().customers, func(c *stCustomer) string { return c.ID })
	})
	mux.HandleFunc("GET /v1/products", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ids := set(listParam(q, "ids"))
		serveList(rw, r, "/v1/products", sd().products, func(p *stProduct) string { return p.ID },
			func(p *stProduct) bool { return allowed(ids, p.ID) && (q.Get("active") != "false") })
	})
	mux.HandleFunc("GET /v1/products/{id}", func(rw http.ResponseWriter, r *http.Request) {
		serveOne(rw, "product", r.PathValue("id"), sd().products, func(p *stProduct) string { return p.ID })
	})
	mux.HandleFunc("GET /v1/prices", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		serveList(rw, r, "/v1/prices", sd().prices, func(p *stPrice) string { return p.ID },
			func(p *stPrice) bool { return q.Get("product") == "" || q.Get("product") == p.Product })
	})
	mux.HandleFunc("GET /v1/subscriptions", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status, cust, price := q.Get("status"), q.Get("customer"), q.Get("price")
		subs := sd().subs
		if ex := expands(q); slices.Contains(ex, "data.discounts") || slices.Contains(ex, "data.latest_invoice") {
			subs = make([]*stSubscription, len(sd().subs))
			for i, s := range sd().subs {
				c := *s
				if c.Discount != nil && slices.Contains(ex, "data.discounts") {
					c.Discounts = []any{c.Discount}
				}
				if id, ok := c.LatestInvoice.(string); ok && slices.Contains(ex, "data.latest_invoice") {
					for _, inv := range sd().invoices {
						if inv.ID == id {
							c.LatestInvoice = inv
						}
					}
				}
				subs[i] = &c
			}
		}
		serveList(rw, r, "/v1/subscriptions", subs, func(s *stSubscription) string { return s.ID },
			func(s *stSubscription) bool {
				okStatus := status == "all" || status == s.Status || (status == "" && s.Status != "canceled" && s.Status != "incomplete_expired")
				return okStatus && (cust == "" || cust == s.Customer) && (price == "" || price == s.Items.Data[0].Price.ID) && createdMatches(q, s.Created)
			})
	})
	mux.HandleFunc("GET /v1/subscriptions/{id}", func(rw http.ResponseWriter, r *http.Request) {
		ex := expands(r.URL.Query())
		for _, s := range sd().subs {
			if s.ID != r.PathValue("id") {
				continue
			}
			c := *s
			if c.Discount != nil && slices.Contains(ex, "discounts") {
				c.Discounts = []any{c.Discount}
			}
			if id, ok := c.LatestInvoice.(string); ok && slices.Contains(ex, "latest_invoice") {
				for _, inv := range sd().invoices {
					if inv.ID == id {
						c.LatestInvoice = inv
					}
				}
			}
			body := stripeJSON(&c)
			writeJSON(rw, http.StatusOK, body)
			return
		}
		stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such subscription: '"+r.PathValue("id")+"'", "id")
	})
	mux.HandleFunc("GET /v1/subscription_items/{id}/usage_record_summaries", func(rw http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		for _, s := range sd().subs {
			for _, it := range s.Items.Data {
				if it.ID == id {
					serveList(rw, r, "/v1/subscription_items/"+id+"/usage_record_summaries", sd().usage[id],
						func(u *stUsageSummary) string { return u.ID }, nil)
					return
				}
			}
		}
		stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such subscription item: '"+id+"'", "subscription_item")
	})
	mux.HandleFunc("GET /v1/invoices", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status, cust, sub := q.Get("status"), q.Get("customer"), q.Get("subscription")
		serveList(rw, r, "/v1/invoices", sd().invoices, func(i *stInvoice) string { return i.ID },
			func(i *stInvoice) bool {
				return (status == "" || status == i.Status) && (cust == "" || cust == i.Customer) &&
					(sub == "" || (i.Subscription != nil && sub == *i.Subscription)) && createdMatches(q, i.Created)
			})
	})
	mux.HandleFunc("GET /v1/invoices/{id}", func(rw http.ResponseWriter, r *http.Request) {
		serveOne(rw, "invoice", r.PathValue("id"), sd().invoices, func(i *stInvoice) string { return i.ID })
	})
	mux.HandleFunc("GET /v1/invoices/{id}/lines", func(rw http.ResponseWriter, r *http.Request) {
		for _, inv := range sd().invoices {
			if inv.ID == r.PathValue("id") {
				serveList(rw, r, "/v1/invoices/"+inv.ID+"/lines", inv.allLines, func(l *stLine) string { return l.ID }, nil)
				return
			}
		}
		stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such invoice: '"+r.PathValue("id")+"'", "id")
	})
	mux.HandleFunc("GET /v1/credit_notes", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cust, inv := q.Get("customer"), q.Get("invoice")
		serveList(rw, r, "/v1/credit_notes", sd().creditNotes, func(c *stCreditNote) string { return c.ID },
			func(c *stCreditNote) bool {
				return (cust == "" || cust == c.Customer) && (inv == "" || inv == c.Invoice) && createdMatches(q, c.Created)
			})
	})
	mux.HandleFunc("GET /v1/events", w.serveEvents)
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		stripeError(rw, http.StatusNotFound, "invalid_request_error", "", "Unrecognized request URL ("+r.Method+": "+r.URL.Path+").", "")
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Stripe-Version", stripeAPIVersion)
		rw.Header().Set("Request-Id", w.id("req_", 14, "stripe-request", r.URL.String()))
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			key, _, _ = r.BasicAuth() // stripe-go and curl -u send the key as the basic-auth user
		}
		switch {
		case key == "":
			stripeError(rw, http.StatusUnauthorized, "invalid_request_error", "",
				"You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", "")
		case key != StripeAPIKey:
			stripeError(rw, http.StatusUnauthorized, "invalid_request_error", "", "Invalid API Key provided: "+maskKey(key), "")
		default:
			w.stripe.mu.RLock()
			defer w.stripe.mu.RUnlock()
			mux.ServeHTTP(rw, r)
		}
	})
}

// maskKey shows a key the way Stripe does, without its secret part.
func maskKey(k string) string {
	prefix := k
	if i := strings.LastIndexByte(k, '_'); i >= 0 && i < 10 {
		prefix = k[:i+1]
	} else if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	return prefix + strings.Repeat("*", 12)
}

func stripeError(rw http.ResponseWriter, status int, typ, code, msg, param string) {
	e := map[string]string{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	writeJSON(rw, status, body)
}

// expands returns the expand[] values of a request, however the client indexed them.
func expands(q url.Values) []string {
	var out []string
	for k, vs := range q {
		if k == "expand" || k == "expand[]" || (strings.HasPrefix(k, "expand[") && strings.HasSuffix(k, "]")) {
			out = append(out, vs...)
		}
	}
	return out
}

func createdMatches(q url.Values, created int64) bool {
	for op, cmp := range map[string]func(a, b int64) bool{
		"created":      func(a, b int64) bool { return a == b },
		"created[gte]": func(a, b int64) bool { return a >= b },
		"created[gt]":  func(a, b int64) bool { return a > b },
		"created[lte]": func(a, b int64) bool { return a <= b },
		"created[lt]":  func(a, b int64) bool { return a < b },
	} {
		if v := q.Get(op); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !cmp(created, n) {
				return false
			}
		}
	}
	return true
}

// serveList pages a newest-first list with limit (1-100, default 10), starting_after and ending_before.
func serveList[T any](rw http.ResponseWriter, r *http.Request, path string, all []T, id func(T) string, keep func(T) bool) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			stripeError(rw, http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer",
				"Invalid limit: must be an integer between 1 and 100.", "limit")
			return
		}
		limit = n
	}
	var items []T
	for _, x := range all {
		if keep == nil || keep(x) {
			items = append(items, x)
		}
	}
	after, before := q.Get("starting_after"), q.Get("ending_before")
	if after != "" && before != "" {
		stripeError(rw, http.StatusBadRequest, "invalid_request_error", "", "You may only specify one of these parameters: ending_before, starting_after.", "ending_before")
		return
	}
	var page []T
	var more bool
	switch {
	case before != "":
		end := slices.IndexFunc(items, func(x T) bool { return id(x) == before })
		if end < 0 {
			stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such object: '"+before+"'", "ending_before")
			return
		}
		start := max(0, end-limit)
		page, more = items[start:end], start > 0
	default:
		start := 0
		if after != "" {
			i := slices.IndexFunc(items, func(x T) bool { return id(x) == after })
			if i < 0 {
				stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such object: '"+after+"'", "starting_after")
				return
			}
			start = i + 1
		}
		end := min(start+limit, len(items))
		page, more = items[start:end], end < len(items)
	}
	if page == nil {
		page = []T{}
	}
	body := stripeJSON(stList[T]{Object: "list", Data: page, HasMore: more, URL: path})
	writeJSON(rw, http.StatusOK, body)
}

func serveOne[T any](rw http.ResponseWriter, kind, want string, all []T, id func(T) string) {
	for _, x := range all {
		if id(x) == want {
			body := stripeJSON(x)
			writeJSON(rw, http.StatusOK, body)
			return
		}
	}
	stripeError(rw, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such "+kind+": '"+want+"'", "id")
}
