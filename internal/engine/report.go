package engine

import (
	"cmp"
	"sort"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// Report is the summary `margin report` prints (DESIGN.md §4.2). Amounts are exact decimals in
// the reporting currency; ratios are null where they are undefined (no revenue, no spend).
type Report struct {
	From           string               `json:"from"` // first day, inclusive
	To             string               `json:"to"`   // day after the last one (exclusive)
	Currency       string               `json:"currency"`
	Totals         Totals               `json:"totals"`
	Providers      []ProviderLine       `json:"providers"`
	Models         []ModelLine          `json:"models"`
	Customers      []CustomerLine       `json:"customers"`
	Unattributed   []UnattributedLine   `json:"unattributed"`
	Reconciliation []ReconciliationLine `json:"reconciliation"`
	Estimates      []EstimateLine       `json:"estimates"`
	Features       []FeatureLine        `json:"features"`
	Plans          []PlanLine           `json:"plans"`
	Daily          []DailyLine          `json:"daily"`
	Forecast       *Forecast            `json:"forecast,omitempty"` // set by Engine.Report
	Warnings       []string             `json:"warnings,omitempty"`
}

// Totals covers the whole window.
type Totals struct {
	Revenue          ledger.Money `json:"revenue_usd"`
	Cost             ledger.Money `json:"cost_usd"`
	Attributed       ledger.Money `json:"attributed_cost_usd"`
	Unattributed     ledger.Money `json:"unattributed_cost_usd"`
	Estimated        ledger.Money `json:"estimated_cost_usd"` // included in Cost
	GrossMargin      ledger.Money `json:"gross_margin_usd"`
	GrossMarginRatio *float64     `json:"gross_margin_ratio"`
	Tokens           int64        `json:"tokens"`
	Requests         int64        `json:"requests"`
}

// ProviderLine is spend per provider.
type ProviderLine struct {
	Provider  usage.Provider `json:"provider"`
	Cost      ledger.Money   `json:"cost_usd"`
	Estimated ledger.Money   `json:"estimated_cost_usd"`
	Tokens    int64          `json:"tokens"`
}

// ModelLine is spend per provider and model.
type ModelLine struct {
	Provider       usage.Provider `json:"provider"`
	Model          string         `json:"model"`
	Cost           ledger.Money   `json:"cost_usd"`
	Tokens         int64          `json:"tokens"`
	Requests       int64          `json:"requests"`
	UnpricedTokens int64          `json:"unpriced_tokens"`
}

// CustomerLine is one Stripe customer's economics over the window.
type CustomerLine struct {
	CustomerID       string       `json:"customer_id"`
	Name             string       `json:"name"`
	Plan             string       `json:"plan"`
	Revenue          ledger.Money `json:"revenue_usd"`
	Cost             ledger.Money `json:"cost_usd"`
	GrossMargin      ledger.Money `json:"gross_margin_usd"`
	GrossMarginRatio *float64     `json:"gross_margin_ratio"`
	CostShare        *float64     `json:"cost_share"`
	Tokens           int64        `json:"tokens"`
	Requests         int64        `json:"requests"`
	// Against the average paying customer over the same window; nil with no paying customer.
	TokensVsAverage *float64 `json:"tokens_vs_average"`
	CostVsAverage   *float64 `json:"cost_vs_average"`
	Rank            int      `json:"rank"` // by cost, 1 = highest
}

// UnattributedLine is spend no customer mapping covers, by source, so it can be mapped.
type UnattributedLine struct {
	Source   usage.SourceRef `json:"source"`
	Name     string          `json:"name"`
	Provider usage.Provider  `json:"provider"`
	Cost     ledger.Money    `json:"cost_usd"`
	Tokens   int64           `json:"tokens"`
}

// DailyLine is spend per UTC day, provider and model: what the HTML report stacks per day.
type DailyLine struct {
	Day      string         `json:"day"`
	Provider usage.Provider `json:"provider"`
	Model    string         `json:"model"`
	Cost     ledger.Money   `json:"cost_usd"`
	Tokens   int64          `json:"tokens"`
}

// ReconciliationLine is Reconciliation summed over the window per provider.
type ReconciliationLine struct {
	Provider     usage.Provider `json:"provider"`
	Billed       ledger.Money   `json:"billed_usd"`
	Attributed   ledger.Money   `json:"attributed_usd"`
	Unattributed ledger.Money   `json:"unattributed_usd"`
	Estimated    ledger.Money   `json:"estimated_usd"`
	// Estimated split by price source: learned from settled bills, or from the catalog.
	EstimatedLearned ledger.Money `json:"estimated_learned_usd"`
	EstimatedCatalog ledger.Money `json:"estimated_catalog_usd"`
	UnpricedTokens   int64        `json:"unpriced_tokens"`
}

// EstimateLine is usage no bill covers yet (today, Anthropic's Priority Tier), per provider,
// model, tier and the price source of the estimate.
type EstimateLine struct {
	Provider       usage.Provider `json:"provider"`
	Model          string         `json:"model"`
	Tier           usage.Tier     `json:"tier"` // "" standard, "priority", "flex"
	PriceSource    PriceSource    `json:"price_source"`
	Cost           ledger.Money   `json:"cost_usd"`
	Tokens         int64          `json:"tokens"`
	UnpricedTokens int64          `json:"unpriced_tokens"`
}

func ratio(num, den ledger.Money) *float64 {
	r, ok := ledger.Ratio(num, den)
	if !ok {
		return nil
	}
	return &r
}

// SummarizeFor turns a result into the report, pricing plans for the target gross margin.
func SummarizeFor(res *Result, currency string, target ledger.Rate) *Report {
	rep := &Report{
		From:     res.Window.From.String(),
		To:       res.Window.To.String(),
		Currency: currency,
		Warnings: res.Warnings,
	}
	sums := sumRows(res)
	for id := range res.Customers {
		sums.customer(id)
	}
	rep.Totals = sums.totals
	provs, modelLines, daily, outside := sums.provs, sums.modelLines, sums.daily, sums.outside
	custs, unattr, estimates, features := sums.custs, sums.unattr, sums.estimates, sums.features
	customer := sums.customer
	for _, d := range res.Revenue {
		rep.Totals.Revenue += d.Amount
		customer(d.Customer).Revenue += d.Amount
	}
	rep.Totals.GrossMargin = rep.Totals.Revenue - rep.Totals.Cost
	rep.Totals.GrossMarginRatio = ratio(rep.Totals.GrossMargin, rep.Totals.Revenue)

	for _, p := range usage.Providers {
		if l := provs[p]; l != nil {
			rep.Providers = append(rep.Providers, *l)
		}
	}
	rep.Models = modelLines
	sort.Slice(rep.Models, func(i, j int) bool {
		a, b := rep.Models[i], rep.Models[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Model < b.Model
	})
	n := len(outside)
	for i := range daily {
		if daily[i].Day != "" {
			n++
		}
	}
	rep.Daily = make([]DailyLine, 0, n)
	for i := range daily {
		if daily[i].Day != "" {
			rep.Daily = append(rep.Daily, daily[i])
		}
	}
	for _, d := range outside {
		rep.Daily = append(rep.Daily, *d)
	}
	// ISO dates sort as strings.
	sort.Slice(rep.Daily, func(i, j int) bool {
		a, b := rep.Daily[i], rep.Daily[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Model < b.Model
	})
	for _, c := range custs {
		c.GrossMargin = c.Revenue - c.Cost
		c.GrossMarginRatio = ratio(c.GrossMargin, c.Revenue)
		c.CostShare = ratio(c.Cost, rep.Totals.Cost)
		rep.Customers = append(rep.Customers, *c)
	}
	sort.Slice(rep.Customers, func(i, j int) bool {
		a, b := rep.Customers[i], rep.Customers[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		return a.CustomerID < b.CustomerID
	})
	for _, u := range unattr {
		rep.Unattributed = append(rep.Unattributed, *u)
	}
	sort.Slice(rep.Unattributed, func(i, j int) bool {
		a, b := rep.Unattributed[i], rep.Unattributed[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		return a.Source < b.Source
	})
	recon := map[usage.Provider]*ReconciliationLine{}
	for _, rc := range res.Reconciliation {
		l := recon[rc.Provider]
		if l == nil {
			l = &ReconciliationLine{Provider: rc.Provider}
			recon[rc.Provider] = l
		}
		l.Billed += rc.Billed
		l.Attributed += rc.Attributed
		l.Unattributed += rc.Unattributed
		l.Estimated += rc.Estimated
		l.EstimatedLearned += rc.EstimatedLearned
		l.EstimatedCatalog += rc.EstimatedCatalog
		l.UnpricedTokens += rc.UnpricedTokens
	}
	rep.Estimates = make([]EstimateLine, 0, len(estimates))
	for _, e := range estimates {
		rep.Estimates = append(rep.Estimates, *e)
	}
	sort.Slice(rep.Estimates, func(i, j int) bool {
		a, b := rep.Estimates[i], rep.Estimates[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.PriceSource, b.PriceSource)) < 0
	})
	for _, p := range usage.Providers {
		if l := recon[p]; l != nil {
			rep.Reconciliation = append(rep.Reconciliation, *l)
		}
	}
	addAverages(rep)
	rep.Features = featureLines(features, rep)
	rep.Plans = planLines(rep, target)
	if rep.Providers == nil {
		rep.Providers = []ProviderLine{}
	}
	if rep.Models == nil {
		rep.Models = []ModelLine{}
	}
	if rep.Customers == nil {
		rep.Customers = []CustomerLine{}
	}
	if rep.Unattributed == nil {
		rep.Unattributed = []UnattributedLine{}
	}
	if rep.Reconciliation == nil {
		rep.Reconciliation = []ReconciliationLine{}
	}
	return rep
}
