package ledger

import (
	"encoding/json"
	"testing"
)

var moneySeeds = []string{"0", "1", "-1", "12.5", "0.000000001", "9223372036.854775807", "-9223372036.854775808",
	"1e3", "1.2345678901", "", "-", ".5", "5.", "+1", " 1", "1_000", "00012.3400", "18446744073.709551616"}

// ParseDollars either fails or returns the amount String writes back exactly.
func FuzzParseDollars(f *testing.F) {
	for _, s := range moneySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseDollars(s)
		if err != nil {
			return
		}
		back, err := ParseDollars(m.String())
		if err != nil || back != m {
			t.Fatalf("%q parsed to %d, printed %q, re-parsed to %d (%v)", s, m, m.String(), back, err)
		}
	})
}

// ParseCents is ParseDollars two places to the left.
func FuzzParseCents(f *testing.F) {
	for _, s := range moneySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCents(s)
		if err != nil {
			return
		}
		if d, err := ParseDollars(s); err == nil && d%100 == 0 && c != d/100 {
			t.Fatalf("%q: %d nano-dollars as cents, %d as dollars", s, c, d)
		}
	})
}

// Decimal decodes any JSON value without panicking, and what Dollars accepts round-trips through
// Money's JSON form.
func FuzzDecimalAndMoneyJSON(f *testing.F) {
	for _, s := range []string{`"12.34"`, `12.34`, `null`, `"1e3"`, `"\u0031.5"`, `true`, `{}`, `[]`, `"-0.000000001"`, `-7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decimal
		if json.Unmarshal(b, &d) != nil {
			return
		}
		_, _ = d.Cents()
		m, err := d.Dollars()
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Money
		if err := json.Unmarshal(out, &back); err != nil || back != m {
			t.Fatalf("%s: %d marshalled to %s, unmarshalled to %d (%v)", b, m, out, back, err)
		}
	})
}
