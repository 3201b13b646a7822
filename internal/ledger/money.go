// Package ledger holds Margin's money type and the pure arithmetic done with it: parsing each
// provider's encoding, exact splits and rate conversions. Nothing here does I/O or knows a provider.
package ledger

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Money is an amount in nano-units (1e-9) of the reporting currency. Nano rather than micro because
// per-token prices go down to 1e-8 dollars, and int64 nano-dollars still holds ±9.2 billion dollars.
type Money int64

const (
	Nano   Money = 1
	Micro  Money = 1_000
	Cent   Money = 10_000_000
	Dollar Money = 1_000_000_000

	scaleDigits = 9
)

// ErrOverflow is returned when an amount does not fit into Money.
var ErrOverflow = errors.New("amount out of range")

// Dollars returns d whole dollars.
func Dollars(d int64) Money { return Money(d) * Dollar }

// ParseDollars parses a decimal amount of dollars ("1.8423", "-0.5", "1.5e-05",
// "0.1739150000000000000000000000"), rounding half away from zero to the nano-dollar.
func ParseDollars(s string) (Money, error) { return parseScaled(s, scaleDigits) }

// ParseCents parses a decimal amount of cents ("27.3702" is $0.273702), Anthropic's encoding.
func ParseCents(s string) (Money, error) { return parseScaled(s, scaleDigits-2) }

// FromMinorUnits converts an integer amount of a currency's minor unit (Stripe's encoding) with the
// given number of decimals (2 for usd and eur, 0 for jpy).
func FromMinorUnits(amount int64, decimals int) (Money, error) {
	if decimals < 0 || decimals > scaleDigits {
		return 0, fmt.Errorf("unsupported currency exponent %d", decimals)
	}
	f := pow10(scaleDigits - decimals)
	if amount > math.MaxInt64/f || amount < math.MinInt64/f {
		return 0, ErrOverflow
	}
	return Money(amount * f), nil
}

// parseScaled parses a plain decimal with an optional exponent and returns its value times
// 10^shift, rounded half away from zero. It never goes through float64.
func parseScaled(s string, shift int) (Money, error) {
	if m, ok := parsePlain(s, shift); ok {
		return m, nil
	}
	return parseScaledSlow(s, shift)
}

// parsePlain is parseScaled for the form providers send hundreds of thousands of times a page:
// an optional minus, digits, and at most shift decimals, short enough not to overflow. The value
// is exact (nothing to round) and nothing is allocated; any other form reports false.
func parsePlain(s string, shift int) (Money, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || len(frac) > shift || len(intPart)+shift > 18 {
		return 0, false
	}
	var v int64
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
	}
	for range shift - len(frac) {
		v *= 10
	}
	if neg {
		v = -v
	}
	return Money(v), true
}

// parseScaledSlow is parseScaled for every form.
func parseScaledSlow(s string, shift int) (Money, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, fmt.Errorf("invalid amount %q", orig)
		}
		// Past ±(len+40) every value is zero or out of range already; clamping keeps the digit
		// arithmetic below small ("1e-400" is 0, "1e400" overflows) instead of rejecting it.
		exp = max(min(exp, len(s)+40), -len(s)-40)
		shift += exp
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("invalid amount %q", orig)
	}
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid amount %q", orig)
		}
	}
	// value = digits * 10^(shift - len(frac))
	exp := shift - len(frac)
	digits = strings.TrimLeft(digits, "0")
	var keep string
	roundUp := false
	if exp >= 0 {
		keep = digits + strings.Repeat("0", exp)
	} else {
		cut := len(digits) + exp
		if cut < 0 {
			keep, roundUp = "", false
		} else {
			keep = digits[:cut]
			roundUp = digits[cut] >= '5'
		}
	}
	keep = strings.TrimLeft(keep, "0")
	if len(keep) > 19 {
		return 0, fmt.Errorf("amount %q: %w", orig, ErrOverflow)
	}
	var v uint64
	if keep != "" {
		var err error
		v, err = strconv.ParseUint(keep, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("amount %q: %w", orig, ErrOverflow)
		}
	}
	if roundUp {
		v++
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("amount %q: %w", orig, ErrOverflow)
	}
	if neg {
		return -Money(v), nil
	}
	return Money(v), nil
}

// Float64 returns the amount in whole currency units. Use it only at the edges (metrics, frames, JSON).
func (m Money) Float64() float64 {
	whole := int64(m) / int64(Dollar)
	frac := int64(m) % int64(Dollar)
	return float64(whole) + float64(frac)/float64(Dollar)
}

// String formats the amount with all nine decimals, trailing zeros trimmed to at least two: "12.50", "-0.000001".
func (m Money) String() string {
	neg := m < 0
	u := uint64(m) // #nosec G115 -- the bit pattern of a non-negative m; negative m is negated on the next line
	if neg {
		u = uint64(-m)
	}
	whole := u / uint64(Dollar)
	frac := fmt.Sprintf("%09d", u%uint64(Dollar))
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%s", sign, whole, frac)
}

// Round returns m rounded half away from zero to a multiple of unit (for example Cent).
func (m Money) Round(unit Money) Money {
	if unit <= 0 {
		return m
	}
	q, r := m/unit, m%unit
	if r*2 >= unit {
		q++
	} else if -r*2 >= unit {
		q--
	}
	return q * unit
}

// Cents formats the amount rounded to the cent: "1234.57".
func (m Money) Cents() string {
	r := m.Round(Cent)
	s := r.String()
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s) > i+3 {
		s = s[:i+3]
	}
	return s
}

// MulDiv returns a*b/c rounded half away from zero, computed in 128 bits so large token counts
// times per-million prices cannot overflow halfway. c must be positive.
func MulDiv(a, b, c int64) (int64, error) {
	if c <= 0 {
		return 0, errors.New("MulDiv: non-positive divisor")
	}
	neg := (a < 0) != (b < 0)
	ua, ub := abs64(a), abs64(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi >= uint64(c) {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if r >= uint64(c)-r { // r*2 >= c without overflow
		q++
	}
	if neg && q == 1<<63 {
		return math.MinInt64, nil // representable, unlike its absolute value
	}
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	if neg {
		return -int64(q), nil
	}
	return int64(q), nil
}

// MustMulDiv is MulDiv for callers whose operands are bounded far below overflow; it saturates
// instead of failing so a pathological input cannot crash a long-running process.
func MustMulDiv(a, b, c int64) int64 {
	v, err := MulDiv(a, b, c)
	if err != nil {
		if (a < 0) != (b < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return v
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

// Rate is a decimal multiplier with nine decimals, for exchange rates (USD per unit of currency)
// and ratios that must stay exact.
type Rate int64

// RateOne is the rate 1.0.
const RateOne Rate = 1_000_000_000

// ParseRate parses a decimal rate such as "1.08".
func ParseRate(s string) (Rate, error) {
	v, err := parseScaled(s, scaleDigits)
	return Rate(v), err
}

// String formats the rate as a decimal.
func (r Rate) String() string {
	return strings.TrimSuffix(strings.TrimRight(Money(r).String(), "0"), ".")
}

// Apply returns m times the rate, rounded half away from zero to the nano-unit.
func (r Rate) Apply(m Money) Money { return Money(MustMulDiv(int64(m), int64(r), int64(RateOne))) }

// MarshalJSON writes the amount as an exact decimal JSON number in whole units ("12.5" dollars is
// 12.50), so JSON output never passes through float64.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// Ratio returns num/den as a float for display (margins, shares); ok is false when den is zero,
// where the ratio is undefined.
func Ratio(num, den Money) (float64, bool) {
	if den == 0 {
		return 0, false
	}
	return float64(num) / float64(den), true
}

// UnmarshalJSON reads an amount written by MarshalJSON (or any decimal JSON number or string).
func (m *Money) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseDollars(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
