package sortby

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

type row struct {
	Day            int32
	Provider, Name string
	Seq            int // the element's place before sorting: tells equal elements apart
}

func byDayProvider(a, b row) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Provider, b.Provider))
}

// genRows has many equal keys, so stability and the permutation's cycles are both exercised.
func genRows(r *rand.Rand, n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{Day: r.Int32N(5), Provider: []string{"openai", "anthropic", "openrouter"}[r.IntN(3)],
			Name: string(rune('a' + r.IntN(26))), Seq: i}
	}
	return out
}

// Over generated slices StableFunc gives exactly slices.SortStableFunc's order, and Func gives a
// sorted permutation of its input (the same multiset, in an order cmp accepts).
func TestSort_IsTheSlicesPackagesOrderOnGeneratedSlices(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 500; round++ {
		in := genRows(r, r.IntN(300))
		stable := slices.Clone(in)
		StableFunc(stable, byDayProvider)
		want := slices.Clone(in)
		slices.SortStableFunc(want, byDayProvider)
		if !slices.Equal(stable, want) {
			t.Fatalf("round %d: StableFunc\n%v\nwant slices.SortStableFunc's\n%v", round, stable, want)
		}

		unstable := slices.Clone(in)
		Func(unstable, byDayProvider)
		if !slices.IsSortedFunc(unstable, byDayProvider) {
			t.Fatalf("round %d: Func left %v unsorted", round, unstable)
		}
		seen := make([]bool, len(in))
		for _, e := range unstable {
			if seen[e.Seq] || in[e.Seq] != e {
				t.Fatalf("round %d: Func's result is not a permutation of its input: %v", round, unstable)
			}
			seen[e.Seq] = true
		}
	}
}

func BenchmarkSort(b *testing.B) {
	in := genRows(rand.New(rand.NewPCG(3, 4)), 100_000)
	x := make([]row, len(in))
	b.Run("sortby.Func", func(b *testing.B) {
		for b.Loop() {
			copy(x, in)
			Func(x, byDayProvider)
		}
	})
	b.Run("slices.SortFunc", func(b *testing.B) {
		for b.Loop() {
			copy(x, in)
			slices.SortFunc(x, byDayProvider)
		}
	})
}
