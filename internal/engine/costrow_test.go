package engine

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/marginhq/margin/internal/usage"
)

// A result holds one CostRow per cell, millions at 10,000 keys: the row stays small and holds no
// pointer, so the row array is allocated as memory the garbage collector never scans.
func TestCostRow_CompactAndPointerFree(t *testing.T) {
	if size := unsafe.Sizeof(CostRow{}); size > 112 {
		t.Errorf("CostRow is %d bytes, want at most 112", size)
	}
	if path, ok := pointerIn(reflect.TypeFor[CostRow](), "CostRow"); ok {
		t.Errorf("CostRow holds a pointer: %s", path)
	}
	// The walk itself finds what it must.
	for _, typ := range []reflect.Type{reflect.TypeFor[struct{ A [2]struct{ S string } }](), reflect.TypeFor[struct{ T *usage.Tokens }](), reflect.TypeFor[[]int](), reflect.TypeFor[map[int]int](), reflect.TypeFor[any]()} {
		if _, ok := pointerIn(typ, typ.String()); !ok {
			t.Errorf("pointerIn misses the pointer in %s", typ)
		}
	}
	if usage.NoSym.String() != "" || usage.Intern("") != usage.NoSym {
		t.Error(`the Sym 0 is not "": unattributed rows would name a customer`)
	}
}

// pointerIn returns the path of a field of typ the garbage collector would follow.
func pointerIn(typ reflect.Type, path string) (string, bool) {
	switch typ.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return path + " (" + typ.String() + ")", true
	case reflect.Array:
		if typ.Len() > 0 {
			return pointerIn(typ.Elem(), path+"[0]")
		}
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p, ok := pointerIn(f.Type, path+"."+f.Name); ok {
				return p, true
			}
		}
	}
	return "", false
}

// The engine's class and usage.ClassBits are the same bits: the cost records' classes and the
// rows' tiers convert without unpacking.
func TestClassBits_AreTheEngines(t *testing.T) {
	for _, tier := range []usage.Tier{usage.TierStandard, usage.TierPriority, usage.TierFlex} {
		for flags := range 16 {
			pc := usage.PriceClass{Tier: tier, Batch: flags&1 != 0, LongContext: flags&2 != 0, USOnly: flags&4 != 0, Fast: flags&8 != 0}
			if got, want := class(pc.Bits()), classOf(pc); got != want {
				t.Errorf("%+v: ClassBits %08b, the engine's class %08b", pc, got, want)
			}
			if got := classOf(pc).priceClass(); got != pc {
				t.Errorf("%+v unpacks as %+v", pc, got)
			}
			row := CostRow{Tier: usage.ClassBits(classOf(pc) & (classPriority | classFlex))}
			if row.ServiceTier() != tier {
				t.Errorf("%+v: the row's tier is %q", pc, row.ServiceTier())
			}
		}
	}
}

// The providers' records are the fetch's largest tables (3.5 million usage and 10 million cost
// records at 10,000 keys): they hold no pointer either, so the collector, which runs more often
// while a large fetch is read (internal/gcpolicy), marks them without scanning them.
func TestFactRecords_CompactAndPointerFree(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		size uintptr
	}{{reflect.TypeFor[usage.UsageRecord](), 104}, {reflect.TypeFor[usage.CostRecord](), 32}} {
		if c.typ.Size() > c.size {
			t.Errorf("%s is %d bytes, want at most %d", c.typ, c.typ.Size(), c.size)
		}
		if path, ok := pointerIn(c.typ, c.typ.Name()); ok {
			t.Errorf("%s holds a pointer: %s", c.typ, path)
		}
	}
}

// A cell sits beside every row while a batch computes (millions at 10,000 keys): its size is
// part of Compute's highest point.
func TestCell_Compact(t *testing.T) {
	if got := unsafe.Sizeof(cell{}); got != 40 {
		t.Fatalf("cell is %d bytes, want 40", got)
	}
}
