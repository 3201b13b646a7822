package ledger

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The fast path agrees with the general parser on every input it takes, and declines the rest
// (exponents, signs other than minus, spaces, more decimals than the scale, long values).
func TestParsePlain_AgreesWithTheGeneralParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	taken := 0
	for range 20000 {
		s := digits(rng.IntN(12))
		if rng.IntN(4) > 0 {
			s += "." + digits(rng.IntN(12))
		}
		if rng.IntN(3) == 0 {
			s = "-" + s
		}
		if rng.IntN(20) == 0 {
			s = []string{"+", " ", "1e"}[rng.IntN(3)] + s
		}
		for _, shift := range []int{scaleDigits, scaleDigits - 2} {
			fast, ok := parsePlain(s, shift)
			slow, err := parseScaledSlow(s, shift)
			if !ok {
				continue
			}
			taken++
			if err != nil || fast != slow {
				t.Fatalf("%q (shift %d): fast %d, general %d (%v)", s, shift, fast, slow, err)
			}
		}
	}
	if taken < 5000 {
		t.Fatalf("the fast path took only %d of the generated inputs", taken)
	}
	for _, s := range []string{"1e3", "+1", " 1", ".5", "0.1739150000000000000000000000", "1234567890.5", "1.2.3", "", "-"} {
		if _, ok := parsePlain(s, scaleDigits); ok {
			t.Errorf("%q took the fast path", s)
		}
	}
}
