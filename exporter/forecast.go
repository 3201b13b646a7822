package exporter

import (
	"context"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/usage"
)

// subscriptionFetcher is the optional part of Engine that reads Stripe's live subscriptions;
// *engine.Engine has it. Without it the projected revenue is what invoices already recognise.
type subscriptionFetcher interface {
	FetchSubscriptions(ctx context.Context) (*engine.SubscriptionFacts, error)
}

// fetchStripe reads recognised revenue for w and on to month end (invoices already issued
// recognise days ahead; the counters still count only days through today) and the subscriptions.
func (p *Poller) fetchStripe(ctx context.Context, w usage.Window, today usage.Day) (*engine.RevenueFacts, *engine.SubscriptionFacts, error) {
	rw := w
	rw.To = max(rw.To, engine.MonthEnd(today))
	rv, err := p.opts.Engine.FetchRevenue(ctx, rw)
	if err != nil {
		return nil, nil, err
	}
	sf, ok := p.opts.Engine.(subscriptionFetcher)
	if !ok {
		return rv, nil, nil
	}
	subs, err := sf.FetchSubscriptions(ctx)
	if err != nil {
		return nil, nil, err
	}
	return rv, subs, nil
}

// projectedRevenue is margin_customer_revenue_projected_month_end_usd: engine.ProjectRevenue over
// Stripe's last good answer, routed like the month-to-date gauges, 0 for known customers without
// revenue. It is empty until Stripe has answered.
func (p *Poller) projectedRevenue(today usage.Day, route func(string) string, customers []engine.CustomerInfo) []sample {
	d := p.last[sourceStripe]
	if d == nil || d.revenue == nil {
		return nil
	}
	var subs []engine.Subscription
	if d.subs != nil {
		subs = d.subs.Subscriptions
	}
	byLabel := map[string]int64{}
	for _, c := range customers {
		byLabel[route(c.ID)] += 0
	}
	for id, pr := range engine.ProjectRevenue(d.revenue.Daily, subs, today) {
		byLabel[route(id)] += int64(pr.Projected)
	}
	out := make([]sample, 0, len(byLabel))
	for c, v := range byLabel {
		out = append(out, sample{[]string{c}, v})
	}
	return out
}
