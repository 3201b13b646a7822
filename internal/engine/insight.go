package engine

import (
	"slices"
	"sort"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// The insight views answer the founder's pricing questions from a computed window: which features
// lose money, what each plan must cost for a target margin, how a customer compares with the
// average paying customer, and who will be underwater at month end. All money stays fixed-point;
// ratios are floats made at the edge and nil where undefined.

// DefaultTargetMargin is the gross margin the plans view prices for when none is configured.
const DefaultTargetMargin ledger.Rate = 650_000_000 // 0.65

// FeatureLine is the spend and margin of one product feature.
type FeatureLine struct {
	Feature   string       `json:"feature"`
	Cost      ledger.Money `json:"cost_usd"`
	CostShare *float64     `json:"cost_share"`
	Customers int          `json:"customers"` // attributed customers with spend on the feature
	// Revenue is the revenue of the feature's customers, each customer's revenue split over the
	// features it uses in proportion to its LLM cost on each (the only usage signal there is).
	Revenue          ledger.Money `json:"revenue_usd"`
	GrossMargin      ledger.Money `json:"gross_margin_usd"`
	GrossMarginRatio *float64     `json:"gross_margin_ratio"` // nil when no known customer pays for it
}

// PlanLine is one plan's unit economics and the price that would reach the target margin.
type PlanLine struct {
	Plan                string       `json:"plan"`
	Customers           int          `json:"customers"`
	Revenue             ledger.Money `json:"revenue_usd"`
	Cost                ledger.Money `json:"cost_usd"`
	GrossMargin         ledger.Money `json:"gross_margin_usd"`
	GrossMarginRatio    *float64     `json:"gross_margin_ratio"`
	RevenuePerCustomer  ledger.Money `json:"revenue_per_customer_usd"`
	CostPerCustomer     ledger.Money `json:"cost_per_customer_usd"`     // mean
	CostPerCustomerP90  ledger.Money `json:"cost_per_customer_p90_usd"` // nearest rank
	TargetMargin        float64      `json:"target_margin"`
	PriceForTarget      ledger.Money `json:"price_for_target_usd"`      // per customer over the window
	PriceForTargetRatio *float64     `json:"price_for_target_multiple"` // of today's revenue per customer
}

// ForecastLine projects one customer's month-end cost and revenue.
type ForecastLine struct {
	CustomerID         string       `json:"customer_id"`
	Name               string       `json:"name"`
	Plan               string       `json:"plan"`
	CostMonthToDate    ledger.Money `json:"cost_month_to_date_usd"`
	RevenueMonthToDate ledger.Money `json:"revenue_month_to_date_usd"`
	DailyCostTrend     ledger.Money `json:"daily_cost_trend_usd"` // mean of the recent days
	ProjectedCost      ledger.Money `json:"projected_cost_usd"`
	// ProjectedRevenue is revenue recognised on the month's days from invoices already issued
	// plus RunRateRevenue, what live subscriptions will still invoice for the month.
	ProjectedRevenue ledger.Money `json:"projected_revenue_usd"`
	RunRateRevenue   ledger.Money `json:"run_rate_revenue_usd"`
	ProjectedMargin  ledger.Money `json:"projected_margin_usd"`
	Underwater       bool         `json:"projected_underwater"`
	// Basis says what the revenue projection rests on: BasisRunRate, BasisInvoicedOnly, and
	// BasisMeteredNotProjected when a metered price's revenue is missing from it.
	Basis []string `json:"basis"`
	// TrendDays is how many complete days of this customer's history the cost trend averages.
	// With fewer than minTrendDays the cost is not extrapolated: ShortHistory is set and the
	// projected cost is the cost so far.
	TrendDays    int  `json:"trend_days"`
	ShortHistory bool `json:"short_history"`
}

// Forecast is the month-end projection for every customer with cost or revenue this month.
type Forecast struct {
	Month      string         `json:"month"`      // "2026-11"
	Through    string         `json:"through"`    // last day with data (today, partly estimated)
	DaysLeft   int            `json:"days_left"`  // days after Through until month end
	TrendDays  int            `json:"trend_days"` // days the daily trend averages at most
	Underwater int            `json:"underwater"` // customers projected underwater
	Customers  []ForecastLine `json:"customers"`
	Warnings   []string       `json:"warnings,omitempty"` // subscriptions that could not be projected
}

// unassignedFeature is UnassignedFeature interned.
var unassignedFeature = usage.Intern(UnassignedFeature)

// featureOf returns the row's feature label.
func featureOf(r *CostRow) usage.Sym {
	if r.Feature == usage.NoSym {
		return unassignedFeature
	}
	return r.Feature
}

// featureSpend sums spend by feature and by customer and feature, one row at a time, for
// featureLines: SummarizeFor feeds it from its own pass over the rows.
type featureSpend struct {
	spend map[customerFeature]ledger.Money
	lines map[usage.Sym]*FeatureLine // by feature label
	// Rows of one customer and feature come in runs: a run is summed, then added to the maps.
	run     customerFeature
	runCost ledger.Money
	l       *FeatureLine
	lf      usage.Sym // l's feature
}

type customerFeature struct{ customer, feature usage.Sym }

func newFeatureSpend() *featureSpend {
	return &featureSpend{spend: map[customerFeature]ledger.Money{}, lines: map[usage.Sym]*FeatureLine{}}
}

func (fs *featureSpend) add(r *CostRow) {
	f := featureOf(r)
	if fs.l == nil || fs.lf != f {
		if fs.l = fs.lines[f]; fs.l == nil {
			fs.l = &FeatureLine{Feature: f.String()}
			fs.lines[f] = fs.l
		}
		fs.lf = f
	}
	fs.l.Cost += r.Cost
	if k := (customerFeature{r.Customer, f}); k != fs.run {
		fs.flush()
		fs.run = k
	}
	fs.runCost += r.Cost
}

// merge adds o's sums into fs; both are flushed.
func (fs *featureSpend) merge(o *featureSpend) {
	for k, v := range o.spend {
		fs.spend[k] += v
	}
	for f, ol := range o.lines {
		l := fs.lines[f]
		if l == nil {
			l = &FeatureLine{Feature: ol.Feature}
			fs.lines[f] = l
		}
		l.Cost += ol.Cost
	}
	fs.l = nil
}

func (fs *featureSpend) flush() {
	if fs.run.customer != usage.NoSym {
		fs.spend[fs.run] += fs.runCost
	}
	fs.runCost = 0
}

// featureLines splits spend by feature and gives each feature the revenue of its customers in
// proportion to what each customer spends on it.
func featureLines(fs *featureSpend, rep *Report) []FeatureLine {
	type cf = customerFeature
	fs.flush()
	spend, lines := fs.spend, fs.lines
	byCustomer := map[string][]cf{}
	for k := range spend {
		id := k.customer.String()
		byCustomer[id] = append(byCustomer[id], k)
	}
	for _, c := range rep.Customers {
		keys := byCustomer[c.CustomerID]
		if len(keys) == 0 {
			continue
		}
		sortby.Func(keys, func(a, b cf) int { return cmpString(a.feature.String(), b.feature.String()) })
		weights := make([]int64, len(keys))
		for i, k := range keys {
			weights[i] = int64(max(spend[k], 0))
			lines[k.feature].Customers++
		}
		for i, part := range ledger.Split(c.Revenue, weights) {
			lines[keys[i].feature].Revenue += part
		}
	}
	out := make([]FeatureLine, 0, len(lines))
	for _, l := range lines {
		l.GrossMargin = l.Revenue - l.Cost
		l.GrossMarginRatio = ratio(l.GrossMargin, l.Revenue)
		l.CostShare = ratio(l.Cost, rep.Totals.Cost)
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cost != out[j].Cost {
			return out[i].Cost > out[j].Cost
		}
		return out[i].Feature < out[j].Feature
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// addAverages sets each customer's tokens and cost as a multiple of the average paying customer
// (revenue > 0) and its rank by cost (1 = the most expensive).
func addAverages(rep *Report) {
	var paying int64
	var tokens int64
	var cost ledger.Money
	for _, c := range rep.Customers {
		if c.Revenue > 0 {
			paying++
			tokens += c.Tokens
			cost += c.Cost
		}
	}
	for i := range rep.Customers {
		c := &rep.Customers[i]
		c.Rank = i + 1 // rep.Customers is sorted by cost, descending
		if paying == 0 {
			continue
		}
		if tokens > 0 {
			r := float64(c.Tokens) * float64(paying) / float64(tokens)
			c.TokensVsAverage = &r
		}
		if cost > 0 {
			r := float64(c.Cost) * float64(paying) / float64(cost)
			c.CostVsAverage = &r
		}
	}
}

// planLines summarises each plan and prices it for the target margin: the price p with
// (p − cost) / p = target is cost / (1 − target), using the mean cost per customer.
func planLines(rep *Report, target ledger.Rate) []PlanLine {
	type acc struct {
		line  PlanLine
		costs []ledger.Money
	}
	plans := map[string]*acc{}
	for _, c := range rep.Customers {
		plan := c.Plan
		if plan == "" {
			plan = NoPlan
		}
		a := plans[plan]
		if a == nil {
			a = &acc{line: PlanLine{Plan: plan}}
			plans[plan] = a
		}
		a.line.Customers++
		a.line.Revenue += c.Revenue
		a.line.Cost += c.Cost
		a.costs = append(a.costs, c.Cost)
	}
	out := make([]PlanLine, 0, len(plans))
	for _, a := range plans {
		l := &a.line
		n := int64(l.Customers)
		l.GrossMargin = l.Revenue - l.Cost
		l.GrossMarginRatio = ratio(l.GrossMargin, l.Revenue)
		l.RevenuePerCustomer = ledger.Money(ledger.MustMulDiv(int64(l.Revenue), 1, n))
		l.CostPerCustomer = ledger.Money(ledger.MustMulDiv(int64(l.Cost), 1, n))
		l.CostPerCustomerP90 = percentile(a.costs, 90)
		l.TargetMargin = float64(target) / float64(ledger.RateOne)
		if keep := int64(ledger.RateOne - target); keep > 0 {
			l.PriceForTarget = ledger.Money(ledger.MustMulDiv(int64(l.CostPerCustomer), int64(ledger.RateOne), keep))
		}
		l.PriceForTargetRatio = ratio(l.PriceForTarget, l.RevenuePerCustomer)
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Plan < out[j].Plan })
	return out
}

// percentile returns the nearest-rank p-th percentile of values (0 for none).
func percentile(values []ledger.Money, p int) ledger.Money {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 × n), 1-based
	return s[max(rank, 1)-1]
}

// trendDays is how many recent days the month-end forecast averages for its daily trend.
const trendDays = 7

// minTrendDays is the least history (complete days) a customer's cost trend is extrapolated from.
const minTrendDays = 3

// forecast projects each customer's month. Cost: cost so far (today's estimate included) plus the
// mean daily cost of the customer's last complete days (at most trendDays, from its first day with
// usage) for every day left; a customer with fewer than minTrendDays days of history is not
// extrapolated. Revenue: ProjectRevenue, recognised invoices plus the live subscriptions' run-rate
// to month end. A customer whose projected cost exceeds projected revenue is flagged underwater.
func forecast(res *Result, revenue []DailyRevenue, subs []Subscription, today usage.Day) *Forecast {
	t := today.Time()
	monthStart, monthEnd := today.MonthStart(), today.NextMonthStart()
	fc := &Forecast{Month: t.Format("2006-01"), Through: today.String(), DaysLeft: int(monthEnd - today - 1)}
	trendFrom := max(today-trendDays, res.Window.From)
	fc.TrendDays = int(today - trendFrom) // complete days only: today is partial
	type acc struct {
		line  ForecastLine
		trend ledger.Money
		first usage.Day // first day with usage in the result
		used  bool
	}
	cs := map[string]*acc{}
	get := func(id string) *acc {
		a := cs[id]
		if a == nil {
			info := res.Customers[id]
			a = &acc{line: ForecastLine{CustomerID: id, Name: info.Name, Plan: info.Plan}}
			cs[id] = a
		}
		return a
	}
	var lastID usage.Sym
	var last *acc
	for i := range res.Rows {
		r := &res.Rows[i]
		if r.Customer == usage.NoSym {
			continue
		}
		if last == nil || r.Customer != lastID { // a customer's rows come in runs
			lastID, last = r.Customer, get(r.Customer.String())
		}
		a := last
		if !a.used || r.Day < a.first {
			a.first, a.used = r.Day, true
		}
		if r.Day >= monthStart && r.Day <= today {
			a.line.CostMonthToDate += r.Cost
		}
		if r.Day >= trendFrom && r.Day < today {
			a.trend += r.Cost
		}
	}
	projections := ProjectRevenue(revenue, subs, today)
	for id, p := range projections {
		if p.Projected == 0 && p.MonthToDate == 0 && cs[id] == nil {
			continue
		}
		l := &get(id).line
		l.RevenueMonthToDate, l.ProjectedRevenue, l.RunRateRevenue, l.Basis = p.MonthToDate, p.Projected, p.RunRate, p.Basis
	}
	for _, a := range cs {
		l := &a.line
		if l.Basis == nil {
			l.Basis = []string{BasisInvoicedOnly}
		}
		l.TrendDays = fc.TrendDays
		if a.used && a.first > trendFrom {
			l.TrendDays = int(max(today-a.first, 0))
		}
		l.ShortHistory = l.TrendDays < minTrendDays
		if !l.ShortHistory {
			l.DailyCostTrend = ledger.Money(ledger.MustMulDiv(int64(a.trend), 1, int64(l.TrendDays)))
		}
		l.ProjectedCost = l.CostMonthToDate + ledger.Money(ledger.MustMulDiv(int64(l.DailyCostTrend), int64(fc.DaysLeft), 1))
		l.ProjectedMargin = l.ProjectedRevenue - l.ProjectedCost
		l.Underwater = l.ProjectedCost > l.ProjectedRevenue
		if l.Underwater {
			fc.Underwater++
		}
		fc.Customers = append(fc.Customers, *l)
	}
	sort.Slice(fc.Customers, func(i, j int) bool {
		a, b := fc.Customers[i], fc.Customers[j]
		if a.ProjectedMargin != b.ProjectedMargin {
			return a.ProjectedMargin < b.ProjectedMargin // the worst first
		}
		return a.CustomerID < b.CustomerID
	})
	return fc
}
