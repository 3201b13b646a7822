package ledger

import "math/bits"

func mul64(a, b uint64) (uint64, uint64) { return bits.Mul64(a, b) }

// div64 divides the 128-bit hi:lo by c; callers guarantee the quotient fits (a ≤ total, b ≤ c).
func div64(hi, lo, c uint64) (uint64, uint64) { return bits.Div64(hi, lo, c) }
