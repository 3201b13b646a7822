package stripe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/sortby"
)

// liveStatus reports whether a subscription in status s still issues invoices that count.
// incomplete has not been paid once and paused (a trial ended without a payment method) invoices
// nothing; canceled and incomplete_expired are over.
func liveStatus(s stripego.SubscriptionStatus) bool {
	switch s {
	case stripego.SubscriptionStatusActive, stripego.SubscriptionStatusTrialing,
		stripego.SubscriptionStatusPastDue, stripego.SubscriptionStatusUnpaid:
		return true
	}
	return false
}

// Subscriptions lists the live subscriptions with their items, prices and discounts, in the
// reporting currency, sorted by customer then id. Items past the embedded page are listed too.
// A subscription Margin cannot project (no current period, an unknown interval) is left out with
// a warning naming it; a currency without an exchange rate is an error, as for invoices.
// GET /v1/subscriptions?expand[]=data.discounts&expand[]=data.latest_invoice, GET /v1/subscription_items
func (c *Client) Subscriptions(ctx context.Context) ([]revenue.Subscription, []string, error) {
	subs, err := c.listSubscriptions(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []revenue.Subscription
	var warnings []string
	for _, s := range subs {
		sub, warning, ok, err := c.liveSubscription(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		if ok {
			out = append(out, sub)
		}
	}
	sortSubscriptions(out)
	return out, warnings, nil
}

// listSubscriptions lists every subscription but the canceled ones, with discounts and the
// latest invoice expanded.
// GET /v1/subscriptions?expand[]=data.discounts&expand[]=data.latest_invoice
func (c *Client) listSubscriptions(ctx context.Context) ([]*apiSubscription, error) {
	sp := &stripego.SubscriptionListParams{} // the default lists every status but canceled
	sp.Context = ctx
	sp.Limit = stripego.Int64(pageLimit)
	sp.AddExpand("data.discounts")
	sp.AddExpand("data.latest_invoice")
	return collect[*apiSubscription](iter[apiSubscription](c.api, "/v1/subscriptions", sp),
		listing{"listing subscriptions", "/v1/subscriptions", subscriptionBound(c.maxCustomers)}, func(s *apiSubscription) string { return s.ID })
}

// liveSubscription completes and converts one listed subscription: ok is false for one that is
// not live or cannot be projected (then warning says why).
func (c *Client) liveSubscription(ctx context.Context, s *apiSubscription) (sub revenue.Subscription, warning string, ok bool, err error) {
	if !liveStatus(s.Status) {
		return revenue.Subscription{}, "", false, nil
	}
	conv := converter{reporting: c.reporting, fx: c.fx}
	if s.Items != nil && s.Items.HasMore {
		if err := c.completeItems(ctx, s); err != nil {
			return revenue.Subscription{}, "", false, err
		}
	}
	sub, err = subscriptionFacts(s, conv)
	if err == nil {
		err = c.meteredUsage(ctx, s, &sub, conv)
	}
	var bad *badSubscription
	if errors.As(err, &bad) {
		return revenue.Subscription{}, bad.Error() + ": not projected", false, nil
	}
	if err != nil {
		return revenue.Subscription{}, "", false, fmt.Errorf("stripe: %w", err)
	}
	return sub, "", true, nil
}

func sortSubscriptions(out []revenue.Subscription) {
	sortby.Func(out, func(a, b revenue.Subscription) int {
		if a.Customer != b.Customer {
			return strings.Compare(a.Customer, b.Customer)
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// meteredUsage reads, for each metered per-unit item, the usage reported so far in the current
// period from its newest usage record summary.
// GET /v1/subscription_items/{id}/usage_record_summaries?limit=1
func (c *Client) meteredUsage(ctx context.Context, s *apiSubscription, sub *revenue.Subscription, conv converter) error {
	for i := range sub.Items {
		it := &sub.Items[i]
		if !it.Metered || it.Unpriced {
			continue
		}
		var unit int64
		cur := string(s.Currency)
		for _, si := range s.Items.Data {
			if si != nil && si.ID == it.ID && si.Price != nil {
				unit = si.Price.UnitAmount
				if si.Price.Currency != "" {
					cur = string(si.Price.Currency)
				}
			}
		}
		endpoint := "/v1/subscription_items/" + it.ID + "/usage_record_summaries"
		p := &stripego.UsageRecordSummaryListParams{SubscriptionItem: stripego.String(it.ID)}
		p.Context = ctx
		p.Limit = stripego.Int64(1)
		p.Single = true // the first summary is the current period's
		asOf := c.now().Unix()
		list, err := collect[*apiUsageRecordSummary](iter[apiUsageRecordSummary](c.api, stripego.FormatURLPath("/v1/subscription_items/%s/usage_record_summaries", it.ID), p),
			listing{"listing usage of subscription item " + it.ID, endpoint, 1}, func(u *apiUsageRecordSummary) string { return u.ID })
		if err != nil {
			return err
		}
		if len(list) == 0 || list[0].Period == nil || list[0].Period.Start < s.CurrentPeriodStart {
			continue // nothing reported for this period yet
		}
		minor, ok := mulInt(unit, list[0].TotalUsage)
		if !ok {
			return fmt.Errorf("subscription %s item %s: total_usage %d × unit_amount %d overflows", s.ID, it.ID, list[0].TotalUsage, unit)
		}
		m, err := conv.money(minor, cur, "subscription "+s.ID+" item "+it.ID)
		if err != nil {
			return err
		}
		it.UsageSoFar, it.UsageAsOf = m, asOf
	}
	return nil
}

// badSubscription is a subscription whose own fields make it impossible to project.
type badSubscription struct{ msg string }

func (e *badSubscription) Error() string { return e.msg }

// completeItems replaces the embedded first page of items by the full list.
// GET /v1/subscription_items?subscription=…
func (c *Client) completeItems(ctx context.Context, s *apiSubscription) error {
	p := &stripego.SubscriptionItemListParams{Subscription: stripego.String(s.ID)}
	p.Context = ctx
	p.Limit = stripego.Int64(pageLimit)
	items, err := collect[*apiSubscriptionItem](iter[apiSubscriptionItem](c.api, "/v1/subscription_items", p),
		listing{"listing items of subscription " + s.ID, "/v1/subscription_items", maxItemsPerSubscription}, func(i *apiSubscriptionItem) string { return i.ID })
	if err != nil {
		return err
	}
	s.Items.Data, s.Items.HasMore = items, false
	return nil
}

// subscriptionFacts converts one stripe-go subscription. Errors name the subscription and field.
func subscriptionFacts(s *apiSubscription, conv converter) (revenue.Subscription, error) {
	what := "subscription " + s.ID
	if s.Customer == nil || s.Customer.ID == "" {
		return revenue.Subscription{}, fmt.Errorf("%s has no customer", what)
	}
	if s.CurrentPeriodEnd <= s.CurrentPeriodStart {
		return revenue.Subscription{}, &badSubscription{fmt.Sprintf("%s: current_period_end %d is not after current_period_start %d", what, s.CurrentPeriodEnd, s.CurrentPeriodStart)}
	}
	out := revenue.Subscription{
		ID: s.ID, Customer: s.Customer.ID, Status: string(s.Status),
		PeriodStart: s.CurrentPeriodStart, PeriodEnd: s.CurrentPeriodEnd,
		TrialEnd: s.TrialEnd, CancelAt: s.CancelAt, CancelAtPeriodEnd: s.CancelAtPeriodEnd,
	}
	if inv := s.LatestInvoice; inv != nil && inv.Status == stripego.InvoiceStatusDraft && inv.AutoAdvance &&
		inv.Created >= s.CurrentPeriodStart && inv.Currency != "" {
		m, err := conv.money(inv.TotalExcludingTax, string(inv.Currency), what+" draft invoice "+inv.ID)
		if err != nil {
			return revenue.Subscription{}, err
		}
		out.Upcoming = m
	}
	if pc := s.PauseCollection; pc != nil && pc.Behavior != "" {
		out.Paused, out.ResumesAt = true, pc.ResumesAt
	}
	cur := string(s.Currency)
	var err error
	if out.Discounts, err = discounts(s.Discount, s.Discounts, cur, conv, what); err != nil {
		return revenue.Subscription{}, err
	}
	if s.Items == nil {
		return out, nil
	}
	for _, it := range s.Items.Data {
		if it == nil || it.Deleted {
			continue
		}
		item, err := itemFacts(it, cur, conv, what)
		if err != nil {
			return revenue.Subscription{}, err
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

func itemFacts(it *apiSubscriptionItem, cur string, conv converter, sub string) (revenue.SubscriptionItem, error) {
	what := sub + " item " + it.ID
	p := it.Price
	if p == nil || p.Recurring == nil {
		return revenue.SubscriptionItem{}, &badSubscription{what + ": price.recurring is missing"}
	}
	out := revenue.SubscriptionItem{
		ID: it.ID, PriceID: p.ID,
		Interval: string(p.Recurring.Interval), IntervalCount: max(p.Recurring.IntervalCount, 1),
		Metered: p.Recurring.UsageType == stripego.PriceRecurringUsageTypeMetered,
	}
	switch out.Interval {
	case "day", "week", "month", "year":
	default:
		return revenue.SubscriptionItem{}, &badSubscription{fmt.Sprintf("%s: price %s has recurring.interval %q, want day, week, month or year", what, p.ID, out.Interval)}
	}
	if p.Currency != "" {
		cur = string(p.Currency)
	}
	if p.BillingScheme == stripego.PriceBillingSchemeTiered || p.CustomUnitAmount != nil {
		out.Unpriced = true
	} else if !out.Metered {
		qty := it.Quantity
		minor, ok := mulInt(p.UnitAmount, qty)
		if !ok {
			return revenue.SubscriptionItem{}, fmt.Errorf("%s: unit_amount %d × quantity %d overflows", what, p.UnitAmount, qty)
		}
		m, err := conv.money(minor, cur, what)
		if err != nil {
			return revenue.SubscriptionItem{}, err
		}
		out.Amount = m
	}
	var err error
	if out.Discounts, err = discounts(nil, it.Discounts, cur, conv, what); err != nil {
		return revenue.SubscriptionItem{}, err
	}
	return out, nil
}

func mulInt(a, b int64) (int64, bool) {
	v, err := ledger.MulDiv(a, b, 1)
	return v, err == nil
}

// discounts merges the legacy single discount with the discounts list (expanded; an id that was
// not expanded is the legacy discount again, or one Margin cannot read and therefore skips).
func discounts(single *apiDiscount, list []*apiDiscount, cur string, conv converter, what string) ([]revenue.Discount, error) {
	var out []revenue.Discount
	seen := map[string]bool{}
	for _, d := range append([]*apiDiscount{single}, list...) {
		if d == nil || d.Deleted || d.Coupon == nil || seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		dc := revenue.Discount{ID: d.ID, End: d.End}
		cp := d.Coupon
		switch {
		case cp.PercentOff > 0:
			if cp.PercentOff > 100 {
				return nil, fmt.Errorf("%s: discount %s has coupon.percent_off %v, want at most 100", what, d.ID, cp.PercentOff)
			}
			// percent_off is a JSON number with up to two decimals; parse its text, not a float product.
			r, err := ledger.ParseRate(strconv.FormatFloat(cp.PercentOff, 'f', -1, 64))
			if err != nil {
				return nil, fmt.Errorf("%s: discount %s coupon.percent_off: %w", what, d.ID, err)
			}
			dc.PercentOff = ledger.Rate(ledger.MustMulDiv(int64(r), 1, 100))
		case cp.AmountOff > 0:
			c := cur
			if cp.Currency != "" {
				c = string(cp.Currency)
			}
			m, err := conv.money(cp.AmountOff, c, what+" discount "+d.ID)
			if err != nil {
				return nil, err
			}
			dc.AmountOff = m
		default:
			continue
		}
		out = append(out, dc)
	}
	return out, nil
}
