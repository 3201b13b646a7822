package ledger

import (
	"cmp"
	"slices"
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
	// Largest remainder first, ties in weight order: indices are distinct, so an unstable sort
	// with the index as the tie-break orders as a stable one does, at a fraction of its cost.
	slices.SortFunc(rems, func(a, b rem) int { return cmp.Or(cmp.Compare(b.r, a.r), cmp.Compare(a.i, b.i)) })
	for k := 0; left > 0; k = (k + 1) % len(rems) {
		parts[rems[k].i]++
		left--
	}
	return negated(parts, neg)
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
