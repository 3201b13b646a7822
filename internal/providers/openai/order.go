package openai

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/marginhq/margin/internal/usage"
)

// symRanks ranks the distinct texts of one field by their string order: rank[s] for each Sym s
// the field holds. Ranks compare as the texts do, so records sort by small integers.
type symRanks struct {
	rank  []int32 // by Sym; -1 when the field does not hold it
	texts []usage.Sym
}

// add records that the field holds s.
func (r *symRanks) add(s usage.Sym) {
	if int(s) >= len(r.rank) {
		n := len(r.rank)
		r.rank = slices.Grow(r.rank, int(s)+1-n)[:int(s)+1]
		for i := n; i < len(r.rank); i++ {
			r.rank[i] = -1
		}
	}
	if r.rank[s] < 0 {
		r.rank[s] = 0
		r.texts = append(r.texts, s)
	}
}

// done assigns the ranks; it returns how many distinct texts there are.
func (r *symRanks) done() int {
	slices.SortFunc(r.texts, func(a, b usage.Sym) int { return strings.Compare(a.String(), b.String()) })
	for i, s := range r.texts {
		r.rank[s] = int32(i) // #nosec G115 -- distinct texts of one fetch
	}
	return len(r.texts)
}

// packedKeys sorts records by integer fields packed into one uint64 each, the record's index in
// the low bits: one slices.Sort over contiguous integers, where a comparison function would chase
// every field through the records and rank tables. ok is false when the fields and the index do
// not fit in 64 bits; the caller then sorts another way.
type packedKeys struct {
	keys    []uint64
	used    uint // bits taken by the fields so far
	idxBits uint
	ok      bool
}

// packedBits is the width keys are packed into; tests narrow it to reach the fallback.
var packedBits uint = 64

func newPackedKeys(n int) *packedKeys {
	return &packedKeys{keys: make([]uint64, n), idxBits: uint(bits.Len(uint(n))), ok: true} // #nosec G115 -- a length
}

// field adds a field, less significant than those added before, of values below bound.
func (p *packedKeys) field(bound int, value func(i int) int) {
	w := uint(bits.Len(uint(max(bound-1, 0)))) // #nosec G115 -- a count
	if !p.ok || p.used+w+p.idxBits > packedBits {
		p.ok = false
		return
	}
	p.used += w
	for i := range p.keys {
		p.keys[i] = p.keys[i]<<w | uint64(value(i)) // #nosec G115 -- 0 <= value < bound
	}
}

// order returns the permutation that sorts the records (order[i] is the record that goes to i),
// or nil when they are sorted already. It is the keys' own array, which it consumes: at 10
// million cost records a second one would be 40 MB more at the fetch's peak.
func (p *packedKeys) order() []uint64 {
	sorted := true
	for i := range p.keys {
		p.keys[i] = p.keys[i]<<p.idxBits | uint64(i) // #nosec G115 -- an index
		sorted = sorted && (i == 0 || p.keys[i-1] <= p.keys[i])
	}
	if sorted {
		return nil
	}
	slices.Sort(p.keys)
	mask := uint64(1)<<p.idxBits - 1
	for i := range p.keys {
		p.keys[i] &= mask
	}
	return p.keys
}
