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
