package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"

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
	// Unpriced counts tokens the catalog has no price for and no bill covered; nil when none.
	Unpriced *usage.Tokens
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

// interner maps the few distinct strings (sources, models, providers) to small ids so the hot
// maps below hash 20-byte structs instead of five strings per usage row.
type interner struct {
	ids  map[string]uint32
	strs []string
}

func newInterner() *interner {
	return &interner{ids: map[string]uint32{"": 0}, strs: []string{""}}
}

func (in *interner) id(s string) uint32 {
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.strs)) // #nosec G115 -- distinct strings of one computation, far below 2^32
	in.ids[s] = id
	in.strs = append(in.strs, s)
	return id
}

func (in *interner) str(id uint32) string { return in.strs[id] }

// lastID is a one-entry cache in front of the interner: clients emit records sorted by source,
// so consecutive records mostly repeat the previous key, scope and model.
type lastID struct {
	s   string
	val uint32
	ok  bool
}

func (l *lastID) id(in *interner, s string) uint32 {
	if l.ok && l.s == s {
		return l.val
	}
	l.s, l.val, l.ok = s, in.id(s), true
	return l.val
}

type cellKey struct {
	p, key, scope, model uint32
	d                    usage.Day
}

type cell struct {
	cellKey
	priced          ledger.Money // catalog estimate
	own             ledger.Money // the provider's own per-row bill (OpenRouter)
	share           ledger.Money // share of billed cost split onto this cell
	hasOwn, covered bool
}

type billKey struct {
	p, source, model uint32
	d                usage.Day
}

type refDay struct {
	p, ref uint32
	d      usage.Day
}

type coverKey struct {
	p, key, model uint32
	d             usage.Day
}

// Compute attributes, prices and reconciles the facts. It is pure: same facts, same result.
func Compute(f *Facts, pricer Pricer, m Mapping) *Result {
	res := &Result{
		Window:    f.Window,
		Customers: map[string]CustomerInfo{},
		Sources:   map[usage.SourceRef]usage.SourceInfo{},
	}
	for _, b := range f.Batches {
		for _, s := range b.Sources {
			res.Sources[s.Ref] = s
		}
		for _, w := range b.Warnings {
			if !strings.HasPrefix(w, string(b.Provider)+":") {
				w = string(b.Provider) + ": " + w
			}
			res.Warnings = append(res.Warnings, w)
		}
	}
	// Sources resolve to customers with every provider's names known.
	resolver, warnings := attribution.New(attribution.Input{
		Config:         m.Customers,
		Metadata:       metadataSources(f.Revenue),
		KnownCustomers: knownCustomers(f.Revenue),
		Names:          sourceNames(res.Sources),
		Features:       m.Features,
	})
	res.Warnings = append(res.Warnings, warnings...)
	// Each batch builds its rows in its own region of one allocation; the regions are then
	// closed up in place, so the fact table is never copied into a second one.
	regions := make([]int, len(f.Batches)+1)
	for i, b := range f.Batches {
		regions[i+1] = regions[i] + len(b.Usage) + len(b.Usage)/16 + 64
	}
	all := make([]CostRow, regions[len(f.Batches)])
	rowsPer := make([][]CostRow, len(f.Batches))
	reconPer := make([][]Reconciliation, len(f.Batches))
	var wg sync.WaitGroup
	for i, b := range f.Batches {
		buf := all[regions[i]:regions[i]:regions[i+1]]
		wg.Go(func() { rowsPer[i], reconPer[i] = computeBatch(f, b, pricer, resolver, res.Sources, buf) })
	}
	wg.Wait()
	n := 0
	for i, part := range rowsPer {
		if n+len(part) > len(all) { // a region outgrew its estimate and moved: rare
			all = append(all[:n], part...)
			all = all[:cap(all)]
		} else {
			copy(all[n:], part) // moves left within the same array (or from a moved region)
		}
		n += len(part)
		res.Reconciliation = append(res.Reconciliation, reconPer[i]...)
	}
	clear(all[n:])
	res.Rows = all[:n:n]
	for _, rc := range res.Reconciliation {
		if rc.Attributed+rc.Unattributed != rc.Billed {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s: attributed %s + unattributed %s != billed %s", rc.Provider, rc.Day, rc.Attributed, rc.Unattributed, rc.Billed))
		}
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

// computeBatch prices, reconciles and attributes one provider's batch. Batches are independent
// until their rows are merged, so Compute runs them concurrently.
func computeBatch(f *Facts, b *usage.Batch, pricer Pricer, resolver *attribution.Resolver, sources map[usage.SourceRef]usage.SourceInfo, rows []CostRow) ([]CostRow, []Reconciliation) {
	batches := [...]*usage.Batch{b}
	in := newInterner()
	isKey := func(id uint32) bool { return isKeyRef(usage.SourceRef(in.str(id))) }

	// 1. Usage cells, priced from the catalog, and their rows, built in place in rows (the
	// caller's buffer). Bills without usage add cells too.
	n := len(b.Usage)
	cells := make([]cell, 0, n+n/16)
	index := make(map[cellKey]int32, n)
	cellAt := func(k cellKey) int32 {
		i, ok := index[k]
		if !ok {
			i = int32(len(cells)) // #nosec G115 -- cells of one batch, far below 2^31
			cells = append(cells, cell{cellKey: k})
			key, scope := usage.SourceRef(in.str(k.key)), usage.SourceRef(in.str(k.scope))
			src := key
			if src == "" {
				src = scope
			}
			rows = append(rows, CostRow{Day: k.d, Provider: usage.Provider(in.str(k.p)), Source: src, Scope: scope, Model: in.str(k.model)})
			index[k] = i
		}
		return i
	}
	unpriced := map[cellKey]*usage.Tokens{} // rare: kept beside the cells, not in each
	var lastKey, lastScope, lastModel lastID
	for _, b := range batches {
		p := in.id(string(b.Provider))
		for i := range b.Usage {
			r := &b.Usage[i]
			if !f.Window.Contains(r.Day) {
				continue
			}
			if r.Provider != b.Provider {
				p = in.id(string(r.Provider))
			}
			i := cellAt(cellKey{p: p, key: lastKey.id(in, string(r.Key)), scope: lastScope.id(in, string(r.Scope)), model: lastModel.id(in, r.Model), d: r.Day})
			c, row := &cells[i], &rows[i]
			row.Tokens.Add(r.Tokens)
			row.Requests += r.Requests
			switch {
			case r.HasBilled:
				c.own += r.Billed
				c.hasOwn = true
			default:
				if cost, ok := pricer.Cost(r); ok {
					c.priced += cost
				} else {
					u := unpriced[c.cellKey]
					if u == nil {
						u = new(usage.Tokens)
						unpriced[c.cellKey] = u
					}
					u.Add(r.Tokens)
				}
			}
		}
	}

	// 2. Bills for settled days, in input order: deterministic for deterministic input. Rows the
	// provider split (input, output line items) are split one by one; each split is exact.
	type bill struct {
		billKey
		amount   ledger.Money
		keyLevel bool
	}
	keyLevelOf := map[uint32]bool{}
	isKeyID := func(id uint32) bool {
		kl, ok := keyLevelOf[id]
		if !ok {
			kl = isKey(id)
			keyLevelOf[id] = kl
		}
		return kl
	}
	var bills []bill
	scopeBilled := map[uint32]bool{}
	var lastSource, lastBillModel lastID
	for _, b := range batches {
		p := in.id(string(b.Provider))
		for _, cr := range b.Costs {
			if !f.Window.Contains(cr.Day) || cr.Day >= f.Today || cr.Amount == 0 {
				continue
			}
			if cr.Provider != b.Provider {
				p = in.id(string(cr.Provider))
			}
			k := billKey{p: p, source: lastSource.id(in, string(cr.Source)), model: lastBillModel.id(in, cr.Model), d: cr.Day}
			kl := isKeyID(k.source)
			if !kl {
				scopeBilled[k.p] = true
			}
			bills = append(bills, bill{billKey: k, amount: cr.Amount, keyLevel: kl})
		}
	}

	// 3. Split each bill over the usage beneath it. A bill at key grain covers that key's usage,
	// which then takes no share of a bill at its project or workspace grain; coverage only
	// matters where a provider bills at both grains.
	covered := map[coverKey]bool{}
	for _, b := range bills {
		if b.keyLevel && scopeBilled[b.p] {
			covered[coverKey{p: b.p, key: b.source, model: b.model, d: b.d}] = true
		}
	}
	// The usage beneath each key and scope, indexed on first need: bills per key and model
	// usually find their one row through the cell index directly.
	var byKey, byScope map[refDay][]int32
	pools := func() {
		if byKey != nil {
			return
		}
		byKey, byScope = map[refDay][]int32{}, map[refDay][]int32{}
		for i := range cells {
			c := &cells[i]
			if c.hasOwn {
				continue
			}
			if c.key != 0 {
				k := refDay{p: c.p, ref: c.key, d: c.d}
				byKey[k] = append(byKey[k], int32(i))
			}
			if c.scope != 0 {
				k := refDay{p: c.p, ref: c.scope, d: c.d}
				byScope[k] = append(byScope[k], int32(i))
			}
		}
	}
	scopeOf := map[uint32]uint32{}
	listedScope := func(key uint32) uint32 {
		sc, ok := scopeOf[key]
		if !ok {
			sc = in.id(string(sources[usage.SourceRef(in.str(key))].Scope))
			scopeOf[key] = sc
		}
		return sc
	}
	other := in.id(OtherModel)
	label := func(model uint32) uint32 {
		if model == 0 {
			return other
		}
		return model
	}
	billedTotal := map[refDay]ledger.Money{} // per provider and day (ref 0)
	var cand []int32
	var weights []int64
	for _, bk := range bills {
		amount := bk.amount
		billedTotal[refDay{p: bk.p, d: bk.d}] += amount
		keyLevel := bk.keyLevel
		eligible := func(c *cell, matchModel bool) bool {
			if matchModel && bk.model != 0 && c.model != bk.model {
				return false
			}
			if keyLevel || c.key == 0 || len(covered) == 0 {
				return true
			}
			return !covered[coverKey{p: c.p, key: c.key, model: c.model, d: c.d}] && !covered[coverKey{p: c.p, key: c.key, d: c.d}]
		}
		exact := true
		cand = cand[:0]
		var pool []int32
		if i, ok := index[cellKey{p: bk.p, key: bk.source, scope: listedScope(bk.source), model: bk.model, d: bk.d}]; ok && keyLevel && bk.model != 0 && !cells[i].hasOwn {
			cand = append(cand, i) // a key belongs to one project or workspace: its only row
		} else {
			pools()
			if keyLevel {
				pool = byKey[refDay{p: bk.p, ref: bk.source, d: bk.d}]
			} else {
				pool = byScope[refDay{p: bk.p, ref: bk.source, d: bk.d}]
			}
			for _, i := range pool {
				if eligible(&cells[i], true) {
					cand = append(cand, i)
				}
			}
		}
		if len(cand) == 0 && bk.model != 0 {
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
			k := cellKey{p: bk.p, d: bk.d, model: label(bk.model)}
			if keyLevel {
				k.key, k.scope = bk.source, in.id(string(sources[usage.SourceRef(in.str(bk.source))].Scope))
			} else {
				k.scope = bk.source
			}
			c := &cells[cellAt(k)]
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
				weights[j] = rows[i].Tokens.Total()
			}
		}
		parts := ledger.Split(amount, weights)
		for j, i := range cand {
			if exact || bk.model == 0 {
				cells[i].share += parts[j]
				cells[i].covered = true
				continue
			}
			src := cells[i].cellKey
			src.model = label(bk.model)
			c := &cells[cellAt(src)]
			c.share += parts[j]
			c.covered = true
		}
	}

	// 4. Attribute and emit rows.
	resolved := map[[2]uint32]attribution.Resolution{}
	recon := map[refDay]*Reconciliation{}
	out := rows[:0] // filtered in place
	for i := range cells {
		c := &cells[i]
		row := rows[i]
		row.Unpriced = unpriced[c.cellKey]
		switch {
		case c.covered:
			row.Cost = c.share
			// Tokens the catalog cannot price were still paid for through the bill.
			row.Unpriced = nil
		case c.hasOwn:
			row.Cost = c.own
		default:
			row.Cost, row.Estimated = c.priced, true
		}
		if row.Cost == 0 && row.Tokens.Total() == 0 && row.Requests == 0 {
			continue
		}
		pair := [2]uint32{c.key, c.scope}
		r, ok := resolved[pair]
		if !ok {
			r = resolver.Resolve(usage.SourceRef(in.str(c.key)), usage.SourceRef(in.str(c.scope)))
			resolved[pair] = r
		}
		row.Customer, row.Feature = r.Customer, r.Feature
		out = append(out, row)

		rk := refDay{p: c.p, d: c.d}
		rc := recon[rk]
		if rc == nil {
			rc = &Reconciliation{Provider: row.Provider, Day: c.d}
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
			rc = &Reconciliation{Provider: usage.Provider(in.str(k.p)), Day: k.d}
			recon[k] = rc
		}
		rc.Billed += total
	}
	reconList := make([]Reconciliation, 0, len(recon))
	for _, rc := range recon {
		reconList = append(reconList, *rc)
	}
	return out, reconList
}

func isKeyRef(ref usage.SourceRef) bool {
	s := string(ref)
	return strings.Contains(s, ":api_key:") || strings.HasPrefix(s, "openrouter:key:")
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
