package ledger

import (
	"cmp"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		total   Money
		weights []int64
		want    []Money
	}{
		{"proportional", 100, []int64{1, 3}, []Money{25, 75}},
		{"largest remainder gets the leftover", 100, []int64{1, 2}, []Money{33, 67}},
		{"ties go to the earlier index", 10, []int64{1, 1, 1}, []Money{4, 3, 3}},
		{"two leftovers", 11, []int64{1, 1, 1}, []Money{4, 4, 3}},
		{"negative total mirrors", -10, []int64{1, 1, 1}, []Money{-4, -3, -3}},
		{"negative total, largest remainder", -100, []int64{1, 2}, []Money{-33, -67}},
		{"zero weights get nothing", 100, []int64{0, 1, 0}, []Money{0, 100, 0}},
		{"negative weights count as zero", 100, []int64{-5, 1, 3}, []Money{0, 25, 75}},
		{"all-zero weights split evenly", 10, []int64{0, 0, 0}, []Money{4, 3, 3}},
		{"all-negative weights split evenly", 9, []int64{-1, -2, -3}, []Money{3, 3, 3}},
		{"all-zero weights, negative total", -5, []int64{0, 0}, []Money{-3, -2}},
		{"zero total", 0, []int64{1, 2}, []Money{0, 0}},
		{"no weights", 100, nil, []Money{}},
		{"one weight takes all", 12_345, []int64{7}, []Money{12_345}},
		{"fewer nanos than parts", 2, []int64{1, 1, 1, 1}, []Money{1, 1, 0, 0}},
		{"huge weights need 128 bits", 4_217_500_000, []int64{3_000_000_000_000_000_000, 1_000_000_000_000_000_000}, []Money{3_163_125_000, 1_054_375_000}},
		{"huge total", 9_000_000_000_000_000_000, []int64{1, 2}, []Money{3_000_000_000_000_000_000, 6_000_000_000_000_000_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.total, tt.weights)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Split(%d, %v) = %v, want %v", tt.total, tt.weights, got, tt.want)
			}
		})
	}
}

// TestSplit_Property checks, for many random totals and weights (fixed seed), that the parts add
// up to the total exactly, each part is its exact proportional share rounded down or up by one
// nano, parts carry the total's sign, and non-positive weights get nothing.
func TestSplit_Property(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260831, 7))
	for iter := range 5000 {
		total := Money(rng.Int64N(2_000_000_000_000_000) - 1_000_000_000_000_000)
		if iter%10 == 0 {
			total = Money(rng.Int64N(21) - 10) // tiny totals stress the remainders
		}
		weights := make([]int64, 1+rng.IntN(25))
		for i := range weights {
			switch rng.IntN(8) {
			case 0:
				weights[i] = 0
			case 1:
				weights[i] = -rng.Int64N(1000)
			case 2:
				weights[i] = rng.Int64N(1 << 56) // large token counts; 25 of them still sum below 2^63
			default:
				weights[i] = rng.Int64N(1_000_000)
			}
		}
		parts := Split(total, weights)
		if len(parts) != len(weights) {
			t.Fatalf("Split(%d, %v): %d parts", total, weights, len(parts))
		}
		var sum Money
		for _, p := range parts {
			sum += p
		}
		if sum != total {
			t.Fatalf("Split(%d, %v) sums to %d", total, weights, sum)
		}

		var wsum big.Int
		for _, w := range weights {
			if w > 0 {
				wsum.Add(&wsum, big.NewInt(w))
			}
		}
		even := wsum.Sign() == 0
		for i, p := range parts {
			if (total > 0 && p < 0) || (total < 0 && p > 0) {
				t.Fatalf("Split(%d, %v)[%d] = %d has the wrong sign", total, weights, i, p)
			}
			w := weights[i]
			if even {
				w = 1
			} else if w <= 0 {
				if p != 0 {
					t.Fatalf("Split(%d, %v)[%d] = %d for weight %d", total, weights, i, p, weights[i])
				}
				continue
			}
			den := &wsum
			if even {
				den = big.NewInt(int64(len(weights)))
			}
			// floor(|total|*w/den) <= |p| <= that + 1
			var floor big.Int
			abs := new(big.Int).Abs(big.NewInt(int64(total)))
			floor.Mul(abs, big.NewInt(w))
			floor.Quo(&floor, den)
			ap := new(big.Int).Abs(big.NewInt(int64(p)))
			if ap.Cmp(&floor) < 0 || ap.Cmp(new(big.Int).Add(&floor, big.NewInt(1))) > 0 {
				t.Fatalf("Split(%d, %v)[%d] = %d, exact share floor %s", total, weights, i, p, &floor)
			}
		}
	}
}

func TestSplit_Deterministic(t *testing.T) {
	weights := []int64{5, 5, 5, 5, 5, 5, 5}
	first := Split(100, weights)
	for range 50 {
		if got := Split(100, weights); !slices.Equal(got, first) {
			t.Fatalf("Split changed between calls: %v then %v", first, got)
		}
	}
	if !slices.Equal(first, []Money{15, 15, 14, 14, 14, 14, 14}) {
		t.Fatalf("Split(100, 7 equal weights) = %v", first)
	}
}

func TestSplit_DoesNotModifyWeights(t *testing.T) {
	weights := []int64{3, 0, -2, 9}
	Split(1000, weights)
	if !slices.Equal(weights, []int64{3, 0, -2, 9}) {
		t.Fatalf("weights changed to %v", weights)
	}
}

// splitReference is Split as first written (a stable sort of every remainder): Split must give
// exactly its parts, ties included.
func splitReference(total Money, weights []int64) []Money {
	parts := make([]Money, len(weights))
	if len(weights) == 0 || total == 0 {
		return parts
	}
	var sum int64
	for _, w := range weights {
		if w > 0 {
			sum += w
		}
	}
	if sum <= 0 {
		even := make([]int64, len(weights))
		for i := range even {
			even[i] = 1
		}
		return splitReference(total, even)
	}
	t := int64(total)
	if total < 0 {
		t = -t
	}
	type rem struct {
		i int
		r uint64
	}
	var rems []rem
	var assigned int64
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		q, r := mulDivRem(t, w, sum)
		parts[i] = Money(q)
		assigned += q
		rems = append(rems, rem{i, r})
	}
	left := t - assigned
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; left > 0; k = (k + 1) % len(rems) {
		parts[rems[k].i]++
		left--
	}
	if total < 0 {
		for i := range parts {
			parts[i] = -parts[i]
		}
	}
	return parts
}

func TestSplit_SameAsStableReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 7))
	for n := range 5000 {
		weights := make([]int64, 1+rng.IntN(40))
		for i := range weights {
			switch rng.IntN(5) {
			case 0:
				weights[i] = 0
			case 1:
				weights[i] = 3 // many equal weights: ties in the remainders
			case 2:
				weights[i] = -rng.Int64N(10)
			default:
				weights[i] = rng.Int64N(1 << uint(1+rng.IntN(40)))
			}
		}
		total := Money(rng.Int64N(1<<40) - 1<<39)
		if n%7 == 0 {
			total = Money(rng.Int64N(int64(len(weights)) * 2))
		}
		got, want := Split(total, weights), splitReference(total, weights)
		if !slices.Equal(got, want) {
			t.Fatalf("Split(%d, %v) = %v, want %v", total, weights, got, want)
		}
	}
}

// Large splits, where the selection of the largest remainders partitions many times.
func TestSplit_SameAsStableReference_Large(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 41))
	for range 300 {
		weights := make([]int64, 41+rng.IntN(3000))
		for i := range weights {
			switch rng.IntN(4) {
			case 0:
				weights[i] = 7 // equal weights: ties in the remainders
			case 1:
				weights[i] = rng.Int64N(100)
			default:
				weights[i] = rng.Int64N(1 << uint(1+rng.IntN(40)))
			}
		}
		total := Money(rng.Int64N(1<<42) - 1<<41)
		got, want := Split(total, weights), splitReference(total, weights)
		if !slices.Equal(got, want) {
			t.Fatalf("Split(%d, %d weights) differs from the reference", total, len(weights))
		}
	}
}
