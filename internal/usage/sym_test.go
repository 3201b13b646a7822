package usage

import (
	"fmt"
	"sync"
	"testing"
)

// Interning is a bijection between texts and Syms, from any number of goroutines at once.
func TestIntern_SameTextSameSymFromManyGoroutines(t *testing.T) {
	const n = 2000
	got := make([][]Sym, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			local := Syms{}
			for i := range n {
				s := fmt.Sprintf("openai:api_key:key_%d", (i*7+g)%n)
				if g%2 == 0 {
					got[g] = append(got[g], Intern(s))
				} else {
					got[g] = append(got[g], local.Of(s))
				}
			}
		})
	}
	wg.Wait()
	seen := map[Sym]string{}
	for g := range got {
		for i, s := range got[g] {
			want := fmt.Sprintf("openai:api_key:key_%d", (i*7+g)%n)
			if s.String() != want || s.Ref() != SourceRef(want) {
				t.Fatalf("goroutine %d: Sym %d reads %q, want %q", g, s, s.String(), want)
			}
			if other, ok := seen[s]; ok && other != want {
				t.Fatalf("Sym %d is both %q and %q", s, other, want)
			}
			seen[s] = want
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct Syms for %d texts", len(seen), n)
	}
	if Intern("") != NoSym || NoSym.String() != "" {
		t.Errorf("the empty text is not NoSym")
	}
}

// Packing a price class loses nothing Margin prices by.
func TestClassBits_RoundTrip(t *testing.T) {
	for _, tier := range []Tier{TierStandard, TierPriority, TierFlex} {
		for bits := range 16 {
			pc := PriceClass{Tier: tier, Batch: bits&1 != 0, LongContext: bits&2 != 0, USOnly: bits&4 != 0, Fast: bits&8 != 0}
			if got := pc.Bits().PriceClass(); got != pc {
				t.Errorf("%+v packs and unpacks to %+v", pc, got)
			}
		}
	}
}

// A line item is interned once per distinct model, text and unit, and gives each back.
func TestLineItemOf_InternsEachCombinationOnce(t *testing.T) {
	model, desc := Intern("gpt-4.1-2025-04-14"), Intern("gpt-4.1-2025-04-14, input")
	a := LineItemOf(model, desc, NoSym)
	if b := LineItemOf(model, desc, NoSym); b != a {
		t.Fatalf("the same line item interned twice: %d, %d", a, b)
	}
	tok := LineItemOf(model, desc, UnitTokens)
	if tok == a || LineItemOf(model, desc, UnitTokens) != tok {
		t.Fatalf("LineItemOf with tokens = %d, without %d: want one id per unit", tok, a)
	}
	if tok.Model() != model || tok.Description() != desc || tok.QuantityUnit() != UnitTokens || a.QuantityUnit() != NoSym {
		t.Fatalf("line item %d reads back (%v, %v, %v)", tok, tok.Model(), tok.Description(), tok.QuantityUnit())
	}
	if NoLineItem.Model() != NoSym || NoLineItem.Description() != NoSym || LineItemOf(NoSym, NoSym, NoSym) != NoLineItem {
		t.Fatal("the empty line item is not NoLineItem")
	}
	cache := LineItems{}
	for range 2 {
		if got := cache.Of(model, desc, UnitTokens); got != tok || len(cache) != 1 {
			t.Fatalf("LineItems cache gave %d, want %d; cache %v", got, tok, cache)
		}
	}
	r := CostRecord{Item: tok}
	if r.Model() != model || r.Description() != desc || r.QuantityUnit() != UnitTokens {
		t.Fatal("CostRecord does not read its line item")
	}
}
