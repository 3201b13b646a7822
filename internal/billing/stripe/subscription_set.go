package stripe

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/marginhq/margin/internal/revenue"
	stripego "github.com/stripe/stripe-go/v76"
)

// SubscriptionSet is what Subscriptions returns, kept by subscription id so that the ones that
// changed can be read again alone (Update) between full reads.
type SubscriptionSet struct {
	live     map[string]revenue.Subscription
	warnings map[string]string // subscriptions that cannot be projected, and why
}

// ReadSubscriptionSet lists the live subscriptions as Subscriptions does.
// GET /v1/subscriptions?expand[]=data.discounts&expand[]=data.latest_invoice, GET /v1/subscription_items
func (c *Client) ReadSubscriptionSet(ctx context.Context) (*SubscriptionSet, error) {
	subs, err := c.listSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	set := &SubscriptionSet{live: map[string]revenue.Subscription{}, warnings: map[string]string{}}
	for _, s := range subs {
		if err := set.put(ctx, c, s); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (set *SubscriptionSet) put(ctx context.Context, c *Client, s *apiSubscription) error {
	delete(set.live, s.ID)
	delete(set.warnings, s.ID)
	sub, warning, ok, err := c.liveSubscription(ctx, s)
	if err != nil {
		return err
	}
	if warning != "" {
		set.warnings[s.ID] = warning
	}
	if ok {
		set.live[s.ID] = sub
	}
	return nil
}

// Update returns a copy of set with the subscriptions ids read again, one request each (and
// their metered usage so far); a deleted one leaves the set. set itself is not changed.
// GET /v1/subscriptions/{id}?expand[]=discounts&expand[]=latest_invoice
func (c *Client) Update(ctx context.Context, set *SubscriptionSet, ids []string) (*SubscriptionSet, error) {
	next := &SubscriptionSet{live: maps.Clone(set.live), warnings: maps.Clone(set.warnings)}
	for _, id := range ids {
		p := &stripego.SubscriptionParams{}
		p.Context = ctx
		p.AddExpand("discounts")
		p.AddExpand("latest_invoice")
		s, err := c.api.getSubscription(id, p)
		var se *statusError
		if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
			delete(next.live, id)
			delete(next.warnings, id)
			continue
		}
		if err != nil {
			return nil, wrapErr("reading subscription "+id, "/v1/subscriptions/"+id, err)
		}
		if err := next.put(ctx, c, s); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// List returns the live subscriptions sorted by customer then id, and the warnings sorted by
// subscription id.
func (set *SubscriptionSet) List() ([]revenue.Subscription, []string) {
	out := slices.Collect(maps.Values(set.live))
	sortSubscriptions(out)
	var warnings []string
	for _, id := range slices.Sorted(maps.Keys(set.warnings)) {
		warnings = append(warnings, set.warnings[id])
	}
	return out, warnings
}
