package ledger

import (
	"cmp"

	"github.com/marginhq/margin/internal/sortby"
)

// Split divides total into parts proportional to weights so that the parts add up to total
// exactly (largest-remainder method; ties go to the earlier index, so the result is deterministic).
// Negative weights count as zero. When every weight is zero the total is split evenly.
func Split(total Money, weights []int64) []Money {
	parts := make([]Money, len(weights))
	if len(weights) == 0 || total == 0 {
		return parts
	}
	if len(weights) == 1 {
		// The common case of a bill with one usage row beneath it.
		parts[0] = total
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
		return Split(total, even)
	}
	neg := total < 0
	t := int64(total)
	if neg {
		t = -t
	}
	type rem struct {
		i int
		r uint64
	}
	rems := make([]rem, 0, len(weights))
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
	if left == 0 {
		return negated(parts, neg)
	}
	// The left largest remainders get a unit more, ties in weight order: indices are distinct, so
	// with the index as the tie-break the order is total, and the first left of it are found by a
	// selection in linear time, where sorting every remainder cost n log n. The remainders add up
	// to left × sum with each below sum, so left < len(rems).
	before := func(a, b rem) bool { return a.r > b.r || a.r == b.r && a.i < b.i }
	if left < int64(len(rems)) {
		selectFirst(rems, int(left), before)
		for _, r := range rems[:left] {
			parts[r.i]++
		}
		return negated(parts, neg)
	}
	sortby.Func(rems, func(a, b rem) int { return cmp.Or(cmp.Compare(b.r, a.r), cmp.Compare(a.i, b.i)) })
	for k := 0; left > 0; k = (k + 1) % len(rems) {
		parts[rems[k].i]++
		left--
	}
	return negated(parts, neg)
}

// selectFirst reorders s so that its first k elements are the k first in the strict total
// order less (in no particular order among themselves): Hoare's selection, median-of-three pivot.
func selectFirst[T any](s []T, k int, less func(a, b T) bool) {
	if k <= 0 || k >= len(s) {
		return
	}
	m := k - 1 // the element of rank m ends at index m, the smaller ones before it
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if less(s[mid], s[lo]) {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if less(s[hi], s[lo]) {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if less(s[hi], s[mid]) {
			s[hi], s[mid] = s[mid], s[hi]
		}
		p := s[mid]
		i, j := lo, hi
		for i <= j {
			for less(s[i], p) {
				i++
			}
			for less(p, s[j]) {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// s[lo..j] come before p or are p, s[i..hi] after it or are it, and between them is p.
		switch {
		case m <= j:
			hi = j
		case m >= i:
			lo = i
		default:
			return
		}
	}
}

func negated(parts []Money, neg bool) []Money {
	if neg {
		for i := range parts {
			parts[i] = -parts[i]
		}
	}
	return parts
}

// mulDivRem returns floor(a*b/c) and the remainder for non-negative a, b and positive c, in 128 bits.
func mulDivRem(a, b, c int64) (int64, uint64) {
	hi, lo := mul64(uint64(a), uint64(b)) // #nosec G115 -- a and b are non-negative, as documented
	q, r := div64(hi, lo, uint64(c))      // #nosec G115 -- c is positive, as documented
	return int64(q), r                    // #nosec G115 -- the quotient of non-negative operands that callers keep within int64
}
