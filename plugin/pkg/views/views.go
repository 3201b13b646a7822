// Package views turns the engine's computed window into Grafana data frames, one function per
// query type. Money stays ledger.Money through every sum and becomes float64 only when a frame
// field is filled. Frames carry data-plane types (numeric-long tables, timeseries-multi/-wide/-long)
// so alerting and transformations can read them, and units (currencyUSD, percentunit). The package
// does no fetching and knows nothing of the SDK's handlers.
package views

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/models"
)

// Units Grafana understands.
const (
	unitUSD   = "currencyUSD"
	unitRatio = "percentunit" // 0.25 shows as 25%
)

// noPlan labels customers without a plan, as the report's plans view does.
const noPlan = engine.NoPlan

// Input is one computed window and the query asking about it.
type Input struct {
	Window       usage.Window
	Result       *engine.Result
	Report       *engine.Report // Summarize of Result, before any customer filter
	Query        *models.Query
	TargetMargin ledger.Rate      // the plans' target; Report.Plans are priced for it
	Forecast     *engine.Forecast // forecast queries only: this month, through today
}

var dataplane = data.FrameTypeVersion{0, 1}

func newFrame(name string, typ data.FrameType, fields ...*data.Field) *data.Frame {
	f := data.NewFrame(name, fields...)
	f.Meta = &data.FrameMeta{Type: typ, TypeVersion: dataplane}
	return f
}

func money(m ledger.Money) float64 { return m.Float64() }

func withUnit(f *data.Field, unit string) *data.Field {
	f.Config = &data.FieldConfig{Unit: unit}
	return f
}

// Customers is the customers table: one row per Stripe customer (DESIGN.md §4.2 report fields).
func Customers(in Input) data.Frames {
	var (
		ids, names, plans        []string
		revenue, cost, marginUSD []float64
		marginRatio, share       []*float64
		tokens, requests, rank   []int64
		tokensVsAvg, costVsAvg   []*float64
	)
	for _, c := range in.Report.Customers {
		if !in.Query.HasCustomer(c.CustomerID) {
			continue
		}
		ids = append(ids, c.CustomerID)
		names = append(names, c.Name)
		plans = append(plans, c.Plan)
		revenue = append(revenue, money(c.Revenue))
		cost = append(cost, money(c.Cost))
		marginUSD = append(marginUSD, money(c.GrossMargin))
		marginRatio = append(marginRatio, c.GrossMarginRatio)
		share = append(share, c.CostShare)
		tokens = append(tokens, c.Tokens)
		requests = append(requests, c.Requests)
		tokensVsAvg = append(tokensVsAvg, c.TokensVsAverage)
		costVsAvg = append(costVsAvg, c.CostVsAverage)
		rank = append(rank, int64(c.Rank))
	}
	return data.Frames{newFrame("customers", data.FrameTypeNumericLong,
		data.NewField("customer_id", nil, nonNil(ids)),
		data.NewField("name", nil, nonNil(names)),
		data.NewField("plan", nil, nonNil(plans)),
		withUnit(data.NewField("revenue_usd", nil, nonNil(revenue)), unitUSD),
		withUnit(data.NewField("cost_usd", nil, nonNil(cost)), unitUSD),
		withUnit(data.NewField("gross_margin_usd", nil, nonNil(marginUSD)), unitUSD),
		withUnit(data.NewField("gross_margin_ratio", nil, nonNil(marginRatio)), unitRatio),
		withUnit(data.NewField("cost_share", nil, nonNil(share)), unitRatio),
		data.NewField("tokens", nil, nonNil(tokens)),
		data.NewField("requests", nil, nonNil(requests)),
		// Multiples of the average paying customer over the same window (null with none paying);
		// rank by cost among all customers, so a filter does not renumber them.
		data.NewField("tokens_vs_average", nil, nonNil(tokensVsAvg)),
		data.NewField("cost_vs_average", nil, nonNil(costVsAvg)),
		data.NewField("rank", nil, nonNil(rank)),
	)}
}

// nonNil gives empty columns a typed empty slice, so an empty table keeps its field types.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Unattributed is spend no customer mapping covers, by source, so it can be mapped.
func Unattributed(in Input) data.Frames {
	var (
		sources, names, providers []string
		cost                      []float64
		tokens                    []int64
	)
	for _, u := range in.Report.Unattributed {
		if !in.Query.HasProvider(u.Provider) {
			continue
		}
		sources = append(sources, string(u.Source))
		names = append(names, u.Name)
		providers = append(providers, string(u.Provider))
		cost = append(cost, money(u.Cost))
		tokens = append(tokens, u.Tokens)
	}
	return data.Frames{newFrame("unattributed", data.FrameTypeNumericLong,
		data.NewField("source", nil, nonNil(sources)),
		data.NewField("name", nil, nonNil(names)),
		data.NewField("provider", nil, nonNil(providers)),
		withUnit(data.NewField("cost_usd", nil, nonNil(cost)), unitUSD),
		data.NewField("tokens", nil, nonNil(tokens)),
	)}
}

// Reconciliation is, per day and provider, what the provider billed against what Margin
// attributed: a long time series, sorted by time as the data plane requires.
func Reconciliation(in Input) data.Frames {
	var (
		times                                      []time.Time
		providers                                  []string
		billed, attributed, unattributed, estimate []float64
		learned, listed                            []float64
	)
	for _, rc := range in.Result.Reconciliation { // sorted by day, then provider
		if !in.Query.HasProvider(rc.Provider) || !in.Window.Contains(rc.Day) {
			continue
		}
		times = append(times, rc.Day.Time())
		providers = append(providers, string(rc.Provider))
		billed = append(billed, money(rc.Billed))
		attributed = append(attributed, money(rc.Attributed))
		unattributed = append(unattributed, money(rc.Unattributed))
		estimate = append(estimate, money(rc.Estimated))
		learned = append(learned, money(rc.EstimatedLearned))
		listed = append(listed, money(rc.EstimatedCatalog))
	}
	return data.Frames{newFrame("reconciliation", data.FrameTypeTimeSeriesLong,
		data.NewField("time", nil, nonNil(times)),
		data.NewField("provider", nil, nonNil(providers)),
		withUnit(data.NewField("billed_usd", nil, nonNil(billed)), unitUSD),
		withUnit(data.NewField("attributed_usd", nil, nonNil(attributed)), unitUSD),
		withUnit(data.NewField("unattributed_usd", nil, nonNil(unattributed)), unitUSD),
		withUnit(data.NewField("estimated_usd", nil, nonNil(estimate)), unitUSD),
		// The estimate by price source: rates learned from settled bills, or the catalog.
		withUnit(data.NewField("estimated_learned_usd", nil, nonNil(learned)), unitUSD),
		withUnit(data.NewField("estimated_catalog_usd", nil, nonNil(listed)), unitUSD),
	)}
}

// Plans is one row per plan. A customer filter narrows the plans to the chosen customers.
func Plans(in Input) data.Frames {
	lines := in.Report.Plans
	if len(in.Query.CustomerIDs) > 0 {
		lines = engine.SummarizeFor(onlyCustomers(in.Result, in.Query), in.Report.Currency, in.TargetMargin).Plans
	}
	var (
		plans                                                  []string
		customers                                              []int64
		revenue, cost, marginUSD, perRevenue, perCost, p90, at []float64
		marginRatio, multiple                                  []*float64
		target                                                 []float64
	)
	for _, l := range lines {
		plans = append(plans, l.Plan)
		customers = append(customers, int64(l.Customers))
		revenue = append(revenue, money(l.Revenue))
		cost = append(cost, money(l.Cost))
		marginUSD = append(marginUSD, money(l.GrossMargin))
		marginRatio = append(marginRatio, l.GrossMarginRatio)
		perRevenue = append(perRevenue, money(l.RevenuePerCustomer))
		perCost = append(perCost, money(l.CostPerCustomer))
		p90 = append(p90, money(l.CostPerCustomerP90))
		target = append(target, l.TargetMargin)
		at = append(at, money(l.PriceForTarget))
		multiple = append(multiple, l.PriceForTargetRatio)
	}
	return data.Frames{newFrame("plans", data.FrameTypeNumericLong,
		data.NewField("plan", nil, nonNil(plans)),
		data.NewField("customers", nil, nonNil(customers)),
		withUnit(data.NewField("revenue_usd", nil, nonNil(revenue)), unitUSD),
		withUnit(data.NewField("cost_usd", nil, nonNil(cost)), unitUSD),
		withUnit(data.NewField("gross_margin_usd", nil, nonNil(marginUSD)), unitUSD),
		withUnit(data.NewField("gross_margin_ratio", nil, nonNil(marginRatio)), unitRatio),
		withUnit(data.NewField("revenue_per_customer_usd", nil, nonNil(perRevenue)), unitUSD),
		withUnit(data.NewField("cost_per_customer_usd", nil, nonNil(perCost)), unitUSD),
		withUnit(data.NewField("cost_per_customer_p90_usd", nil, nonNil(p90)), unitUSD),
		withUnit(data.NewField("target_margin", nil, nonNil(target)), unitRatio),
		withUnit(data.NewField("price_for_target_usd", nil, nonNil(at)), unitUSD),
		// Of today's revenue per customer; null when the plan has no revenue.
		data.NewField("price_for_target_multiple", nil, nonNil(multiple)),
	)}
}

// onlyCustomers keeps the chosen customers' rows, revenue and info.
func onlyCustomers(res *engine.Result, q *models.Query) *engine.Result {
	out := &engine.Result{Window: res.Window, Sources: res.Sources, Unpriced: res.Unpriced, Customers: map[string]engine.CustomerInfo{}}
	for _, r := range res.Rows {
		if r.Customer != usage.NoSym && q.HasCustomer(r.Customer.String()) {
			out.Rows = append(out.Rows, r)
		}
	}
	for _, d := range res.Revenue {
		if q.HasCustomer(d.Customer) {
			out.Revenue = append(out.Revenue, d)
		}
	}
	for id, c := range res.Customers {
		if q.HasCustomer(id) {
			out.Customers[id] = c
		}
	}
	return out
}

// series is one labelled daily series being summed.
type series struct {
	labels  data.Labels
	display string
	values  []ledger.Money
}

// accumulator sums money per group and day over the window.
type accumulator struct {
	w      usage.Window
	groups map[string]*series
}

func newAccumulator(w usage.Window) *accumulator {
	return &accumulator{w: w, groups: map[string]*series{}}
}

func (a *accumulator) add(key string, labels func() (data.Labels, string), d usage.Day, m ledger.Money) {
	if !a.w.Contains(d) {
		return
	}
	s := a.groups[key]
	if s == nil {
		l, display := labels()
		s = &series{labels: l, display: display, values: make([]ledger.Money, a.w.Days())}
		a.groups[key] = s
	}
	s.values[d-a.w.From] += m
}

// sorted returns the series in key order, so frames come out the same every time.
func (a *accumulator) sorted() []*series {
	keys := make([]string, 0, len(a.groups))
	for k := range a.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*series, len(keys))
	for i, k := range keys {
		out[i] = a.groups[k]
	}
	return out
}

func dayTimes(w usage.Window) []time.Time {
	t := make([]time.Time, 0, w.Days())
	for d := w.From; d < w.To; d++ {
		t = append(t, d.Time())
	}
	return t
}

func floats(ms []ledger.Money) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = money(m)
	}
	return out
}

// customerLabel is the label value of a row's customer: its Stripe id, or "unattributed".
func customerLabel(id string) string {
	if id == "" {
		return models.UnattributedID
	}
	return id
}

// featureLabel is the label value of a row's feature: its mapped name, or "unassigned".
func featureLabel(f string) string {
	if f == "" {
		return engine.UnassignedFeature
	}
	return f
}

func (in Input) customerName(id string) string {
	if id == "" {
		return models.UnattributedID
	}
	if c, ok := in.Result.Customers[id]; ok && c.Name != "" {
		return c.Name
	}
	return id
}

// Costs is daily cost split by provider, model or customer: one frame per series
// (timeseries-multi), labelled so alert rules get one instance per series.
func Costs(in Input) data.Frames {
	acc := newAccumulator(in.Window)
	for i := range in.Result.Rows {
		r := &in.Result.Rows[i]
		provider, customer := r.Provider.String(), r.Customer.String()
		if !in.Query.HasProvider(usage.Provider(provider)) || !in.Query.HasCustomer(customer) {
			continue
		}
		switch in.Query.GroupBy {
		case models.GroupModel:
			model := r.Model.String()
			acc.add(provider+"\x00"+model, func() (data.Labels, string) {
				return data.Labels{"provider": provider, "model": model}, provider + " " + model
			}, r.Day, r.Cost)
		case models.GroupFeature:
			f := featureLabel(r.Feature.String())
			acc.add(f, func() (data.Labels, string) {
				return data.Labels{"feature": f}, f
			}, r.Day, r.Cost)
		case models.GroupCustomer:
			acc.add(customerLabel(customer), func() (data.Labels, string) {
				return data.Labels{"customer_id": customerLabel(customer)}, in.customerName(customer)
			}, r.Day, r.Cost)
		default:
			acc.add(provider, func() (data.Labels, string) {
				return data.Labels{"provider": provider}, provider
			}, r.Day, r.Cost)
		}
	}
	all := acc.sorted()
	if len(all) == 0 {
		// The data plane's empty response: a typed frame with no fields.
		return data.Frames{newFrame("costs", data.FrameTypeTimeSeriesMulti)}
	}
	times := dayTimes(in.Window)
	frames := make(data.Frames, 0, len(all))
	for _, s := range all {
		value := withUnit(data.NewField("cost_usd", s.labels, floats(s.values)), unitUSD)
		value.Config.DisplayNameFromDS = s.display
		frames = append(frames, newFrame("costs", data.FrameTypeTimeSeriesMulti, data.NewField("time", nil, times), value))
	}
	return frames
}

// marginDisplay names the margin fields in legends of grouped series ("Acme revenue").
var marginDisplay = map[string]string{"revenue_usd": "revenue", "cost_usd": "cost", "gross_margin_usd": "margin", "gross_margin_ratio": "margin %"}

// marginGroup sums one group's daily revenue and cost.
type marginGroup struct {
	key, display  string
	labels        data.Labels
	revenue, cost []ledger.Money
}

// Margin is daily revenue, LLM cost and gross margin, overall or per customer or plan, as one
// wide time series. Overall cost counts all spend, unattributed included (the company's margin);
// per customer and per plan count each customer's own spend.
func Margin(in Input) data.Frames {
	q := in.Query
	groups := map[string]*marginGroup{}
	group := func(customer string) *marginGroup {
		var key, display string
		var labels data.Labels
		switch q.GroupBy {
		case models.GroupCustomer:
			key, display, labels = customer, in.customerName(customer), data.Labels{"customer_id": customer}
		case models.GroupPlan:
			plan := in.Result.Customers[customer].Plan
			if plan == "" {
				plan = noPlan
			}
			key, display, labels = plan, plan, data.Labels{"plan": plan}
		}
		g := groups[key]
		if g == nil {
			g = &marginGroup{key: key, display: display, labels: labels,
				revenue: make([]ledger.Money, in.Window.Days()), cost: make([]ledger.Money, in.Window.Days())}
			groups[key] = g
		}
		return g
	}
	// With no customer filter the overall view is the whole company; with one, only those customers.
	filtered := len(q.CustomerIDs) > 0
	for _, d := range in.Result.Revenue {
		if in.Window.Contains(d.Day) && q.HasCustomer(d.Customer) {
			group(d.Customer).revenue[d.Day-in.Window.From] += d.Amount
		}
	}
	for i := range in.Result.Rows {
		r := &in.Result.Rows[i]
		if !in.Window.Contains(r.Day) || !q.HasProvider(r.Provider.Name()) {
			continue
		}
		customer := r.Customer.String()
		if customer == "" && (q.GroupBy != models.GroupNone || filtered) {
			continue
		}
		if customer != "" && !q.HasCustomer(customer) {
			continue
		}
		group(customer).cost[r.Day-in.Window.From] += r.Cost
	}
	if q.GroupBy == models.GroupNone && len(groups) == 0 {
		group("") // an empty company still has a (zero) margin line
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	fields := []*data.Field{data.NewField("time", nil, dayTimes(in.Window))}
	for _, k := range keys {
		g := groups[k]
		n := len(g.revenue)
		revenue, cost, marginUSD := make([]float64, n), make([]float64, n), make([]float64, n)
		ratio := make([]*float64, n)
		for i := range n {
			m := g.revenue[i] - g.cost[i]
			revenue[i], cost[i], marginUSD[i] = money(g.revenue[i]), money(g.cost[i]), money(m)
			if r, ok := ledger.Ratio(m, g.revenue[i]); ok {
				ratio[i] = &r
			}
		}
		for _, f := range []*data.Field{
			withUnit(data.NewField("revenue_usd", g.labels, revenue), unitUSD),
			withUnit(data.NewField("cost_usd", g.labels, cost), unitUSD),
			withUnit(data.NewField("gross_margin_usd", g.labels, marginUSD), unitUSD),
			withUnit(data.NewField("gross_margin_ratio", g.labels, ratio), unitRatio),
		} {
			if g.display != "" {
				f.Config.DisplayNameFromDS = g.display + " " + marginDisplay[f.Name]
			}
			fields = append(fields, f)
		}
	}
	return data.Frames{newFrame("margin", data.FrameTypeTimeSeriesWide, fields...)}
}

// Features is one row per product feature: its spend, share of spend, the customers using it, and
// the revenue of those customers split over their features by cost. A customer filter narrows the
// table to those customers' spend. Margin ratio is null where no known customer pays for the feature.
func Features(in Input) data.Frames {
	lines := in.Report.Features
	if len(in.Query.CustomerIDs) > 0 {
		lines = engine.SummarizeFor(onlyCustomers(in.Result, in.Query), in.Report.Currency, in.TargetMargin).Features
	}
	var (
		features                 []string
		cost, revenue, marginUSD []float64
		share, marginRatio       []*float64
		customers                []int64
	)
	for _, l := range lines { // sorted by cost, highest first
		features = append(features, l.Feature)
		cost = append(cost, money(l.Cost))
		share = append(share, l.CostShare)
		customers = append(customers, int64(l.Customers))
		revenue = append(revenue, money(l.Revenue))
		marginUSD = append(marginUSD, money(l.GrossMargin))
		marginRatio = append(marginRatio, l.GrossMarginRatio)
	}
	return data.Frames{newFrame("features", data.FrameTypeNumericLong,
		data.NewField("feature", nil, nonNil(features)),
		withUnit(data.NewField("cost_usd", nil, nonNil(cost)), unitUSD),
		withUnit(data.NewField("cost_share", nil, nonNil(share)), unitRatio),
		data.NewField("customers", nil, nonNil(customers)),
		withUnit(data.NewField("revenue_usd", nil, nonNil(revenue)), unitUSD),
		withUnit(data.NewField("gross_margin_usd", nil, nonNil(marginUSD)), unitUSD),
		withUnit(data.NewField("gross_margin_ratio", nil, nonNil(marginRatio)), unitRatio),
	)}
}

// Forecast is the month-end projection per customer, the worst projected margin first. The frame's
// custom metadata says which month, through which day, and how many days the trend averages.
func Forecast(in Input) data.Frames {
	var (
		ids, names, plans                    []string
		costMTD, revenueMTD, trend, projCost []float64
		projRevenue, runRate, projMargin     []float64
		underwater, shortHistory             []bool
		basis                                []string
		customerTrendDays                    []int64
		month, through                       string
		daysLeft, trendDays, underwaterCount int
	)
	if fc := in.Forecast; fc != nil {
		month, through, daysLeft, trendDays = fc.Month, fc.Through, fc.DaysLeft, fc.TrendDays
		for _, l := range fc.Customers {
			if !in.Query.HasCustomer(l.CustomerID) {
				continue
			}
			ids = append(ids, l.CustomerID)
			name := l.Name
			if name == "" {
				name = l.CustomerID
			}
			names = append(names, name)
			plans = append(plans, l.Plan)
			costMTD = append(costMTD, money(l.CostMonthToDate))
			revenueMTD = append(revenueMTD, money(l.RevenueMonthToDate))
			trend = append(trend, money(l.DailyCostTrend))
			projCost = append(projCost, money(l.ProjectedCost))
			projRevenue = append(projRevenue, money(l.ProjectedRevenue))
			runRate = append(runRate, money(l.RunRateRevenue))
			projMargin = append(projMargin, money(l.ProjectedMargin))
			underwater = append(underwater, l.Underwater)
			basis = append(basis, strings.Join(l.Basis, ","))
			customerTrendDays = append(customerTrendDays, int64(l.TrendDays))
			shortHistory = append(shortHistory, l.ShortHistory)
			if l.Underwater {
				underwaterCount++
			}
		}
	}
	f := newFrame("forecast", data.FrameTypeNumericLong,
		data.NewField("customer_id", nil, nonNil(ids)),
		data.NewField("name", nil, nonNil(names)),
		data.NewField("plan", nil, nonNil(plans)),
		withUnit(data.NewField("cost_month_to_date_usd", nil, nonNil(costMTD)), unitUSD),
		withUnit(data.NewField("revenue_month_to_date_usd", nil, nonNil(revenueMTD)), unitUSD),
		withUnit(data.NewField("daily_cost_trend_usd", nil, nonNil(trend)), unitUSD),
		withUnit(data.NewField("projected_cost_usd", nil, nonNil(projCost)), unitUSD),
		withUnit(data.NewField("projected_revenue_usd", nil, nonNil(projRevenue)), unitUSD),
		withUnit(data.NewField("run_rate_revenue_usd", nil, nonNil(runRate)), unitUSD),
		withUnit(data.NewField("projected_margin_usd", nil, nonNil(projMargin)), unitUSD),
		data.NewField("projected_underwater", nil, nonNil(underwater)),
		// What the revenue projection rests on (engine.Basis* values, comma-separated) and how
		// sure the cost trend is: its days of history, and whether they were too few to extrapolate.
		data.NewField("basis", nil, nonNil(basis)),
		data.NewField("trend_days", nil, nonNil(customerTrendDays)),
		data.NewField("short_history", nil, nonNil(shortHistory)),
	)
	if in.Forecast != nil {
		for _, w := range in.Forecast.Warnings {
			f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning, Text: w})
		}
	}
	f.Meta.Custom = ForecastMeta{Month: month, Through: through, DaysLeft: daysLeft, TrendDays: trendDays, Underwater: underwaterCount}
	return data.Frames{f}
}

// ForecastMeta is the forecast frame's custom metadata.
type ForecastMeta struct {
	Month      string `json:"month"`      // "2026-11"
	Through    string `json:"through"`    // today, partly estimated
	DaysLeft   int    `json:"daysLeft"`   // days after today until month end
	TrendDays  int    `json:"trendDays"`  // complete days the daily trend averages
	Underwater int    `json:"underwater"` // rows projected underwater
}
