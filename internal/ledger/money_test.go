package ledger

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestParseDollars(t *testing.T) {
	tests := []struct {
		in   string
		want Money
	}{
		{"1.8423", 1_842_300_000},
		{"4.2175", 4_217_500_000},
		{"-0.5", -500_000_000},
		{"+3", 3 * Dollar},
		{"  7.25 ", 7_250_000_000},
		{"0", 0},
		{"-0", 0},
		{"0.000", 0},
		{".5", 500_000_000},
		{"5.", 5 * Dollar},
		{"000123.4500", 123_450_000_000},
		// OpenAI's amount.value as a long string (provider-apis.md trap 3).
		{"0.1739150000000000000000000000", 173_915_000},
		// Exponents, as JSON numbers and float formatting produce them.
		{"1.5e-05", 15_000},
		{"1.5E-05", 15_000},
		{"1E2", 100 * Dollar},
		{"2.5e+3", 2500 * Dollar},
		{"-4.2e1", -42 * Dollar},
		{"1.23456789e-4", 123_457},
		{"1e-9", 1},
		{"1e-10", 0},
		{"1e-40", 0},
		{"0e99", 0},
		// Rounding half away from zero at the ninth decimal.
		{"0.0000000005", 1},
		{"0.00000000049999", 0},
		{"-0.0000000005", -1},
		{"-0.00000000049999", 0},
		{"0.0000000015", 2},
		{"0.0000000025", 3},
		{"1.9999999995", 2 * Dollar},
		{"-1.9999999995", -2 * Dollar},
		{"0.30000000000000004", 300_000_000},
		// The ends of the range.
		{"9223372036.854775807", math.MaxInt64},
		{"-9223372036.854775807", -math.MaxInt64},
		{"9223372036.8547758074", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDollars(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseDollars(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDollars_Errors(t *testing.T) {
	tests := []struct {
		in       string
		overflow bool
	}{
		{"", false},
		{"   ", false},
		{"-", false},
		{".", false},
		{"abc", false},
		{"1.2.3", false},
		{"1,5", false},
		{"$1", false},
		{"1_000", false},
		{"0x10", false},
		{"--1", false},
		{"+-1", false},
		{"1e", false},
		{"e5", false},
		{"1e5.5", false},
		{"NaN", false},
		{"Inf", false},
		{"1 2", false},
		{"9223372036.854775808", true},
		{"-9223372036.854775808", true},
		{"9223372036.8547758075", true}, // rounds up past the top
		{"10000000000", true},
		{"1e10", true},
		{"-1e10", true},
		{"12345678901234567890123", true},
		{"1e41", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDollars(tt.in)
			if err == nil {
				t.Fatalf("ParseDollars(%q) = %d, want an error", tt.in, got)
			}
			if errors.Is(err, ErrOverflow) != tt.overflow {
				t.Fatalf("ParseDollars(%q): %v; overflow: want %v", tt.in, err, tt.overflow)
			}
		})
	}
}

func TestParseDollars_HugeExponents(t *testing.T) {
	// Exponents far outside what money needs must neither allocate without bound nor misround.
	for _, in := range []string{"1e-400", "123456789e-300", "-5e-99999"} {
		if got, err := ParseDollars(in); err != nil || got != 0 {
			t.Errorf("ParseDollars(%q) = %d, %v; want 0", in, got, err)
		}
	}
	for _, in := range []string{"1e400", "1e99999"} {
		if _, err := ParseDollars(in); !errors.Is(err, ErrOverflow) {
			t.Errorf("ParseDollars(%q): %v, want ErrOverflow", in, err)
		}
	}
}

func TestParseCents(t *testing.T) {
	tests := []struct {
		in   string
		want Money
	}{
		{"27.3702", 273_702_000}, // $0.273702, Anthropic's cost_report encoding
		{"100", Dollar},
		{"0.5", 5_000_000},
		{"-250", -5 * Dollar / 2},
		{"0.00000005", 1}, // half a nano-dollar rounds away from zero
		{"0.00000004", 0},
		{"1.5e2", 15 * Dollar / 10},
		{"0.1739150000000000000000000000", 1_739_150},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCents(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseCents(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ParseCents("x"); err == nil {
		t.Error("ParseCents(\"x\") did not fail")
	}
	if _, err := ParseCents("922337203685.4775808"); !errors.Is(err, ErrOverflow) {
		t.Errorf("ParseCents overflow: %v", err)
	}
}

func TestFromMinorUnits(t *testing.T) {
	tests := []struct {
		amount   int64
		decimals int
		want     Money
		wantErr  error // nil, ErrOverflow, or errAny
	}{
		{1234, 2, 12_340_000_000, nil},
		{-99, 2, -990_000_000, nil},
		{0, 2, 0, nil},
		{500, 0, 500 * Dollar, nil}, // jpy
		{5, 3, 5_000_000, nil},      // kwd, bhd
		{1, 9, 1, nil},
		{math.MaxInt64 / 10_000_000, 2, Money(math.MaxInt64 / 10_000_000 * 10_000_000), nil},
		{math.MaxInt64/10_000_000 + 1, 2, 0, ErrOverflow},
		{math.MinInt64/10_000_000 - 1, 2, 0, ErrOverflow},
		{math.MaxInt64, 9, math.MaxInt64, nil},
		{10_000_000_000, 0, 0, ErrOverflow},
		{1, 10, 0, errAny},
		{1, -1, 0, errAny},
	}
	for _, tt := range tests {
		got, err := FromMinorUnits(tt.amount, tt.decimals)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("FromMinorUnits(%d, %d): %v", tt.amount, tt.decimals, err)
		case errors.Is(tt.wantErr, ErrOverflow) && !errors.Is(err, ErrOverflow):
			t.Errorf("FromMinorUnits(%d, %d): %v, want ErrOverflow", tt.amount, tt.decimals, err)
		case errors.Is(tt.wantErr, errAny) && err == nil:
			t.Errorf("FromMinorUnits(%d, %d) = %d, want an error", tt.amount, tt.decimals, got)
		case tt.wantErr == nil && got != tt.want:
			t.Errorf("FromMinorUnits(%d, %d) = %d, want %d", tt.amount, tt.decimals, got, tt.want)
		}
	}
}

var errAny = errors.New("any error")

func TestMoney_String(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{0, "0.00"},
		{12_500_000_000, "12.50"},
		{Dollar, "1.00"},
		{Cent, "0.01"},
		{-Micro, "-0.000001"},
		{1, "0.000000001"},
		{-1, "-0.000000001"},
		{4_217_500_000, "4.2175"},
		{123_456_789_012, "123.456789012"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(tt.m), got, tt.want)
		}
		b, err := json.Marshal(tt.m)
		if err != nil || string(b) != tt.want {
			t.Errorf("json.Marshal(Money(%d)) = %s, %v; want %s", int64(tt.m), b, err, tt.want)
		}
	}
}

func TestMoney_StringRoundTrips(t *testing.T) {
	for _, m := range []Money{0, 1, -1, 4_217_500_000, -123_456_789_012, math.MaxInt64, -math.MaxInt64} {
		got, err := ParseDollars(m.String())
		if err != nil || got != m {
			t.Errorf("ParseDollars(%q) = %d, %v; want %d", m.String(), got, err, m)
		}
	}
}

func TestMoney_Round(t *testing.T) {
	tests := []struct {
		m, unit, want Money
	}{
		{15, 10, 20},
		{14, 10, 10},
		{-15, 10, -20},
		{-14, 10, -10},
		{0, 10, 0},
		{20, 10, 20},
		{-20, 10, -20},
		{12_345_000_000, Cent, 12_350_000_000},
		{12_344_999_999, Cent, 12_340_000_000},
		{-5_000_000, Cent, -Cent},
		{-4_999_999, Cent, 0},
		{1_500_000_000, Dollar, 2 * Dollar},
		{17, 0, 17},  // no unit: unchanged
		{17, -5, 17}, // nonsense unit: unchanged
	}
	for _, tt := range tests {
		if got := tt.m.Round(tt.unit); got != tt.want {
			t.Errorf("Money(%d).Round(%d) = %d, want %d", int64(tt.m), int64(tt.unit), got, tt.want)
		}
	}
}

func TestMoney_Cents(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{1_234_565_000_000, "1234.57"},
		{1_234_564_999_999, "1234.56"},
		{12_500_000_000, "12.50"},
		{0, "0.00"},
		{1, "0.00"},
		{-5_000_000, "-0.01"},
		{-4_999_999, "0.00"}, // no "-0.00"
		{-1_999_999_999, "-2.00"},
		{Dollar + Cent, "1.01"},
	}
	for _, tt := range tests {
		if got := tt.m.Cents(); got != tt.want {
			t.Errorf("Money(%d).Cents() = %q, want %q", int64(tt.m), got, tt.want)
		}
	}
}

func TestMoney_Float64(t *testing.T) {
	tests := []struct {
		m    Money
		want float64
	}{
		{1_500_000_000, 1.5},
		{-250_000_000, -0.25},
		{0, 0},
		{Dollars(1_000_000), 1_000_000},
	}
	for _, tt := range tests {
		if got := tt.m.Float64(); got != tt.want {
			t.Errorf("Money(%d).Float64() = %v, want %v", int64(tt.m), got, tt.want)
		}
	}
}

func TestMulDiv(t *testing.T) {
	tests := []struct {
		a, b, c int64
		want    int64
	}{
		{3, 5, 2, 8}, // 7.5 rounds away from zero
		{-3, 5, 2, -8},
		{3, -5, 2, -8},
		{-3, -5, 2, 8},
		{1, 1, 2, 1}, // 0.5
		{1, 1, 3, 0},
		{2, 1, 3, 1},
		{-2, 1, 3, -1},
		{-1, 1, 3, 0},
		{0, math.MaxInt64, 7, 0},
		{7, 3, 1, 21},
		// Intermediate products far beyond 64 bits.
		{1e18, 1e18, 1e18, 1e18},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64, 3, 4, 6_917_529_027_641_081_855}, // 6917529027641081855.25
		{-math.MaxInt64, 3, 4, -6_917_529_027_641_081_855},
		// A trillion tokens at $2.50 per million tokens, in nano-dollars.
		{1_000_000_000_000, 2_500_000_000, 1_000_000, 2_500_000_000_000_000},
		// The most negative value is representable.
		{math.MinInt64, 1, 1, math.MinInt64},
		{math.MinInt64, 2, 2, math.MinInt64},
	}
	for _, tt := range tests {
		got, err := MulDiv(tt.a, tt.b, tt.c)
		if err != nil {
			t.Errorf("MulDiv(%d, %d, %d): %v", tt.a, tt.b, tt.c, err)
			continue
		}
		if got != tt.want {
			t.Errorf("MulDiv(%d, %d, %d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}

func TestMulDiv_Errors(t *testing.T) {
	tests := []struct {
		a, b, c  int64
		overflow bool
	}{
		{1, 1, 0, false},
		{1, 1, -3, false},
		{math.MaxInt64, 2, 1, true},
		{math.MaxInt64, math.MaxInt64, 1, true},
		{math.MinInt64, -1, 1, true}, // +2^63 does not fit
		{-math.MaxInt64, 2, 1, true},
	}
	for _, tt := range tests {
		got, err := MulDiv(tt.a, tt.b, tt.c)
		if err == nil {
			t.Errorf("MulDiv(%d, %d, %d) = %d, want an error", tt.a, tt.b, tt.c, got)
			continue
		}
		if errors.Is(err, ErrOverflow) != tt.overflow {
			t.Errorf("MulDiv(%d, %d, %d): %v; overflow: want %v", tt.a, tt.b, tt.c, err, tt.overflow)
		}
	}
}

func TestMustMulDiv_Saturates(t *testing.T) {
	tests := []struct {
		a, b, c, want int64
	}{
		{math.MaxInt64, 2, 1, math.MaxInt64},
		{-math.MaxInt64, 2, 1, math.MinInt64},
		{math.MaxInt64, -2, 1, math.MinInt64},
		{-math.MaxInt64, -2, 1, math.MaxInt64},
		{10, 3, 4, 8},
	}
	for _, tt := range tests {
		if got := MustMulDiv(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("MustMulDiv(%d, %d, %d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantStr string
	}{
		{"1.08", 1_080_000_000, "1.08"},
		{"1", RateOne, "1"},
		{"1.27", 1_270_000_000, "1.27"},
		{"0.0064", 6_400_000, "0.0064"},
		{"10", 10 * RateOne, "10"},
		{"0", 0, "0"},
		{"0.0000000005", 1, "0.000000001"},
		{"151.2345678915", 151_234_567_892, "151.234567892"},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want || got.String() != tt.wantStr {
			t.Errorf("ParseRate(%q) = %d (%q), want %d (%q)", tt.in, got, got.String(), tt.want, tt.wantStr)
		}
	}
	for _, in := range []string{"", "eur", "1.08x"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) did not fail", in)
		}
	}
}

func TestRate_Apply(t *testing.T) {
	tests := []struct {
		rate Rate
		m    Money
		want Money
	}{
		{1_080_000_000, Dollars(100), Dollars(108)},
		{RateOne, 4_217_500_000, 4_217_500_000},
		{0, Dollars(5), 0},
		{500_000_000, 1, 1}, // half a nano rounds away from zero
		{500_000_000, -1, -1},
		{499_999_999, 1, 0},
		{1_270_000_000, -Dollars(10), -12_700_000_000},
		{3 * RateOne, 4_000_000_000_000_000_000, math.MaxInt64}, // saturates instead of wrapping
		// 1,000 JPY at 0.0064 USD per yen.
		{6_400_000, Dollars(1000), 6_400_000_000},
	}
	for _, tt := range tests {
		if got := tt.rate.Apply(tt.m); got != tt.want {
			t.Errorf("Rate(%s).Apply(%s) = %d, want %d", tt.rate, tt.m, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	if r, ok := Ratio(Dollars(1), Dollars(4)); !ok || r != 0.25 {
		t.Errorf("Ratio(1, 4) = %v, %v", r, ok)
	}
	if r, ok := Ratio(-Dollars(3), Dollars(4)); !ok || r != -0.75 {
		t.Errorf("Ratio(-3, 4) = %v, %v", r, ok)
	}
	if _, ok := Ratio(Dollars(1), 0); ok {
		t.Error("Ratio over zero reported ok")
	}
}
