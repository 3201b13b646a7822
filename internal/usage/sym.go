package usage

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Sym is a string interned in one process-wide table. The cost records of a large organisation
// run to millions, and each names the same few thousand sources, models and line items: as a Sym
// a name is 4 bytes and no pointer, where a string is a 16-byte header the garbage collector
// follows. The table only grows, by one entry per distinct name ever seen (ids, model names, line
// items), which stays small beside the records that name them.
type Sym uint32

// NoSym is the interned empty string.
const NoSym Sym = 0

type symTable struct {
	mu   sync.Mutex
	ids  map[string]Sym
	strs atomic.Pointer[[]string] // read without a lock: entries never change once published
}

// symtab is made by its initializer, not init, so package variables can intern (UnitTokens).
var symtab = func() *symTable {
	t := &symTable{ids: map[string]Sym{"": NoSym}}
	strs := []string{""}
	t.strs.Store(&strs)
	return t
}()

// Intern returns the Sym of s, adding s to the table the first time.
func Intern(s string) Sym {
	symtab.mu.Lock()
	defer symtab.mu.Unlock()
	if id, ok := symtab.ids[s]; ok {
		return id
	}
	strs := *symtab.strs.Load()
	id := Sym(len(strs)) // #nosec G115 -- distinct names of one process, far below 2^32
	// An append within capacity writes past every published length, so readers of the old
	// slice never see the write.
	strs = append(strs, s)
	symtab.strs.Store(&strs)
	symtab.ids[s] = id
	return id
}

// InternRef interns a source reference.
func InternRef(r SourceRef) Sym { return Intern(string(r)) }

// String returns the interned text.
func (s Sym) String() string { return (*symtab.strs.Load())[s] }

// Ref returns the interned text as a source reference.
func (s Sym) Ref() SourceRef { return SourceRef(s.String()) }

// Syms interns for one caller without the table's lock: a cache of the texts it has seen.
type Syms map[string]Sym

// Of returns the Sym of s.
func (c Syms) Of(s string) Sym {
	if id, ok := c[s]; ok {
		return id
	}
	id := Intern(s)
	c[s] = id
	return id
}

// LineItem is what a bill line names beside its amount: its model, the provider's own text and
// the unit of its quantity, interned together in one process-wide table as Sym is. Folding the
// three into one id keeps CostRecord at 32 bytes; the table grows by one entry per distinct
// combination ever seen.
type LineItem uint32

// NoLineItem names no model, text or unit.
const NoLineItem LineItem = 0

type lineItem struct{ model, description, unit Sym }

type lineItemTable struct {
	mu    sync.Mutex
	ids   map[lineItem]LineItem
	items atomic.Pointer[[]lineItem] // read without a lock, as symTable.strs
}

var lineItems = func() *lineItemTable {
	t := &lineItemTable{ids: map[lineItem]LineItem{{}: NoLineItem}}
	items := []lineItem{{}}
	t.items.Store(&items)
	return t
}()

// LineItemOf returns the LineItem of a model, line-item text and quantity unit, adding it the
// first time.
func LineItemOf(model, description, unit Sym) LineItem {
	k := lineItem{model, description, unit}
	lineItems.mu.Lock()
	defer lineItems.mu.Unlock()
	if id, ok := lineItems.ids[k]; ok {
		return id
	}
	items := *lineItems.items.Load()
	id := LineItem(len(items)) // #nosec G115 -- distinct line items of one process, far below 2^32
	items = append(items, k)   // past every published length, as in Intern
	lineItems.items.Store(&items)
	lineItems.ids[k] = id
	return id
}

func (l LineItem) item() lineItem { return (*lineItems.items.Load())[l] }

// Model is the model the line item is for; NoSym when it names none.
func (l LineItem) Model() Sym { return l.item().model }

// Description is the provider's own text of the line item.
func (l LineItem) Description() Sym { return l.item().description }

// QuantityUnit is the unit the line item's quantity is in; NoSym when it has none.
func (l LineItem) QuantityUnit() Sym { return l.item().unit }

// LineItems interns line items for one caller without the table's lock, as Syms does names.
type LineItems map[lineItem]LineItem

// Of returns the LineItem of model, description and unit.
func (c LineItems) Of(model, description, unit Sym) LineItem {
	k := lineItem{model, description, unit}
	if id, ok := c[k]; ok {
		return id
	}
	id := LineItemOf(model, description, unit)
	c[k] = id
	return id
}

// ProviderID is a Provider in one byte, for records held by the million: their batch already
// says which provider they come from, and a string would take 16 bytes of each.
type ProviderID uint8

// ID returns the provider's byte; 0 for a name that is not one of Providers.
func (p Provider) ID() ProviderID {
	for i, q := range Providers {
		if q == p {
			return ProviderID(i + 1) // #nosec G115 -- three providers
		}
	}
	return 0
}

// Name returns the provider the byte stands for, or "" for 0.
func (id ProviderID) Name() Provider {
	if id == 0 || int(id) > len(Providers) {
		return ""
	}
	return Providers[id-1]
}

// String prints the provider's name.
func (id ProviderID) String() string { return string(id.Name()) }

// ClassBits is a PriceClass packed into a byte, for records held by the million.
type ClassBits uint8

const (
	classPriority ClassBits = 1 << iota
	classFlex
	classBatch
	classLongContext
	classUSOnly
	classFast
)

// Bits packs the class; ClassBits.PriceClass unpacks it (tiers other than priority and flex
// are standard, as ParseTier makes them).
func (pc PriceClass) Bits() ClassBits {
	var c ClassBits
	switch pc.Tier {
	case TierPriority:
		c |= classPriority
	case TierFlex:
		c |= classFlex
	}
	for _, f := range [...]struct {
		on  bool
		bit ClassBits
	}{{pc.Batch, classBatch}, {pc.LongContext, classLongContext}, {pc.USOnly, classUSOnly}, {pc.Fast, classFast}} {
		if f.on {
			c |= f.bit
		}
	}
	return c
}

// PriceClass unpacks the class.
func (c ClassBits) PriceClass() PriceClass {
	pc := PriceClass{Batch: c&classBatch != 0, LongContext: c&classLongContext != 0, USOnly: c&classUSOnly != 0, Fast: c&classFast != 0}
	switch {
	case c&classPriority != 0:
		pc.Tier = TierPriority
	case c&classFlex != 0:
		pc.Tier = TierFlex
	}
	return pc
}

// String prints the unpacked class.
func (c ClassBits) String() string { return fmt.Sprintf("%+v", c.PriceClass()) }
