package openai

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

// The records sort as the texts they name compare, whether the fields pack into one integer or
// are compared one by one (packedBits narrowed), over generated records in random order.
func TestSortRecords_MatchStringOrder(t *testing.T) {
	for _, width := range []uint{64, 12} {
		t.Run(fmt.Sprint("bits=", width), func(t *testing.T) {
			defer func(b uint) { packedBits = b }(packedBits)
			packedBits = width
			rng := rand.New(rand.NewPCG(7, uint64(width)))
			texts := make([]usage.Sym, 40)
			for i := range texts {
				texts[i] = usage.Intern(fmt.Sprintf("order-test-%x", rng.Uint64()))
			}
			texts[0] = usage.NoSym
			pick := func() usage.Sym { return texts[rng.IntN(len(texts))] }
			for n := range 60 {
				costs := make([]usage.CostRecord, 0, n)
				seen := map[[3]int64]bool{}
				for len(costs) < n {
					r := usage.CostRecord{Day: usage.Day(20000 + rng.IntN(5)), Source: pick(), Item: usage.LineItemOf(usage.NoSym, pick(), usage.NoSym), Amount: 1}
					if k := [3]int64{int64(r.Day), int64(r.Source), int64(r.Description())}; !seen[k] {
						seen[k] = true
						costs = append(costs, r)
					}
				}
				want := slices.Clone(costs)
				slices.SortFunc(want, func(a, b usage.CostRecord) int {
					return cmp.Or(cmp.Compare(a.Day, b.Day), strings.Compare(a.Source.String(), b.Source.String()),
						strings.Compare(a.Description().String(), b.Description().String()))
				})
				sortCosts(costs)
				if !slices.Equal(costs, want) {
					t.Fatalf("costs, n=%d: got %v, want %v", n, costs, want)
				}

				var recs []usage.UsageRecord
				var ids []usageKey
				tiers := []usage.Tier{usage.TierStandard, usage.TierPriority, usage.TierFlex} // by tierRank
				seenU := map[usageKey]usage.Day{}
				for len(recs) < n {
					k := usageKey{key: pick(), scope: pick(), model: pick(), batch: rng.IntN(2) == 1, tier: uint8(rng.IntN(3))}
					day := usage.Day(20000 + rng.IntN(5))
					if d, ok := seenU[k]; ok && d == day {
						continue
					}
					seenU[k] = day
					recs = append(recs, usage.UsageRecord{Day: day, Key: k.key, Scope: k.scope, Model: k.model, Batch: k.batch, Tier: tiers[k.tier], Requests: int64(len(recs))})
					ids = append(ids, k)
				}
				type pair struct {
					r usage.UsageRecord
					k usageKey
				}
				ps := make([]pair, len(recs))
				for i := range recs {
					ps[i] = pair{recs[i], ids[i]}
				}
				slices.SortFunc(ps, func(a, b pair) int {
					return cmp.Or(cmp.Compare(a.r.Day, b.r.Day), strings.Compare(a.k.scope.String(), b.k.scope.String()),
						strings.Compare(a.k.key.String(), b.k.key.String()), strings.Compare(a.k.model.String(), b.k.model.String()),
						cmp.Compare(b2i(a.k.batch), b2i(b.k.batch)), cmp.Compare(a.k.tier, b.k.tier))
				})
				sortUsage(recs)
				for i := range ps {
					if recs[i] != ps[i].r {
						t.Fatalf("usage, n=%d: record %d is %+v, want %+v", n, i, recs[i], ps[i].r)
					}
				}
			}
		})
	}
}

// Fields that do not fit beside the index say so, rather than losing bits.
func TestPackedKeys_RefusesWhatDoesNotFit(t *testing.T) {
	p := newPackedKeys(1 << 20) // 21 index bits
	p.field(1<<40, func(int) int { return 0 })
	if !p.ok {
		t.Fatal("40 + 21 bits refused")
	}
	p.field(1<<4, func(int) int { return 0 })
	if p.ok {
		t.Fatal("40 + 4 + 21 bits accepted")
	}
}
