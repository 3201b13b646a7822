// Package sortby sorts slices of structs with one copy of the sorting code for every element
// type. slices.SortFunc instantiates pdqsort's dozen functions for each struct shape it sorts
// (10–30 KB of code and line tables each), and every Margin binary sorts some twenty: 0.3 MB of
// binary that the exporter keeps mapped at rest, as the kernel maps a binary 64 KB at a time.
// Here a struct slice is sorted through an index permutation: the []int32 of positions is what
// slices.SortFunc sorts (one instantiation, shared), and the elements move once, in place.
// Hot paths that sort large slices of small values keep slices.SortFunc.
package sortby

import (
	"cmp"
	"math"
	"slices"
)

// Func sorts x in ascending order as cmp decides, like slices.SortFunc; the order of equal
// elements is not kept.
func Func[S ~[]E, E any](x S, cmp func(a, b E) int) {
	sort(x, func(i, j int32) int { return cmp(x[i], x[j]) })
}

// StableFunc is Func keeping the order of equal elements, like slices.SortStableFunc.
func StableFunc[S ~[]E, E any](x S, by func(a, b E) int) {
	sort(x, func(i, j int32) int { return cmp.Or(by(x[i], x[j]), cmp.Compare(i, j)) })
}

// sort orders x by the positions' comparison and moves each element once.
func sort[S ~[]E, E any](x S, byPos func(i, j int32) int) {
	if len(x) < 2 {
		return
	}
	if len(x) > math.MaxInt32 {
		panic("sortby: more elements than an int32 can index")
	}
	pos := make([]int32, len(x))
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortFunc(pos, byPos)
	// x[i] must become the element now at pos[i]: follow each cycle of the permutation once,
	// marking a done position by pointing it at itself.
	for i := range pos {
		if pos[i] == int32(i) {
			continue
		}
		held := x[i]
		j := i
		for {
			k := int(pos[j])
			pos[j] = int32(j)
			if k == i {
				x[j] = held
				break
			}
			x[j] = x[k]
			j = k
		}
	}
}
