package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/marginhq/margin/internal/attribution"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// Pricer prices a usage record from the price catalog; false means the model is unpriced.
type Pricer interface {
	Cost(r *usage.UsageRecord) (ledger.Money, bool)
}

// OtherModel labels billed cost that names no model (tools, storage, web search).
const OtherModel = "other"

// Facts is everything fetched for one window: the providers' batches and Stripe's revenue.
type Facts struct {
	Window  usage.Window
	Today   usage.Day // billed cost on or after this day is not settled and is ignored
	Batches []*usage.Batch
	Revenue *RevenueFacts // nil when Stripe is not configured
}

// CustomerInfo is a Stripe customer as the views need it.
type CustomerInfo struct {
	ID, Name, Email, Plan string
	// Sources are the references listed in the customer's margin_sources metadata.
	Sources []usage.SourceRef
}

// DailyRevenue is revenue recognised for one customer on one UTC day.
type DailyRevenue struct {
	Customer string
	Day      usage.Day
	Amount   ledger.Money
}

// RevenueFacts is what Stripe contributed.
type RevenueFacts struct {
	Customers []CustomerInfo
	Daily     []DailyRevenue
	Warnings  []string
}

// CostRow is the reconciled cost of one source with one model on one day: the unit every view
// (report, metrics, frames) aggregates.
type CostRow struct {
	Day      usage.Day
	Provider usage.Provider
	Source   usage.SourceRef // the most specific source: key, or scope when keyless
	Scope    usage.SourceRef
	Customer string // "" when unattributed
	Feature  string
	Model    string
	// Cost is the billed cost share, or the catalog estimate when Estimated.
	Cost      ledger.Money
	Estimated bool
	Tokens    usage.Tokens
	Requests  int64
	// Unpriced counts tokens the catalog has no price for (and no bill covered).
	Unpriced usage.Tokens
}

// Reconciliation compares, per provider and day, what the provider billed with what Margin
// attributed. Attributed + Unattributed always equals Billed; Estimated is unbilled usage priced
// from the catalog.
type Reconciliation struct {
	Provider     usage.Provider
	Day          usage.Day
	Billed       ledger.Money
	Attributed   ledger.Money
	Unattributed ledger.Money
	Estimated    ledger.Money
}

// Result is the computed fact table for a window.
type Result struct {
	Window         usage.Window
	Rows           []CostRow
	Revenue        []DailyRevenue
	Customers      map[string]CustomerInfo
	Sources        map[usage.SourceRef]usage.SourceInfo
	Reconciliation []Reconciliation
	Warnings       []string
}

// Mapping is the attribution input that does not come from the providers.
type Mapping struct {
	Customers map[string][]usage.SourceRef
	Features  map[usage.SourceRef]string
}

type cellKey struct {
	p          usage.Provider
	d          usage.Day
	key, scope usage.SourceRef
	model      string
}

type cell struct {
	cellKey
	tokens, unpriced usage.Tokens
	requests         int64
	priced           ledger.Money // catalog estimate
	own              ledger.Money // the provider's own per-row bill (OpenRouter)
	hasOwn           bool
	share            ledger.Money // share of billed cost split onto this cell
	covered          bool
}

type billKey struct {
	p      usage.Provider
	d      usage.Day
	source usage.SourceRef
	model  string
}

type refDay struct {
	p   usage.Provider
	d   usage.Day
	ref usage.SourceRef
}

type coverKey struct {
	p     usage.Provider
	d     usage.Day
	key   usage.SourceRef
	model string
}

// Compute attributes, prices and reconciles the facts. It is pure: same facts, same result.
func Compute(f *Facts, pricer Pricer, m Mapping) *Result {
	res := &Result{
		Window:    f.Window,
		Customers: map[string]CustomerInfo{},
		Sources:   map[usage.SourceRef]usage.SourceInfo{},
	}
	n := 0
	for _, b := range f.Batches {
		n += len(b.Usage)
		for _, s := range b.Sources {
			res.Sources[s.Ref] = s
		}
		for _, w := range b.Warnings {
			res.Warnings = append(res.Warnings, string(b.Provider)+": "+w)
		}
	}

	// 1. Usage cells, priced from the catalog.
	cells := make([]cell, 0, n)
	index := make(map[cellKey]int32, n)
	cellAt := func(k cellKey) *cell {
		i, ok := index[k]
		if !ok {
			i = int32(len(cells))
			cells = append(cells, cell{cellKey: k})
			index[k] = i
		}
		return &cells[i]
	}
	for _, b := range f.Batches {
		for i := range b.Usage {
			r := &b.Usage[i]
			if !f.Window.Contains(r.Day) {
				continue
			}
			c := cellAt(cellKey{r.Provider, r.Day, r.Key, r.Scope, r.Model})
			c.tokens.Add(r.Tokens)
			c.requests += r.Requests
			switch {
			case r.HasBilled:
				c.own += r.Billed
				c.hasOwn = true
			default:
				if cost, ok := pricer.Cost(r); ok {
					c.priced += cost
				} else {
					c.unpriced.Add(r.Tokens)
				}
			}
		}
	}

	// 2. Billed cells for settled days.
	bills := map[billKey]ledger.Money{}
	var billOrder []billKey
	for _, b := range f.Batches {
		for _, cr := range b.Costs {
			if !f.Window.Contains(cr.Day) || cr.Day >= f.Today {
				continue
			}
			k := billKey{cr.Provider, cr.Day, cr.Source, cr.Model}
			if _, seen := bills[k]; !seen {
				billOrder = append(billOrder, k)
			}
			bills[k] += cr.Amount
		}
	}
	sort.Slice(billOrder, func(i, j int) bool { return lessBill(billOrder[i], billOrder[j]) })

	// 3. Split each bill over the usage beneath it, the most specific bill first.
	covered := map[coverKey]bool{}
	for k := range bills {
		if isKeyRef(k.source) {
			covered[coverKey{k.p, k.d, k.source, k.model}] = true
		}
	}
	byKey := map[refDay][]int32{}
	byScope := map[refDay][]int32{}
	if len(bills) > 0 {
		for i := range cells {
			c := &cells[i]
			if c.hasOwn {
				continue
			}
			if c.key != "" {
				byKey[refDay{c.p, c.d, c.key}] = append(byKey[refDay{c.p, c.d, c.key}], int32(i))
			}
			if c.scope != "" {
				byScope[refDay{c.p, c.d, c.scope}] = append(byScope[refDay{c.p, c.d, c.scope}], int32(i))
			}
		}
	}
	billedTotal := map[refDay]ledger.Money{} // ref "" : per provider and day
	var cand []int32
	var weights []int64
	for _, bk := range billOrder {
		amount := bills[bk]
		billedTotal[refDay{bk.p, bk.d, ""}] += amount
		keyLevel := isKeyRef(bk.source)
		eligible := func(c *cell, matchModel bool) bool {
			if matchModel && bk.model != "" && c.model != bk.model {
				return false
			}
			if keyLevel {
				return true
			}
			return c.key == "" || !(covered[coverKey{c.p, c.d, c.key, c.model}] || covered[coverKey{c.p, c.d, c.key, ""}])
		}
		var pool []int32
		if keyLevel {
			pool = byKey[refDay{bk.p, bk.d, bk.source}]
		} else {
			pool = byScope[refDay{bk.p, bk.d, bk.source}]
		}
		exact := true
		cand = cand[:0]
		for _, i := range pool {
			if eligible(&cells[i], true) {
				cand = append(cand, i)
			}
		}
		if len(cand) == 0 && bk.model != "" {
			// The bill names a model nobody under this source used (a tool billed per model, a
			// model missing from the usage API): spread it over the source's usage by weight.
			exact = false
			for _, i := range pool {
				if eligible(&cells[i], false) {
					cand = append(cand, i)
				}
			}
		}
		if len(cand) == 0 {
			// No usage beneath the bill: it stays on the billed source itself.
			k := cellKey{p: bk.p, d: bk.d, model: modelLabel(bk.model)}
			if keyLevel {
				k.key, k.scope = bk.source, res.Sources[bk.source].Scope
			} else {
				k.scope = bk.source
			}
			c := cellAt(k)
			c.share += amount
			c.covered = true
			continue
		}
		weights = weights[:0]
		var sum int64
		for _, i := range cand {
			w := int64(cells[i].priced)
			weights = append(weights, w)
			sum += w
		}
		if sum == 0 {
			for j, i := range cand {
				weights[j] = cells[i].tokens.Total()
			}
		}
		parts := ledger.Split(amount, weights)
		for j, i := range cand {
			if exact || bk.model == "" {
				cells[i].share += parts[j]
				cells[i].covered = true
				continue
			}
			src := cells[i].cellKey
			c := cellAt(cellKey{src.p, src.d, src.key, src.scope, modelLabel(bk.model)})
			c.share += parts[j]
			c.covered = true
		}
	}

	// 4. Attribute and emit rows.
	resolver, warnings := attribution.New(attribution.Input{
		Config:         m.Customers,
		Metadata:       metadataSources(f.Revenue),
		KnownCustomers: knownCustomers(f.Revenue),
		Names:          sourceNames(res.Sources),
		Features:       m.Features,
	})
	res.Warnings = append(res.Warnings, warnings...)
	resolved := map[[2]usage.SourceRef]attribution.Resolution{}
	recon := map[refDay]*Reconciliation{}
	res.Rows = make([]CostRow, 0, len(cells))
	for i := range cells {
		c := &cells[i]
		row := CostRow{
			Day: c.d, Provider: c.p, Scope: c.scope, Model: c.model,
			Tokens: c.tokens, Requests: c.requests, Unpriced: c.unpriced,
		}
		row.Source = c.key
		if row.Source == "" {
			row.Source = c.scope
		}
		switch {
		case c.covered:
			row.Cost = c.share
		case c.hasOwn:
			row.Cost = c.own
		default:
			row.Cost, row.Estimated = c.priced, true
		}
		if c.covered {
			// Tokens the catalog cannot price were still paid for through the bill.
			row.Unpriced = usage.Tokens{}
		}
		if row.Cost == 0 && row.Tokens.Total() == 0 && row.Requests == 0 {
			continue
		}
		pair := [2]usage.SourceRef{c.key, c.scope}
		r, ok := resolved[pair]
		if !ok {
			r = resolver.Resolve(c.key, c.scope)
			resolved[pair] = r
		}
		row.Customer, row.Feature = r.Customer, r.Feature
		res.Rows = append(res.Rows, row)

		rk := refDay{c.p, c.d, ""}
		rc := recon[rk]
		if rc == nil {
			rc = &Reconciliation{Provider: c.p, Day: c.d}
			recon[rk] = rc
		}
		switch {
		case row.Estimated:
			rc.Estimated += row.Cost
		case row.Customer == "":
			rc.Unattributed += row.Cost
		default:
			rc.Attributed += row.Cost
		}
		if c.hasOwn && !c.covered {
			rc.Billed += c.own
		}
	}
	for k, total := range billedTotal {
		rc := recon[k]
		if rc == nil {
			rc = &Reconciliation{Provider: k.p, Day: k.d}
			recon[k] = rc
		}
		rc.Billed += total
	}
	for _, rc := range recon {
		if rc.Attributed+rc.Unattributed != rc.Billed {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s: attributed %s + unattributed %s != billed %s", rc.Provider, rc.Day, rc.Attributed, rc.Unattributed, rc.Billed))
		}
		res.Reconciliation = append(res.Reconciliation, *rc)
	}
	sort.Slice(res.Reconciliation, func(i, j int) bool {
		a, b := res.Reconciliation[i], res.Reconciliation[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		return a.Provider < b.Provider
	})

	if f.Revenue != nil {
		for _, c := range f.Revenue.Customers {
			res.Customers[c.ID] = c
		}
		for _, d := range f.Revenue.Daily {
			if f.Window.Contains(d.Day) {
				res.Revenue = append(res.Revenue, d)
			}
		}
		for _, w := range f.Revenue.Warnings {
			res.Warnings = append(res.Warnings, "stripe: "+w)
		}
	}
	return res
}

func modelLabel(model string) string {
	if model == "" {
		return OtherModel
	}
	return model
}

func isKeyRef(ref usage.SourceRef) bool {
	s := string(ref)
	return strings.Contains(s, ":api_key:") || strings.HasPrefix(s, "openrouter:key:")
}

func lessBill(a, b billKey) bool {
	if a.p != b.p {
		return a.p < b.p
	}
	if a.d != b.d {
		return a.d < b.d
	}
	if a.source != b.source {
		return a.source < b.source
	}
	return a.model < b.model
}

func metadataSources(rv *RevenueFacts) map[string][]usage.SourceRef {
	if rv == nil {
		return nil
	}
	m := map[string][]usage.SourceRef{}
	for _, c := range rv.Customers {
		if len(c.Sources) > 0 {
			m[c.ID] = c.Sources
		}
	}
	return m
}

func knownCustomers(rv *RevenueFacts) map[string]bool {
	if rv == nil {
		return nil
	}
	m := make(map[string]bool, len(rv.Customers))
	for _, c := range rv.Customers {
		m[c.ID] = true
	}
	return m
}

func sourceNames(src map[usage.SourceRef]usage.SourceInfo) map[usage.SourceRef]string {
	m := make(map[usage.SourceRef]string, len(src))
	for ref, s := range src {
		m[ref] = s.Name
	}
	return m
}
