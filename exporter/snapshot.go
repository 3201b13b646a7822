package exporter

import (
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// view is what a snapshot shows besides the counter state: the day, the customers that keep
// their own series, Stripe's customers and last good revenue and subscriptions (for the
// projection), and the sources' health.
type view struct {
	today     usage.Day
	top       map[string]bool // nil: every customer keeps its own series
	customers []engine.CustomerInfo
	revenue   *engine.RevenueFacts // nil until Stripe has answered
	subs      *engine.SubscriptionFacts
	sources   []SourceStatus
	recovered bool // the state came from the state file's previous generation
}

// router maps a true customer ("" when unattributed) to its customer_id label value.
func router(top map[string]bool) func(string) string {
	return func(c string) string {
		switch {
		case c == "":
			return engine.CustomerUnattributed
		case top == nil || top[c]:
			return c
		}
		return engine.CustomerOther
	}
}

// snapshot turns the state into the samples one scrape exposes. Customers folded into "other"
// keep their totals in the state (their counters resume if they return to the top) but are not
// exposed meanwhile.
func (f *families) snapshot(st *State, v view) *Snapshot {
	today, top, customers := v.today, v.top, v.customers
	visible := func(c string) bool {
		return top == nil || top[c] || c == engine.CustomerUnattributed || c == engine.CustomerOther
	}
	// shown folds a totals key onto the exported label set: totals keep model and feature
	// whatever the options, so the snapshot sums over the labels it does not show.
	shown := func(k seriesKey) seriesKey {
		if f.labels.DropModel {
			k.Model = ""
		}
		if !f.labels.Feature {
			k.Feature = ""
		} else if k.Feature == "" {
			k.Feature = engine.UnassignedFeature
		}
		return k
	}
	labels := func(k seriesKey, extra ...string) []string {
		ls := make([]string, 0, 5)
		ls = append(ls, k.Provider)
		if !f.labels.DropModel {
			ls = append(ls, k.Model)
		}
		ls = append(ls, k.Customer)
		if f.labels.Feature {
			ls = append(ls, k.Feature)
		}
		return append(ls, extra...)
	}

	cost := map[seriesKey]ledger.Money{}
	for k, v := range st.totals.Cost {
		if visible(k.Customer) {
			cost[shown(k)] += v
		}
	}
	requests := map[seriesKey]int64{}
	for k, v := range st.totals.Requests {
		if visible(k.Customer) {
			requests[shown(k)] += v
		}
	}
	tokens := map[seriesKey]tokenCounts{}
	for k, v := range st.totals.Tokens {
		if visible(k.Customer) {
			k = shown(k)
			t := tokens[k]
			for i := range v {
				t[i] += v[i]
			}
			tokens[k] = t
		}
	}
	costS := make([]sample, 0, len(cost))
	for k, v := range cost {
		costS = append(costS, sample{labels(k), int64(v)})
	}
	requestsS := make([]sample, 0, len(requests))
	for k, v := range requests {
		requestsS = append(requestsS, sample{labels(k), v})
	}
	tokensS := make([]sample, 0, len(tokens)*numTokenTypes)
	for k, v := range tokens {
		for i, n := range v {
			tokensS = append(tokensS, sample{labels(k, tokenTypes[i]), n})
		}
	}
	var adjustS, unpricedS, revenueS []sample
	for k, v := range st.totals.Adjustments {
		if visible(k.Customer) {
			adjustS = append(adjustS, sample{[]string{k.Provider, k.Customer}, int64(v)})
		}
	}
	for k, v := range st.totals.Unpriced {
		unpricedS = append(unpricedS, sample{[]string{k.Provider, k.Model, tokenTypes[k.Type]}, v})
	}
	for c, v := range st.totals.Revenue {
		if visible(c) {
			revenueS = append(revenueS, sample{[]string{c}, int64(v)})
		}
	}

	// Month to date, routed as the counters are.
	route := router(top)
	monthStart := today.MonthStart()
	inMonth := func(d usage.Day) bool { return d >= monthStart && d <= today }
	costMTD, revenueMTD := map[string]ledger.Money{}, map[string]ledger.Money{}
	for _, c := range customers {
		costMTD[route(c.ID)] += 0
		revenueMTD[route(c.ID)] += 0
	}
	for k, b := range st.cost {
		if inMonth(k.Day) {
			costMTD[route(k.Customer)] += b.Cost
		}
	}
	for k, b := range st.revenue {
		if inMonth(k.Day) {
			revenueMTD[route(k.Customer)] += b.Current
		}
	}
	var costMTDS, revenueMTDS, infoS []sample
	for c, v := range costMTD {
		costMTDS = append(costMTDS, sample{[]string{c}, int64(v)})
	}
	for c, v := range revenueMTD {
		revenueMTDS = append(revenueMTDS, sample{[]string{c}, int64(v)})
	}
	for _, c := range customers {
		if top == nil || top[c.ID] {
			infoS = append(infoS, sample{[]string{c.ID, c.Name, c.Plan}, 1})
		}
	}
	s := &Snapshot{business: []series{
		{f.cost, costS}, {f.adjust, adjustS}, {f.tokens, tokensS}, {f.requests, requestsS},
		{f.unpriced, unpricedS}, {f.revenue, revenueS}, {f.costMTD, costMTDS}, {f.revenueMT, revenueMTDS},
		{f.projected, v.projectedRevenue(route)}, {f.info, infoS},
	}, sources: v.sources, stateRecovered: v.recovered}
	return s
}

// projectedRevenue is margin_customer_revenue_projected_month_end_usd: engine.ProjectRevenue over
// Stripe's last good answer, routed like the month-to-date gauges, 0 for known customers without
// revenue. It is empty until Stripe has answered.
func (v view) projectedRevenue(route func(string) string) []sample {
	if v.revenue == nil {
		return nil
	}
	var subs []engine.Subscription
	if v.subs != nil {
		subs = v.subs.Subscriptions
	}
	byLabel := map[string]int64{}
	for _, c := range v.customers {
		byLabel[route(c.ID)] += 0
	}
	for id, pr := range engine.ProjectRevenue(v.revenue.Daily, subs, v.today) {
		byLabel[route(id)] += int64(pr.Projected)
	}
	out := make([]sample, 0, len(byLabel))
	for c, v := range byLabel {
		out = append(out, sample{[]string{c}, v})
	}
	return out
}
