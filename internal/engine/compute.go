package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/marginhq/margin/internal/attribution"
	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/gcpolicy"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/usage"
)

// Pricer prices a usage record from the price catalog; false means the model is unpriced.
type Pricer interface {
	Cost(r *usage.UsageRecord) (ledger.Money, bool)
}

// modelPricing is a Pricer that can resolve a model once for all its records (*catalog.Catalog):
// Compute then looks a model up once per batch instead of once per record.
type modelPricing interface {
	ModelPricer(p usage.Provider, model string) catalog.ModelPricer
}

// Facts is everything fetched for one window: the providers' batches and Stripe's revenue.
type Facts struct {
	Window  usage.Window
	Today   usage.Day // billed cost on or after this day is not settled and is ignored
	Batches []*usage.Batch
	Revenue *RevenueFacts // nil when Stripe is not configured
	// consumable are the batches nothing but these facts holds (Report's, read straight from
	// the providers' clients): Compute lets go of their usage records once it has read them.
	consumable map[*usage.Batch]bool
}

// The revenue facts are internal/revenue's, named as the engine's callers know them.
type (
	CustomerInfo = revenue.Customer // a Stripe customer
	DailyRevenue = revenue.Daily    // revenue recognised for one customer on one UTC day
	RevenueFacts = revenue.Facts    // what Stripe contributed
)

// CostRow is the reconciled cost of one source with one model on one day: the unit every view
// (report, metrics, frames) aggregates. A result holds one per cell, millions at 10,000 keys, so
// the row is small and holds no pointer (the garbage collector never scans the row array): names
// are usage.Syms, the provider and tier a byte each, and unpriced tokens an index into
// Result.Unpriced. TestCostRow_CompactAndPointerFree pins it.
type CostRow struct {
	Day      usage.Day
	Source   usage.Sym // the most specific source: key, or scope when keyless
	Scope    usage.Sym
	Customer usage.Sym // NoSym when unattributed
	Feature  usage.Sym
	Model    usage.Sym
	// Unpriced is 1 + the index in Result.Unpriced of the tokens nothing could price and no
	// bill covered; 0 when none. Result.UnpricedOf reads it.
	Unpriced int32
	Provider usage.ProviderID
	// Tier is the service tier of the usage (priority, flex) as class bits; 0 for standard.
	Tier      usage.ClassBits
	Estimated bool
	// PriceSource says where Cost comes from: a bill, the provider's own per-row charge, prices
	// learned from settled bills, the catalog, or nothing (unpriced).
	PriceSource PriceSource
	// Cost is the billed cost share, or an estimate when Estimated.
	Cost     ledger.Money
	Tokens   usage.Tokens
	Requests int64
}

// ServiceTier returns the row's service tier; "" for standard.
func (r *CostRow) ServiceTier() usage.Tier { return r.Tier.PriceClass().Tier }

// UnpricedOf returns the tokens of r that nothing could price, nil when none. r is a row of res
// (or of a view of it, which shares its Unpriced).
func (res *Result) UnpricedOf(r *CostRow) *usage.Tokens {
	if r.Unpriced == 0 {
		return nil
	}
	return &res.Unpriced[r.Unpriced-1]
}

// PriceSource names where a row's cost comes from. It is a byte, not a string, because every row
// of the fact table carries one; it prints and marshals as its name.
type PriceSource uint8

const (
	PriceBill     PriceSource = iota + 1 // a share of the provider's bill
	PriceProvider                        // the provider's own per-row charge (OpenRouter)
	PriceLearned                         // estimate at the effective prices of the latest settled bills
	PriceCatalog                         // estimate at the embedded or configured list price
	PriceUnpriced                        // nothing could price it: counted, never free
)

var priceSourceNames = [...]string{"", "bill", "provider", "learned", "catalog", "unpriced"}

func (p PriceSource) String() string {
	if int(p) < len(priceSourceNames) {
		return priceSourceNames[p]
	}
	return "unknown"
}

// MarshalText writes the name ("learned", "catalog", …), as the JSON report documents it.
func (p PriceSource) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a name MarshalText wrote.
func (p *PriceSource) UnmarshalText(b []byte) error {
	for i, n := range priceSourceNames {
		if n == string(b) {
			*p = PriceSource(i) // #nosec G115 -- a handful of names
			return nil
		}
	}
	return fmt.Errorf("price source %q: want bill, provider, learned, catalog or unpriced", b)
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
	// EstimatedLearned and EstimatedCatalog split Estimated by price source; UnpricedTokens are
	// unbilled tokens nothing could price.
	EstimatedLearned, EstimatedCatalog ledger.Money
	UnpricedTokens                     int64
}

// Result is the computed fact table for a window.
type Result struct {
	Window         usage.Window
	Rows           []CostRow
	Unpriced       []usage.Tokens // by CostRow.Unpriced - 1
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
// maps below hash small structs instead of five strings per usage row.
type interner struct {
	ids   map[string]uint32
	strs  []string
	syms  []usage.Sym // by id, filled on first use; NoSym (but for id 0) while unknown
	bySym []uint32    // by Sym: id + 1, 0 while unknown
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

// sym returns the process-wide usage.Sym of id's string, interned there on first use (the rows
// name their sources and models by Sym). Only "" has the Sym 0, and its id is 0 too.
func (in *interner) sym(id uint32) usage.Sym {
	if int(id) < len(in.syms) {
		if s := in.syms[id]; s != usage.NoSym || id == 0 {
			return s
		}
	} else {
		in.syms = append(in.syms, make([]usage.Sym, len(in.strs)-len(in.syms))...)
	}
	s := usage.Intern(in.strs[id])
	in.syms[id] = s
	return s
}

// ofSym returns the id of a record's name: the records name their sources and models by
// usage.Sym, so a dense table by Sym finds the id without hashing a string.
func (in *interner) ofSym(s usage.Sym) uint32 {
	if int(s) < len(in.bySym) {
		if id := in.bySym[s]; id != 0 {
			return id - 1
		}
	} else {
		in.bySym = append(in.bySym, make([]uint32, int(s)+1-len(in.bySym)+len(in.bySym)/2)...)
	}
	id := in.id(s.String())
	in.bySym[s] = id + 1
	if int(id) >= len(in.syms) {
		in.syms = append(in.syms, make([]usage.Sym, len(in.strs)-len(in.syms))...)
	}
	in.syms[id] = s
	return id
}

// class packs a usage.PriceClass into a byte so cells and bills can be matched on it cheaply. Its
// bits are usage.ClassBits' (the cost records' and the rows'), so those convert as they are.
type class uint8

const (
	classPriority class = 1 << iota
	classFlex
	classBatch
	classLongContext
	classUSOnly
	classFast
)

func classOf(pc usage.PriceClass) class {
	var c class
	if pc.Tier != usage.TierStandard {
		switch pc.Tier {
		case usage.TierPriority:
			c |= classPriority
		case usage.TierFlex:
			c |= classFlex
		}
	}
	if pc.Batch {
		c |= classBatch
	}
	if pc.LongContext {
		c |= classLongContext
	}
	if pc.USOnly {
		c |= classUSOnly
	}
	if pc.Fast {
		c |= classFast
	}
	return c
}

func (c class) priceClass() usage.PriceClass {
	pc := usage.PriceClass{Batch: c&classBatch != 0, LongContext: c&classLongContext != 0, USOnly: c&classUSOnly != 0, Fast: c&classFast != 0}
	switch {
	case c&classPriority != 0:
		pc.Tier = usage.TierPriority
	case c&classFlex != 0:
		pc.Tier = usage.TierFlex
	}
	return pc
}

// unpricedSlab holds token counts in fixed chunks, so growing never copies them.
type unpricedSlab struct {
	chunks [][]usage.Tokens
	n      int32
}

const unpricedChunk = 1024

// add returns the 1-based index of a new zero count.
func (s *unpricedSlab) add() int32 {
	if int(s.n)%unpricedChunk == 0 {
		s.chunks = append(s.chunks, make([]usage.Tokens, unpricedChunk))
	}
	s.n++
	return s.n
}

func (s *unpricedSlab) at(i int32) *usage.Tokens {
	return &s.chunks[(i-1)/unpricedChunk][(i-1)%unpricedChunk]
}

// cellKey is the grain of the fact table: one source, model and price class on one day.
type cellKey struct {
	p, key, scope, model uint32
	d                    usage.Day
	cls                  class
}

// cell is what computing a row needs beside the row itself, 40 bytes: there is one per row,
// millions at 10,000 keys. Its key's fields are its own rather than an embedded cellKey, whose
// padding would push the flags into another eight bytes. While the batch computes, the cell's
// row (rows[i] of cells[i]) holds the rest: Cost sums the provider's own per-row charges
// (OpenRouter), and Unpriced is the index + 1 of the cell's unpriced tokens in
// batchComputer.unpriced (0 when the catalog priced all of them); emitRows turns both into
// what a row says. TestCell_Compact pins the size.
type cell struct {
	p, key, scope, model uint32
	d                    usage.Day
	cls                  class
	hasOwn               bool // the provider charged some of the cell's usage itself
	// billed: the cell lies under a source the provider billed that day, so its cost is its
	// share of those bills and never an estimate as well (possibly zero).
	billed bool
	priced ledger.Money // catalog estimate, for price weights and as the last-resort estimate
	share  ledger.Money // share of billed cost split onto this cell
}

// is reports whether the cell's key is k, the most selective fields first.
func (c *cell) is(k *cellKey) bool {
	return c.key == k.key && c.model == k.model && c.d == k.d && c.scope == k.scope && c.cls == k.cls && c.p == k.p
}

// grain returns the cell's key.
func (c *cell) grain() cellKey {
	return cellKey{p: c.p, key: c.key, scope: c.scope, model: c.model, d: c.d, cls: c.cls}
}

// refDay is a source (or, with ref 0, a whole provider) on one day.
type refDay struct {
	p, ref uint32
	d      usage.Day
}

// refDays is a set of (source, day) pairs as a bit per day of the window and interned source:
// the hot loops ask it once or twice per cell, far cheaper than a map. Source ids already
// differ by provider, so the provider is not part of the key.
type refDays struct {
	from usage.Day
	days int
	bits []uint64
}

func newRefDays(w usage.Window) refDays { return refDays{from: w.From, days: max(w.Days(), 1)} }

func (s *refDays) index(ref uint32, d usage.Day) (int, bool) {
	if d < s.from || int(d-s.from) >= s.days {
		return 0, false
	}
	return int(ref)*s.days + int(d-s.from), true
}

func (s *refDays) set(ref uint32, d usage.Day) {
	i, ok := s.index(ref, d)
	if !ok {
		return
	}
	if w := i/64 + 1; w > len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w-len(s.bits)+len(s.bits)/2)...)
	}
	s.bits[i/64] |= 1 << (i % 64)
}

func (s *refDays) has(ref uint32, d usage.Day) bool {
	i, ok := s.index(ref, d)
	return ok && i/64 < len(s.bits) && s.bits[i/64]&(1<<(i%64)) != 0
}

// famDay is the usage of one model family under one source on one day.
type famDay struct {
	p, ref, fam uint32
	d           usage.Day
}

type bill struct {
	p, source, model, fam uint32
	d                     usage.Day
	tt                    usage.TokenType
	cls                   class
	keyLevel              bool
	amount                ledger.Money
	qty                   int64 // billed tokens, when the provider says (OpenAI quantity)
}

// rateKey identifies an effective per-token price learned from bills.
type rateKey struct {
	p, fam uint32
	cls    class
	tt     usage.TokenType
}

// rate is amount per tokens, kept as a fraction so pricing with it stays exact.
type rate struct {
	d      usage.Day
	amount ledger.Money
	tokens int64
	ok     bool // set: the zero rate is "none learned"
}

// rates are the learned rates. Every bill asks for one, so the common key (the batch's
// provider, the standard class) is a dense array by family and token type; others go to a map.
type rates struct {
	p     uint32 // the batch's provider
	dense []rate // [family id × numTokenTypes + token type]
	other map[rateKey]rate
	n     int
}

const numTokenTypes = int(usage.TokenAudioOutput) + 1

// denseIndex is k's index in dense, when k is of the common kind.
func (rs *rates) denseIndex(k rateKey) (int, bool) {
	if k.p != rs.p || k.cls != 0 || int(k.tt) >= numTokenTypes {
		return 0, false
	}
	return int(k.fam)*numTokenTypes + int(k.tt), true
}

func (rs *rates) get(k rateKey) (rate, bool) {
	if i, ok := rs.denseIndex(k); ok {
		if i >= len(rs.dense) {
			return rate{}, false
		}
		return rs.dense[i], rs.dense[i].ok
	}
	r, ok := rs.other[k]
	return r, ok
}

func (rs *rates) set(k rateKey, r rate) {
	r.ok = true
	if i, ok := rs.denseIndex(k); ok {
		if i >= len(rs.dense) {
			rs.dense = append(rs.dense, make([]rate, i+1-len(rs.dense)+len(rs.dense)/2)...)
		}
		if !rs.dense[i].ok {
			rs.n++
		}
		rs.dense[i] = r
		return
	}
	if rs.other == nil {
		rs.other = map[rateKey]rate{}
	}
	if _, ok := rs.other[k]; !ok {
		rs.n++
	}
	rs.other[k] = r
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
	perCell := unsafe.Sizeof(CostRow{}) + unsafe.Sizeof(cell{}) + unsafe.Sizeof(int32(0)) // a row, its cell and its chain link
	gcpolicy.BeforeLarge(uint64(regions[len(f.Batches)]) * uint64(perCell))               // #nosec G115 -- a length times a size
	all := make([]CostRow, regions[len(f.Batches)])
	rowsPer := make([][]CostRow, len(f.Batches))
	reconPer := make([][]Reconciliation, len(f.Batches))
	unpricedPer := make([][]usage.Tokens, len(f.Batches))
	var wg sync.WaitGroup
	for i, b := range f.Batches {
		buf := all[regions[i]:regions[i]:regions[i+1]]
		wg.Go(func() {
			bc := newBatchComputer(f, b, pricer, resolver, res.Sources, buf)
			rowsPer[i], reconPer[i], unpricedPer[i] = bc.run()
		})
	}
	wg.Wait()
	// Each batch numbered its unpriced tokens from 1: rebase them into one list (rare rows).
	for i, part := range rowsPer {
		if len(unpricedPer[i]) == 0 {
			continue
		}
		if off := int32(len(res.Unpriced)); off > 0 { // #nosec G115 -- rows of one result
			for j := range part {
				if part[j].Unpriced != 0 {
					part[j].Unpriced += off
				}
			}
		}
		res.Unpriced = append(res.Unpriced, unpricedPer[i]...)
	}
	// dirty is where the rows of the regions end (emitRows cleared what it filtered out): past
	// n after the moves, only stale copies lie before it, and the never-touched rest stays
	// untouched (zero, and not yet faulted in).
	n, dirty, moved := 0, 0, false
	for i, part := range rowsPer {
		if cap(part) > regions[i+1]-regions[i] { // this batch outgrew its region and moved: rare
			dirty = max(dirty, regions[i+1])
		} else {
			dirty = max(dirty, regions[i]+len(part))
		}
		if n+len(part) > len(all) { // the rows outgrow the array: into a new one
			all = append(all[:n], part...)
			all = all[:cap(all)]
			moved = true
		} else {
			copy(all[n:], part) // moves left within the same array (or from a moved region)
		}
		n += len(part)
		res.Reconciliation = append(res.Reconciliation, reconPer[i]...)
	}
	if !moved && dirty > n {
		clear(all[n:dirty])
	}
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

// batchComputer turns one provider's batch into cost rows. The rules of cost live in its steps,
// run in this order by run:
//
//  1. collectUsage: one cell per (source, model, price class, day), catalog-priced for weights;
//  2. collectBills: the settled days' bills, and which sources they bill;
//  3. splitBills: each bill over the usage of exactly its model and token type beneath its
//     source, by token count; price weights only where the bill names no token type or the usage
//     does not break it down; a bill that matches no model is spread over its source's usage;
//     each split by token count also learns that bill's effective per-token rate (learn);
//  4. priceEstimates: unbilled usage (today, unbilled tiers) from learned rates, else the catalog;
//  5. emitRows: attribution and reconciliation.
//
// The invariant the steps keep: a cell under a billed source carries only its share of bills
// (billed), any other cell only an estimate or its own charge, never both; so per provider, day
// and billed source, the rows add up to the bill exactly.
type batchComputer struct {
	f        *Facts
	b        *usage.Batch
	pricer   Pricer
	resolver *attribution.Resolver
	sources  map[usage.SourceRef]usage.SourceInfo
	in       *interner
	pid      usage.ProviderID // the batch's provider

	cells []cell
	rows  []CostRow // rows[i] belongs to cells[i]
	// The cell index: one chain of cells per source, model and day, through next; mostly a
	// single cell. Chains are found by slot, a small number per source and model, times the days
	// of the window, plus the day: no hashing, and one cell touched per lookup, where one map
	// over every cell (and then one chain per source and day) missed the cache on each lookup.
	// Days outside the window (none in practice) go to far.
	slots       refSlots
	srcModels   [][]modelSlot       // per source slot: its models' slots
	nModelSlots int32               // (source, model) slots numbered so far
	heads       []int32             // per (source, model) slot and day: latest cell of the chain, +1
	far         map[sourceDay]int32 // heads outside the window
	next        []int32             // per cell: the previous cell of its chain, +1 (0 ends it)
	unpriced    unpricedSlab        // rare: tokens the catalog could not price, by cell.unpriced
	// unpricedOut are the unpriced tokens of the rows emitted, by CostRow.Unpriced - 1.
	unpricedOut []usage.Tokens

	fams       []uint32          // model id -> family id + 1 (0: not yet known)
	canons     map[uint32]uint32 // model id -> canonical id
	isKey      map[uint32]bool
	scopeOfKey map[uint32]uint32 // key id -> the scope the provider lists it under
	lastKey    uint32            // one-entry cache in front of scopeOfKey: bills come grouped by key
	// lastCell caches the fast path's index lookup for the next bill of the same cell.
	lastCellKey cellKey
	lastCell    int32
	lastCellOK  bool
	lastScope   uint32

	bills        []bill                  // the bills collectBills did not split at once
	billedRefs   refDays                 // sources with a bill that day
	keyFamBilled map[famDay]bool         // keys with a key-level bill for a family (0: any model) that day; built on first need
	keyBills     bool                    // some bill is at key grain
	billedTotal  map[refDay]ledger.Money // billed per provider and day, but the batch's own provider's
	billedDays   []billedDay             // which are by day of the window

	keyPool, scopePool *pool // cells beneath each key and each scope, built on first need

	rates        rates
	byModel      modelPricing           // the pricer, when it prices by model
	modelPricers []*catalog.ModelPricer // by model id, from byModel
	// scratch
	cand    []int32
	weights []int64
}

func newBatchComputer(f *Facts, b *usage.Batch, pricer Pricer, resolver *attribution.Resolver, sources map[usage.SourceRef]usage.SourceInfo, rows []CostRow) *batchComputer {
	n := len(b.Usage)
	bc := &batchComputer{
		f: f, b: b, pricer: pricer, resolver: resolver, sources: sources, in: newInterner(),
		cells: make([]cell, 0, n+n/16), rows: rows, slots: newRefSlots(f.Window), next: make([]int32, 0, n+n/16),
		canons: map[uint32]uint32{}, isKey: map[uint32]bool{}, scopeOfKey: map[uint32]uint32{},
		billedRefs: newRefDays(f.Window), billedTotal: map[refDay]ledger.Money{},
	}
	bc.rates.p = bc.in.id(string(b.Provider))
	bc.pid = b.Provider.ID()
	bc.byModel, _ = pricer.(modelPricing)
	return bc
}

func (bc *batchComputer) run() ([]CostRow, []Reconciliation, []usage.Tokens) {
	bc.collectUsage()
	if bc.f.consumable[bc.b] {
		// Read into cells and rows: the largest table but one is garbage from here on (345 MB
		// at 10,000 keys, while splitting the bills is the peak of a report).
		bc.b.Usage = nil
	}
	bc.collectBills()
	bc.splitBills()
	bc.priceEstimates()
	rows, recon := bc.emitRows()
	return rows, recon, bc.unpricedOut
}

// refSlots numbers the sources (interned ids) that index something per day, so per-day tables
// are dense arrays of slot × day instead of maps: a slot's days sit next to each other.
type refSlots struct {
	from usage.Day
	days int
	of   []int32 // interned id -> slot + 1
	n    int32
}

func newRefSlots(w usage.Window) refSlots { return refSlots{from: w.From, days: max(w.Days(), 1)} }

// slot returns ref's slot, numbering ref when new.
func (s *refSlots) slot(ref uint32) int {
	if int(ref) >= len(s.of) {
		s.of = append(s.of, make([]int32, int(ref)+1-len(s.of)+len(s.of)/2)...)
	}
	sl := s.of[ref]
	if sl == 0 {
		s.n++
		sl = s.n
		s.of[ref] = sl
	}
	return int(sl - 1)
}

// day returns d's offset in the window; false when d lies outside it.
func (s *refSlots) day(d usage.Day) (int, bool) {
	off := int(d - s.from)
	return off, d >= s.from && off < s.days
}

// index returns the table index of (ref, d), numbering ref when new; false when d lies outside
// the window.
func (s *refSlots) index(ref uint32, d usage.Day) (int, bool) {
	off, ok := s.day(d)
	if !ok {
		return 0, false
	}
	return s.slot(ref)*s.days + off, true
}

// size is the table length that holds every slot numbered so far.
func (s *refSlots) size() int { return int(s.n) * s.days }

// chain returns the index in heads of the chain of k's source, model and day (heads grown to
// hold it); false for a day outside the window, whose chain head is in far. A chain is mostly
// one cell (two only for two price classes or scopes of one key and model), so a lookup is one
// scan of the source's few models, which sit together, and one cell compared.
func (bc *batchComputer) chain(k *cellKey) (int, bool) {
	off, ok := bc.slots.day(k.d)
	if !ok {
		return 0, false
	}
	src := k.key
	if src == 0 {
		src = k.scope
	}
	s := bc.slots.slot(src)
	if s >= len(bc.srcModels) {
		bc.srcModels = append(bc.srcModels, make([][]modelSlot, s+1-len(bc.srcModels)+len(bc.srcModels)/2)...)
	}
	ms := bc.srcModels[s]
	sm := int32(-1)
	for _, e := range ms {
		if e.model == k.model {
			sm = e.slot
			break
		}
	}
	if sm < 0 {
		sm = bc.nModelSlots
		bc.nModelSlots++
		bc.srcModels[s] = append(ms, modelSlot{model: k.model, slot: sm})
		if n := int(bc.nModelSlots) * bc.slots.days; n > len(bc.heads) {
			bc.heads = append(bc.heads, make([]int32, n-len(bc.heads)+len(bc.heads)/2)...)
		}
	}
	return int(sm)*bc.slots.days + off, true
}

// modelSlot numbers one model of one source for the cell index.
type modelSlot struct {
	model uint32
	slot  int32
}

func (k *cellKey) sourceDay() sourceDay {
	return sourceDay{p: k.p, key: k.key, scope: k.scope, d: k.d}
}

// cellAt returns the cell of k, adding it (and its row) when new.
func (bc *batchComputer) cellAt(k cellKey) int32 {
	hi, inWindow := bc.chain(&k)
	var head int32
	if inWindow {
		head = bc.heads[hi]
	} else {
		head = bc.far[k.sourceDay()]
	}
	for j := head; j != 0; j = bc.next[j-1] {
		if bc.cells[j-1].is(&k) {
			return j - 1
		}
	}
	i := int32(len(bc.cells)) // #nosec G115 -- cells of one batch, far below 2^31
	bc.cells = append(bc.cells, cell{p: k.p, key: k.key, scope: k.scope, model: k.model, d: k.d, cls: k.cls})
	bc.next = append(bc.next, head)
	if inWindow {
		bc.heads[hi] = i + 1
	} else {
		if bc.far == nil {
			bc.far = map[sourceDay]int32{}
		}
		bc.far[k.sourceDay()] = i + 1
	}
	src := k.key
	if src == 0 {
		src = k.scope
	}
	// The buffer is zeroed: only the fields that are not zero are written.
	if len(bc.rows) < cap(bc.rows) {
		bc.rows = bc.rows[:len(bc.rows)+1]
	} else {
		bc.rows = append(bc.rows, CostRow{})
	}
	row := &bc.rows[i]
	row.Day, row.Source, row.Scope, row.Model = k.d, bc.in.sym(src), bc.in.sym(k.scope), bc.in.sym(k.model)
	row.Provider = bc.pid
	if k.p != bc.rates.p {
		row.Provider = usage.Provider(bc.in.str(k.p)).ID()
	}
	row.Tier = usage.ClassBits(k.cls & (classPriority | classFlex)) // the same bits

	return i
}

// sourceDay is the chain a cell is indexed under.
type sourceDay struct {
	p, key, scope uint32
	d             usage.Day
}

// lookup finds the cell of k without adding one.
func (bc *batchComputer) lookup(k cellKey) (int32, bool) {
	var head int32
	if hi, ok := bc.chain(&k); ok {
		head = bc.heads[hi]
	} else {
		head = bc.far[k.sourceDay()]
	}
	for j := head; j != 0; j = bc.next[j-1] {
		if bc.cells[j-1].is(&k) {
			return j - 1, true
		}
	}
	return 0, false
}

// family and canon return the ids of a model's family (dated snapshot suffix removed) and of its
// canonical spelling: bills and usage are matched on these, never on the raw text alone.
func (bc *batchComputer) family(p, model uint32) uint32 {
	if int(model) < len(bc.fams) && bc.fams[model] != 0 {
		return bc.fams[model] - 1
	}
	fam, _ := usage.ModelFamily(usage.Provider(bc.in.str(p)), bc.in.str(model))
	f := bc.in.id(fam)
	if int(model) >= len(bc.fams) {
		bc.fams = append(bc.fams, make([]uint32, len(bc.in.strs)-len(bc.fams))...)
	}
	bc.fams[model] = f + 1
	return f
}

// listedScope returns the project or workspace the provider lists a key under.
func (bc *batchComputer) listedScope(key uint32) uint32 {
	if bc.lastKey == key && key != 0 {
		return bc.lastScope
	}
	sc, ok := bc.scopeOfKey[key]
	if !ok {
		sc = bc.in.id(string(bc.sources[usage.SourceRef(bc.in.str(key))].Scope))
		bc.scopeOfKey[key] = sc
	}
	bc.lastKey, bc.lastScope = key, sc
	return sc
}

func (bc *batchComputer) canon(p, model uint32) uint32 {
	if c, ok := bc.canons[model]; ok {
		return c
	}
	c := bc.in.id(usage.CanonicalModel(usage.Provider(bc.in.str(p)), bc.in.str(model)))
	bc.canons[model] = c
	return c
}

func (bc *batchComputer) keyLevel(ref uint32) bool {
	kl, ok := bc.isKey[ref]
	if !ok {
		kl = isKeyRef(usage.SourceRef(bc.in.str(ref)))
		bc.isKey[ref] = kl
	}
	return kl
}

// unbilledTier reports usage the provider never bills through its cost endpoint: Anthropic's
// Priority Tier "will never appear in the cost endpoint", so it takes no share of standard bills
// and stays an estimate (provider-apis.md correction 7).
func (bc *batchComputer) unbilledTier(c *cell) bool {
	return c.cls&classPriority != 0 && bc.b.Provider == usage.Anthropic
}

// 1. Usage cells, catalog-priced per record, built in place in the caller's row buffer.
func (bc *batchComputer) collectUsage() {
	in := bc.in
	p := in.id(string(bc.b.Provider))
	for i := range bc.b.Usage {
		r := &bc.b.Usage[i]
		if !bc.f.Window.Contains(r.Day) {
			continue
		}
		rp := p
		if r.Provider != bc.pid {
			rp = in.id(string(r.Provider.Name()))
		}
		cls := class(0)
		if r.Tier != usage.TierStandard || r.Batch || r.LongContext || r.USOnly || r.Fast {
			cls = classOf(r.Class())
		}
		ci := bc.cellAt(cellKey{p: rp, key: in.ofSym(r.Key), scope: in.ofSym(r.Scope), model: in.ofSym(r.Model), d: r.Day, cls: cls})
		c, row := &bc.cells[ci], &bc.rows[ci]
		row.Tokens.Add(r.Tokens)
		row.Requests += r.Requests
		if r.HasBilled {
			row.Cost += r.Billed // the provider's own charge, until emitRows
			c.hasOwn = true
			continue
		}
		if cost, ok := bc.cost(rp, ci, r); ok {
			c.priced += cost
		} else {
			if row.Unpriced == 0 { // the batch's slab index, until emitRows
				row.Unpriced = bc.unpriced.add()
			}
			bc.unpriced.at(row.Unpriced).Add(r.Tokens)
		}
	}
}

// eachBill calls fn with each bill of a settled day in the window, in input order.
func (bc *batchComputer) eachBill(fn func(b *bill)) {
	in := bc.in
	lastSrc, lastKeyLevel := ^uint32(0), false // bills come grouped by source
	p := in.id(string(bc.b.Provider))
	b := new(bill) // one for every call of fn, which must not keep it
	for i := range bc.b.Costs {
		cr := &bc.b.Costs[i]
		if !bc.f.Window.Contains(cr.Day) || cr.Day >= bc.f.Today || cr.Amount == 0 {
			continue
		}
		bp := p
		if cr.Provider != bc.pid {
			bp = in.id(string(cr.Provider.Name()))
		}
		// The cost record's class bits are laid out as the engine's (TestClassBits_AreTheEngines).
		*b = bill{p: bp, source: in.ofSym(cr.Source), model: in.ofSym(cr.Model()), d: cr.Day,
			tt: cr.TokenType, cls: class(cr.Class), amount: cr.Amount}
		if cr.Quantity > 0 && cr.QuantityUnit() == usage.UnitTokens {
			b.qty = cr.Quantity
		}
		if b.model != 0 {
			b.fam = bc.family(bp, b.model)
		}
		if b.source != lastSrc {
			lastSrc, lastKeyLevel = b.source, bc.keyLevel(b.source)
		}
		b.keyLevel = lastKeyLevel
		fn(b)
	}
}

// cost prices r, a record of cell ci, with the pricer resolved once per model of the batch's
// provider when the pricer can (modelPricing).
func (bc *batchComputer) cost(p uint32, ci int32, r *usage.UsageRecord) (ledger.Money, bool) {
	if bc.byModel == nil || p != bc.rates.p {
		return bc.pricer.Cost(r)
	}
	m := bc.cells[ci].model
	if int(m) >= len(bc.modelPricers) {
		bc.modelPricers = append(bc.modelPricers, make([]*catalog.ModelPricer, int(m)+1-len(bc.modelPricers))...)
	}
	pr := bc.modelPricers[m]
	if pr == nil {
		v := bc.byModel.ModelPricer(bc.b.Provider, r.Model.String())
		pr = &v
		bc.modelPricers[m] = pr
	}
	return pr.Cost(r)
}

// billedDay is what the batch's provider billed on one day.
type billedDay struct {
	total ledger.Money
	seen  bool // a bill, even if the day's bills sum to zero
}

// 2. Bills for settled days, in input order: deterministic for deterministic input.
func (bc *batchComputer) collectBills() {
	lastRef := refDay{ref: ^uint32(0)}
	lastDay, dayTotal := refDay{ref: ^uint32(0)}, ledger.Money(0)
	p := bc.rates.p
	bc.billedDays = make([]billedDay, bc.slots.days)
	flush := func() {
		if lastDay.ref == 0 { // a day has been seen
			if off, ok := bc.slots.day(lastDay.d); ok && lastDay.p == p {
				bd := &bc.billedDays[off]
				bd.total += dayTotal
				bd.seen = true
			} else {
				bc.billedTotal[lastDay] += dayTotal
			}
		}
		dayTotal = 0
	}
	defer flush()
	bc.eachBill(func(b *bill) {
		// Bills come grouped by day and source: mark each source once per run.
		if rd := (refDay{p: b.p, ref: b.source, d: b.d}); rd != lastRef {
			bc.billedRefs.set(rd.ref, rd.d)
			lastRef = rd
		}
		bc.keyBills = bc.keyBills || b.keyLevel
		if b.d != lastDay.d || b.p != lastDay.p {
			flush()
			lastDay = refDay{p: b.p, d: b.d}
		}
		dayTotal += b.amount
		// A key's bill for one model and token type with its one cell beneath: split here (the
		// whole bill to that cell), so only the other bills are kept for splitBills. Shares add
		// and learned rates keep the latest day's sum, so the order of splitting does not matter.
		if i, ok := bc.exactCell(b); ok {
			bc.cells[i].share += b.amount
			bc.learn(b, bc.cells[i].cls, bc.rows[i].Tokens.Of(b.tt))
			return
		}
		bc.bills = append(bc.bills, *b)
	})
}

// exactCell finds the one cell a key's bill for one model and token type goes to: the key's
// usage of that model in the bill's class, with tokens of its type. Bills name a cell's token
// types one after another, so the last lookup is kept.
func (bc *batchComputer) exactCell(b *bill) (int32, bool) {
	if !b.keyLevel || b.model == 0 || b.tt == usage.TokenNone {
		return 0, false
	}
	k := cellKey{p: b.p, key: b.source, scope: bc.listedScope(b.source), model: b.model, d: b.d, cls: b.cls}
	i, ok := bc.lastCell, bc.lastCellOK && bc.lastCellKey == k
	if !ok {
		i, ok = bc.lookup(k)
		bc.lastCellKey, bc.lastCell, bc.lastCellOK = k, i, ok
	}
	if !ok {
		return 0, false
	}
	if c := &bc.cells[i]; c.hasOwn || bc.unbilledTier(c) || bc.rows[i].Tokens.Of(b.tt) <= 0 {
		return 0, false
	}
	return i, true
}

// pool indexes the cells beneath the sources of one grain (keys or scopes) that have bills: cell
// indices sorted by (source, day, model family), each (source, day) run found by its slot.
// Sorting once is far cheaper than a growing list per source and family.
type pool struct {
	p     uint32 // the batch's provider: bills of another find nothing
	slots *refSlots
	idx   []int32
	fams  []uint32 // the family of idx[i]
	runs  []int32  // per slot and day: where its run starts in idx; the run ends at the next
}

func (bc *batchComputer) pool(keyLevel bool) *pool {
	pp := &bc.scopePool
	if keyLevel {
		pp = &bc.keyPool
	}
	if *pp != nil {
		return *pp
	}
	refOf := func(c *cell) uint32 {
		if keyLevel {
			return c.key
		}
		return c.scope
	}
	// Two stable counting sorts, by family and then by slot-day, order the eligible cells by
	// (slot-day, family, cell index) in linear time, where a comparison sort of every entry cost
	// more than the splits it serves. A cell's slot-day (billedRefs only holds days of the
	// window, so each has one) and family are looked up again in each pass instead of kept:
	// beside millions of cells, a table of them would be the split's highest point.
	eligible := func(c *cell) (ref uint32, ok bool) {
		ref = refOf(c)
		return ref, ref != 0 && !c.hasOwn && !bc.unbilledTier(c) && bc.billedRefs.has(ref, c.d)
	}
	var slotCount, famCount []int32
	n := 0
	for i := range bc.cells {
		c := &bc.cells[i]
		ref, ok := eligible(c)
		if !ok {
			continue
		}
		si, _ := bc.slots.index(ref, c.d)
		f := bc.family(c.p, c.model)
		if si >= len(slotCount) {
			slotCount = append(slotCount, make([]int32, max(bc.slots.size(), si+1)-len(slotCount))...)
		}
		if int(f) >= len(famCount) {
			famCount = append(famCount, make([]int32, int(f)+1-len(famCount))...)
		}
		slotCount[si]++
		famCount[f]++
		n++
	}
	startsOf := func(counts []int32) {
		var at int32
		for k, n := range counts {
			counts[k] = at
			at += n
		}
	}
	// runs[s] is the start of slot-day s, runs[s+1] its end.
	runs := make([]int32, len(slotCount)+1)
	for s, n := range slotCount {
		runs[s+1] = runs[s] + n
	}
	startsOf(famCount)
	byFam := make([]int32, n)
	for i := range bc.cells {
		c := &bc.cells[i]
		if _, ok := eligible(c); ok {
			f := bc.family(c.p, c.model)
			byFam[famCount[f]] = int32(i) // #nosec G115 -- cells of one batch
			famCount[f]++
		}
	}
	startsOf(slotCount)
	pl := &pool{p: bc.in.id(string(bc.b.Provider)), slots: &bc.slots, idx: make([]int32, n), fams: make([]uint32, n), runs: runs}
	for _, i := range byFam {
		c := &bc.cells[i]
		si, _ := bc.slots.index(refOf(c), c.d)
		j := slotCount[si]
		slotCount[si]++
		pl.idx[j], pl.fams[j] = i, bc.family(c.p, c.model)
	}
	*pp = pl
	return pl
}

// beneath returns the cells beneath ref on d and, within them, those of family fam.
func (pl *pool) beneath(p, ref uint32, d usage.Day, fam uint32) (all, ofFam []int32) {
	if p != pl.p || int(ref) >= len(pl.slots.of) || pl.slots.of[ref] == 0 {
		return nil, nil
	}
	s, ok := pl.slots.index(ref, d)
	if !ok || s+1 >= len(pl.runs) {
		return nil, nil
	}
	r0, r1 := pl.runs[s], pl.runs[s+1]
	all = pl.idx[r0:r1]
	fams := pl.fams[r0:r1]
	lo, _ := slices.BinarySearch(fams, fam)
	hi := lo
	for hi < len(fams) && fams[hi] == fam {
		hi++
	}
	return all, all[lo:hi]
}

// eligible reports whether a cell beneath the bill's source may take a share of it: a scope's
// bill skips the keys the provider billed themselves for that model (or for everything).
func (bc *batchComputer) eligible(b *bill, c *cell) bool {
	if b.keyLevel || c.key == 0 || c.key == b.source || !bc.keyBills {
		return true
	}
	if bc.keyFamBilled == nil {
		// Only a provider that bills at both grains gets here, and only for its scopes' bills.
		// Read from the cost records again: collectBills kept only the bills it did not split.
		bc.keyFamBilled = map[famDay]bool{}
		bc.eachBill(func(b *bill) {
			if b.keyLevel {
				bc.keyFamBilled[famDay{p: b.p, ref: b.source, fam: b.fam, d: b.d}] = true
			}
		})
	}
	fam := bc.family(c.p, c.model)
	return !bc.keyFamBilled[famDay{p: c.p, ref: c.key, fam: fam, d: c.d}] && !bc.keyFamBilled[famDay{p: c.p, ref: c.key, d: c.d}]
}

// 3. Split each bill over the usage beneath it.
func (bc *batchComputer) splitBills() {
	for bi := range bc.bills {
		b := &bc.bills[bi]
		cand, match := bc.candidates(b)
		exact := match == matchExact
		if len(cand) == 0 {
			bc.ownRow(b)
			continue
		}
		if len(cand) == 1 && match != matchSource {
			// The common case: a key's bill for one model and token type, one cell beneath it.
			bc.cells[cand[0]].share += b.amount
			if b.tt != usage.TokenNone {
				bc.learn(b, bc.cells[cand[0]].cls, bc.rows[cand[0]].Tokens.Of(b.tt))
			}
			continue
		}
		bc.weights = bc.weights[:0]
		var sum int64
		byTokens := exact || b.tt != usage.TokenNone && bc.tokenWeighted(b, cand)
		for _, i := range cand {
			var w int64
			if byTokens {
				w = bc.rows[i].Tokens.Of(b.tt)
			} else {
				w = int64(bc.cells[i].priced)
				if w <= 0 {
					w = 0
				}
			}
			bc.weights = append(bc.weights, w)
			sum += w
		}
		if sum == 0 {
			for j, i := range cand {
				bc.weights[j] = bc.rows[i].Tokens.Total()
			}
		}
		parts := ledger.Split(b.amount, bc.weights)
		for j, i := range cand {
			if match == matchSource && b.model != 0 {
				// Booked under the bill's own model beside the usage it is spread over, so
				// per-model views show what the bill named; the usage cells stay billed.
				k := bc.cells[i].grain()
				k.model = b.model
				c := &bc.cells[bc.cellAt(k)]
				c.share += parts[j]
				c.billed = true
				continue
			}
			bc.cells[i].share += parts[j]
		}
		if byTokens && match != matchSource && b.tt != usage.TokenNone && sameClass(bc.cells, cand) {
			bc.learn(b, bc.cells[cand[0]].cls, sum)
		}
	}
	// Every cell beneath a billed source is paid for by the bills alone.
	for i := range bc.cells {
		c := &bc.cells[i]
		if c.hasOwn || bc.unbilledTier(c) {
			continue
		}
		if c.key != 0 && bc.billedRefs.has(c.key, c.d) || c.scope != 0 && bc.billedRefs.has(c.scope, c.d) {
			c.billed = true
		}
	}
}

// tokenWeighted reports whether some candidate has tokens of the bill's type, so the split can be
// by token count rather than by price.
func (bc *batchComputer) tokenWeighted(b *bill, cand []int32) bool {
	for _, i := range cand {
		if bc.rows[i].Tokens.Of(b.tt) > 0 {
			return true
		}
	}
	return false
}

// match says how a bill found the usage it splits over.
type match uint8

const (
	matchExact  match = iota // same model and class, tokens of the bill's type: split by count
	matchModel               // same model family, another class or no token type
	matchSource              // any usage beneath the billed source
)

// candidates returns the cells a bill splits over, narrowest match first: the same model (its
// exact id before its family) and price class with tokens of the bill's type; the same model in
// any class; then any usage beneath the source.
func (bc *batchComputer) candidates(b *bill) ([]int32, match) {
	// The scratch slice is reused: each result is consumed before the next call.
	cand := bc.cand[:0]
	defer func() { bc.cand = cand }()
	// A key's usage of one model in one class is one cell: found directly, no pool needed.
	if i, ok := bc.exactCell(b); ok {
		cand = append(cand, i)
		return cand, matchExact
	}
	all, fam := bc.pool(b.keyLevel).beneath(b.p, b.source, b.d, b.fam)
	if b.model != 0 {
		if b.tt != usage.TokenNone {
			canon := bc.canon(b.p, b.model)
			for _, exactID := range [...]bool{true, false} {
				for _, i := range fam {
					c := &bc.cells[i]
					if c.cls == b.cls && bc.eligible(b, c) && bc.rows[i].Tokens.Of(b.tt) > 0 && (!exactID || bc.canon(c.p, c.model) == canon) {
						cand = append(cand, i)
					}
				}
				if len(cand) > 0 {
					return cand, matchExact
				}
			}
		}
		for _, i := range fam {
			if bc.eligible(b, &bc.cells[i]) {
				cand = append(cand, i)
			}
		}
		if len(cand) > 0 {
			return cand, matchModel
		}
	}
	// The bill names no model, or one nobody beneath the source used (a tool billed per model,
	// a label Margin does not match): spread over the source's usage, never added on top.
	for _, i := range all {
		if bc.eligible(b, &bc.cells[i]) {
			cand = append(cand, i)
		}
	}
	return cand, matchSource
}

// ownRow books a bill with no usage beneath it on the billed source itself.
func (bc *batchComputer) ownRow(b *bill) {
	k := cellKey{p: b.p, d: b.d, model: b.model, cls: b.cls}
	if k.model == 0 {
		k.model = bc.in.id(OtherModel)
	}
	if b.keyLevel {
		k.key, k.scope = b.source, bc.listedScope(b.source)
	} else {
		k.scope = b.source
	}
	c := &bc.cells[bc.cellAt(k)]
	c.share += b.amount
	c.billed = true
}

// sameClass reports whether the cells share one price class.
func sameClass(cells []cell, cand []int32) bool {
	for _, i := range cand[1:] {
		if cells[i].cls != cells[cand[0]].cls {
			return false
		}
	}
	return true
}

// learn records the effective per-token price of a bill split by token count over usage of one
// model and price class (the usage's: a long-context line item lands on usage the provider does
// not split by context, and then carries its premium into the rate). The latest settled day
// wins, and bills of the same day add up.
func (bc *batchComputer) learn(b *bill, cls class, tokens int64) {
	if b.qty > 0 {
		// The bill's own quantity: exact even where two line items (say, with and without long
		// context) land on the same usage.
		tokens = b.qty
	}
	if tokens <= 0 || b.tt == usage.TokenNone {
		return
	}
	k := rateKey{p: b.p, fam: b.fam, cls: cls, tt: b.tt}
	r, ok := bc.rates.get(k)
	switch {
	case !ok || b.d > r.d:
		r = rate{d: b.d, amount: b.amount, tokens: tokens}
	case b.d == r.d:
		r.amount += b.amount
		r.tokens += tokens
	default:
		return
	}
	bc.rates.set(k, r)
}

// 4. Estimates for usage no bill covers: priced at the effective rates of the latest settled
// bills for the same model, class and token type (they carry discounts and premiums), else at
// the catalog's list price; tokens neither can price are unpriced, never free.
func (bc *batchComputer) priceEstimates() {
	for i := range bc.cells {
		c := &bc.cells[i]
		if c.billed || c.hasOwn {
			continue
		}
		row := &bc.rows[i]
		if bc.rates.n > 0 {
			if cost, ok := bc.learnedCost(c, &row.Tokens); ok {
				c.priced = cost
				row.PriceSource = PriceLearned
				row.Unpriced = 0
				continue
			}
		}
		switch {
		case row.Unpriced == 0:
			row.PriceSource = PriceCatalog
		case c.priced != 0:
			row.PriceSource = PriceCatalog // partly: the rest is in Unpriced
		default:
			row.PriceSource = PriceUnpriced
		}
	}
}

// learnedCost prices every token class of t at a learned rate; false when one has none.
func (bc *batchComputer) learnedCost(c *cell, t *usage.Tokens) (ledger.Money, bool) {
	fam := bc.family(c.p, c.model)
	var sum ledger.Money
	any := false
	for _, tt := range usage.BilledTokenTypes {
		n := t.Of(tt)
		if n == 0 {
			continue
		}
		r, ok := bc.rates.get(rateKey{p: c.p, fam: fam, cls: c.cls, tt: tt})
		if !ok {
			return 0, false
		}
		v, err := ledger.MulDiv(n, int64(r.amount), r.tokens)
		if err != nil {
			return 0, false
		}
		sum += ledger.Money(v)
		any = true
	}
	return sum, any
}

// 5. Attribute, reconcile and emit rows, filtered in place.
func (bc *batchComputer) emitRows() ([]CostRow, []Reconciliation) {
	// A resolution as the rows name it: customer and feature interned process-wide.
	type symRes struct{ customer, feature usage.Sym }
	resolved := map[[2]uint32]symRes{}
	recon := map[refDay]*Reconciliation{}
	// The batch's own provider by day of the window: every row adds to one, so an array.
	p := bc.in.id(string(bc.b.Provider))
	from, days := bc.f.Window.From, max(bc.f.Window.Days(), 1)
	byDay := make([]*Reconciliation, days)
	reconOf := func(k refDay, provider usage.Provider) *Reconciliation {
		off := int(k.d - from)
		inWindow := k.p == p && k.d >= from && off < days
		if inWindow && byDay[off] != nil {
			return byDay[off]
		}
		rc := recon[k]
		if rc == nil {
			rc = &Reconciliation{Provider: provider, Day: k.d}
			recon[k] = rc
		}
		if inWindow {
			byDay[off] = rc
		}
		return rc
	}
	out := bc.rows[:0]
	var lastPair [2]uint32
	var lastRes symRes
	havePair := false
	var lastRK refDay
	var lastRC *Reconciliation
	for i := range bc.cells {
		c := &bc.cells[i]
		row := &bc.rows[i] // finished in place, then moved down over the rows filtered out
		// Tokens nothing can price were still paid for through a bill.
		own, slab := row.Cost, row.Unpriced
		row.Unpriced = 0
		unpriced := slab != 0 && !c.billed
		switch {
		case c.billed:
			row.Cost, row.PriceSource = c.share, PriceBill
		case c.hasOwn:
			row.Cost, row.PriceSource = own, PriceProvider
		default:
			row.Cost, row.Estimated = c.priced, true
		}
		if row.Cost == 0 && row.Tokens.Total() == 0 && row.Requests == 0 {
			continue
		}
		// A source's cells are mostly neighbours: one-entry caches in front of both maps.
		if pair := [2]uint32{c.key, c.scope}; !havePair || pair != lastPair {
			r, ok := resolved[pair]
			if !ok {
				a := bc.resolver.Resolve(usage.SourceRef(bc.in.str(c.key)), usage.SourceRef(bc.in.str(c.scope)))
				r = symRes{usage.Intern(a.Customer), usage.Intern(a.Feature)}
				resolved[pair] = r
			}
			lastPair, lastRes, havePair = pair, r, true
		}
		row.Customer, row.Feature = lastRes.customer, lastRes.feature

		rk := refDay{p: c.p, d: c.d}
		if lastRC == nil || rk != lastRK {
			lastRC, lastRK = reconOf(rk, row.Provider.Name()), rk
		}
		rc := lastRC
		if unpriced {
			if bc.unpricedOut == nil {
				bc.unpricedOut = make([]usage.Tokens, 0, bc.unpriced.n)
			}
			t := bc.unpriced.at(slab)
			rc.UnpricedTokens += t.Total()
			bc.unpricedOut = append(bc.unpricedOut, *t)
			row.Unpriced = int32(len(bc.unpricedOut)) // #nosec G115 -- rows of one batch
		}
		switch {
		case row.Estimated:
			rc.Estimated += row.Cost
			if row.PriceSource == PriceLearned {
				rc.EstimatedLearned += row.Cost
			} else {
				rc.EstimatedCatalog += row.Cost
			}
		case row.Customer == usage.NoSym:
			rc.Unattributed += row.Cost
		default:
			rc.Attributed += row.Cost
		}
		if c.hasOwn {
			rc.Billed += own
		}
		if k := len(out); k != i {
			bc.rows[k] = *row
		}
		out = out[:len(out)+1]
	}
	for off, bd := range bc.billedDays {
		if bd.seen {
			reconOf(refDay{p: p, d: from + usage.Day(off)}, bc.b.Provider).Billed += bd.total // #nosec G115 -- a day of the window
		}
	}
	for k, total := range bc.billedTotal {
		reconOf(k, usage.Provider(bc.in.str(k.p))).Billed += total
	}
	clear(bc.rows[len(out):]) // the rows filtered out, so the buffer holds nothing stale
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

// within returns views of res over the windows a and b, whose union must be res.Window: the
// rows are partitioned in place (days only in a, in both, only in b), so both views share them
// and one Compute over the union serves both (Report: the report's days and the forecast's
// month) without a second result of a few hundred bytes a row. res's rows are reordered.
func (res *Result) within(a, b usage.Window) (*Result, *Result) {
	rank := func(d usage.Day) int {
		switch inA, inB := a.Contains(d), b.Contains(d); {
		case inA && !inB:
			return 0
		case inA && inB:
			return 1
		case inB:
			return 2
		}
		return 3
	}
	rows := res.Rows
	// Counting the ranks, then cycling each row to its rank's region: O(n) swaps, no copy.
	var count [4]int
	for i := range rows {
		count[rank(rows[i].Day)]++
	}
	var start, next [4]int
	for r := 1; r < 4; r++ {
		start[r] = start[r-1] + count[r-1]
	}
	next = start
	for r := range 4 {
		end := start[r] + count[r]
		for next[r] < end {
			i := next[r]
			if k := rank(rows[i].Day); k != r {
				j := next[k]
				rows[i], rows[j] = rows[j], rows[i]
				next[k]++
				continue
			}
			next[r]++
		}
	}
	view := func(w usage.Window, from, to int) *Result {
		v := *res
		v.Window, v.Rows = w, rows[from:to:to]
		v.Revenue = slices.DeleteFunc(slices.Clone(res.Revenue), func(d DailyRevenue) bool { return !w.Contains(d.Day) })
		v.Reconciliation = slices.DeleteFunc(slices.Clone(res.Reconciliation), func(r Reconciliation) bool { return !w.Contains(r.Day) })
		return &v
	}
	return view(a, 0, start[2]), view(b, start[1], start[3])
}
