package stripe

import (
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/usage"
)

// unix parses "2026-03-01" or "2026-03-01T12:00:00Z" to Unix seconds.
func unix(t *testing.T, s string) int64 {
	t.Helper()
	layout := time.RFC3339
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	v, err := time.Parse(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.Unix()
}

func day(t *testing.T, s string) usage.Day {
	t.Helper()
	d, err := usage.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cents(c int64) ledger.Money { return ledger.Money(c) * ledger.Cent }

type lineSpec struct {
	amount, exTax int64 // minor units; exTax 0 means "absent" as stripe-go decodes it
	start, end    string
	discounts     []int64
}

func invoice(t *testing.T, id, customer string, status stripego.InvoiceStatus, cur string, lines ...lineSpec) *apiInvoice {
	t.Helper()
	inv := &apiInvoice{
		ID: id, Customer: &apiRef{ID: customer}, Status: status, Currency: stripego.Currency(cur),
		Lines: &apiList[apiInvoiceLine]{},
	}
	for i, l := range lines {
		li := &apiInvoiceLine{
			ID: id + "_il" + string(rune('a'+i)), Amount: l.amount, AmountExcludingTax: l.exTax,
			Period: &apiPeriod{Start: unix(t, l.start), End: unix(t, l.end)},
		}
		for _, d := range l.discounts {
			li.DiscountAmounts = append(li.DiscountAmounts, &apiAmount{Amount: d})
		}
		inv.Lines.Data = append(inv.Lines.Data, li)
	}
	return inv
}

func creditNote(t *testing.T, id, customer, invoiceID string, status stripego.CreditNoteStatus, cur string, total, totalExTax int64, effective string) *apiCreditNote {
	t.Helper()
	return &apiCreditNote{
		ID: id, Customer: &apiRef{ID: customer}, Invoice: &apiRef{ID: invoiceID},
		Status: status, Currency: stripego.Currency(cur), Total: total, TotalExcludingTax: totalExTax,
		Created: unix(t, "2026-03-31"), EffectiveAt: unix(t, effective),
	}
}

// run builds the expected rows for one customer from consecutive days starting at from.
func run(t *testing.T, customer, from string, amounts ...ledger.Money) []revenue.Daily {
	t.Helper()
	d0 := day(t, from)
	out := make([]revenue.Daily, len(amounts))
	for i, a := range amounts {
		out[i] = revenue.Daily{Customer: customer, Day: d0 + usage.Day(i), Amount: a}
	}
	return out
}

func repeat(m ledger.Money, n int) []ledger.Money {
	out := make([]ledger.Money, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func concat(parts ...[]revenue.Daily) []revenue.Daily {
	var out []revenue.Daily
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRecognize(t *testing.T) {
	paid, open := stripego.InvoiceStatusPaid, stripego.InvoiceStatusOpen
	issued := stripego.CreditNoteStatusIssued
	march := usage.Window{From: day(t, "2026-03-01"), To: day(t, "2026-04-01")}
	april := usage.Window{From: day(t, "2026-04-01"), To: day(t, "2026-05-01")}
	fx := map[string]ledger.Rate{"eur": 1_080_000_000, "jpy": 6_700_000} // 1.08 and 0.0067 USD

	// $100.00 over 31 days: 3.2258064516… a day. 100e9 = 31*3225806451 + 19, and Split gives the
	// 19 spare nano-dollars to the earliest days (equal remainders), so the month adds up exactly.
	fullMonth := append(repeat(3225806452, 19), repeat(3225806451, 12)...)

	tests := []struct {
		name     string
		invoices []*apiInvoice
		notes    []*apiCreditNote
		window   usage.Window
		want     []revenue.Daily
		wantErr  []string
	}{
		{
			name:     "full month spread over its days adds up exactly",
			invoices: []*apiInvoice{invoice(t, "in_1", "cus_A", paid, "usd", lineSpec{10000, 10000, "2026-03-01", "2026-04-01", nil})},
			window:   march,
			want:     run(t, "cus_A", "2026-03-01", fullMonth...),
		},
		{
			name: "mid-month upgrade: negative proration line plus positive line",
			invoices: []*apiInvoice{
				invoice(t, "in_apr", "cus_A", paid, "usd", lineSpec{3000, 3000, "2026-04-01", "2026-05-01", nil}),
				invoice(t, "in_upgrade", "cus_A", open, "usd",
					lineSpec{-1500, -1500, "2026-04-16", "2026-05-01", nil}, // unused time on the $30 plan
					lineSpec{3000, 3000, "2026-04-16", "2026-05-01", nil}),  // remaining time on the $60 plan
			},
			window: april,
			want:   run(t, "cus_A", "2026-04-01", append(repeat(cents(100), 15), repeat(cents(200), 15)...)...),
		},
		{
			name: "issued credit note subtracts on its effective day; void notes and notes on void invoices do not",
			invoices: []*apiInvoice{
				invoice(t, "in_1", "cus_A", paid, "usd", lineSpec{3100, 3100, "2026-03-01", "2026-04-01", nil}),
				invoice(t, "in_void", "cus_A", stripego.InvoiceStatusVoid, "usd", lineSpec{9900, 9900, "2026-03-01", "2026-04-01", nil}),
			},
			notes: []*apiCreditNote{
				creditNote(t, "cn_1", "cus_A", "in_1", issued, "usd", 600, 500, "2026-03-10"),
				creditNote(t, "cn_void", "cus_A", "in_1", stripego.CreditNoteStatusVoid, "usd", 3100, 3100, "2026-03-11"),
				creditNote(t, "cn_on_void", "cus_A", "in_void", issued, "usd", 700, 700, "2026-03-12"),
				creditNote(t, "cn_outside", "cus_A", "in_1", issued, "usd", 100, 100, "2026-04-02"),
			},
			window: march,
			want: run(t, "cus_A", "2026-03-01", append(append(repeat(cents(100), 9), cents(100-500)),
				repeat(cents(100), 21)...)...),
		},
		{
			name: "tax excluded: exclusive tax is not in amount, inclusive tax is removed via amount_excluding_tax",
			invoices: []*apiInvoice{
				// $10.00 net plus 20% exclusive tax charged on top at invoice level.
				invoice(t, "in_excl", "cus_A", paid, "usd", lineSpec{1000, 1000, "2026-03-02", "2026-03-03", nil}),
				// $12.00 tax-inclusive price, of which $2.00 is tax.
				invoice(t, "in_incl", "cus_B", paid, "usd", lineSpec{1200, 1000, "2026-03-02", "2026-03-03", nil}),
			},
			window: march,
			want:   concat(run(t, "cus_A", "2026-03-02", cents(1000)), run(t, "cus_B", "2026-03-02", cents(1000))),
		},
		{
			name: "discounts are subtracted, each discount amount once",
			invoices: []*apiInvoice{invoice(t, "in_disc", "cus_A", paid, "usd",
				lineSpec{2000, 2000, "2026-03-02", "2026-03-03", []int64{500, 250}})},
			window: march,
			want:   run(t, "cus_A", "2026-03-02", cents(1250)),
		},
		{
			name: "missing amount_excluding_tax falls back to amount",
			invoices: []*apiInvoice{invoice(t, "in_old", "cus_A", paid, "usd",
				lineSpec{1500, 0, "2026-03-02", "2026-03-03", []int64{500}})},
			window: march,
			want:   run(t, "cus_A", "2026-03-02", cents(1000)),
		},
		{
			name: "draft, void and uncollectible invoices count nothing",
			invoices: []*apiInvoice{
				invoice(t, "in_draft", "cus_A", stripego.InvoiceStatusDraft, "usd", lineSpec{1000, 1000, "2026-03-02", "2026-03-03", nil}),
				invoice(t, "in_void", "cus_A", stripego.InvoiceStatusVoid, "usd", lineSpec{1000, 1000, "2026-03-02", "2026-03-03", nil}),
				invoice(t, "in_unc", "cus_A", stripego.InvoiceStatusUncollectible, "gbp", lineSpec{1000, 1000, "2026-03-02", "2026-03-03", nil}),
			},
			window: march,
			want:   []revenue.Daily{},
		},
		{
			name: "EUR invoice converted with its rate",
			invoices: []*apiInvoice{invoice(t, "in_eur", "cus_E", paid, "eur",
				lineSpec{30000, 30000, "2026-03-02", "2026-03-05", nil})}, // €300.00 → $324.00 over 3 days
			window: march,
			want:   run(t, "cus_E", "2026-03-02", cents(10800), cents(10800), cents(10800)),
		},
		{
			name: "currency without a rate is an error naming invoice, currency and config key",
			invoices: []*apiInvoice{invoice(t, "in_gbp", "cus_G", paid, "gbp",
				lineSpec{1000, 1000, "2026-03-02", "2026-03-03", nil})},
			window:  march,
			wantErr: []string{"invoice in_gbp", "GBP", "fx_rates.gbp"},
		},
		{
			name:    "credit note in a currency without a rate is an error too",
			notes:   []*apiCreditNote{creditNote(t, "cn_chf", "cus_G", "in_x", issued, "chf", 100, 100, "2026-03-02")},
			window:  march,
			wantErr: []string{"credit note cn_chf", "CHF", "fx_rates.chf"},
		},
		{
			name: "jpy is zero-decimal: ¥12345 is 12345 yen, not 123.45",
			invoices: []*apiInvoice{invoice(t, "in_jpy", "cus_J", paid, "jpy",
				lineSpec{12345, 12345, "2026-03-02", "2026-03-03", nil})},
			window: march,
			want:   run(t, "cus_J", "2026-03-02", 82_711_500_000), // 12345 × 0.0067 = $82.7115
		},
		{
			name: "period partly outside the window returns only the days inside",
			invoices: []*apiInvoice{invoice(t, "in_span", "cus_A", paid, "usd",
				lineSpec{1000, 1000, "2026-02-25", "2026-03-07", nil})}, // 10 days, $1.00 each
			window: usage.Window{From: day(t, "2026-03-01"), To: day(t, "2026-03-04")},
			want:   run(t, "cus_A", "2026-03-01", cents(100), cents(100), cents(100)),
		},
		{
			name: "period starting mid-day is weighted by seconds per day",
			invoices: []*apiInvoice{invoice(t, "in_noon", "cus_A", paid, "usd",
				lineSpec{400, 400, "2026-03-01T12:00:00Z", "2026-03-03T12:00:00Z", nil})},
			window: march,
			want:   run(t, "cus_A", "2026-03-01", cents(100), cents(200), cents(100)),
		},
		{
			name: "one-off line with an empty period is booked on its day; customers sort by id",
			invoices: []*apiInvoice{
				invoice(t, "in_z", "cus_Z", paid, "usd", lineSpec{5000, 5000, "2026-03-05T08:00:00Z", "2026-03-05T08:00:00Z", nil}),
				invoice(t, "in_a", "cus_A", open, "usd", lineSpec{700, 700, "2026-03-06", "2026-03-07", nil}),
			},
			window: march,
			want:   concat(run(t, "cus_A", "2026-03-06", cents(700)), run(t, "cus_Z", "2026-03-05", cents(5000))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := recognizeObjects(tc.invoices, tc.notes, tc.window, "usd", fx)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("want error mentioning %q, got rows %v", tc.wantErr, got)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows, want %d: %v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d: got %s %s %s, want %s %s %s", i, got[i].Customer, got[i].Day, got[i].Amount,
						tc.want[i].Customer, tc.want[i].Day, tc.want[i].Amount)
				}
			}
		})
	}
}

// TestRecognize_LinesAddUpExactly checks the split invariant on awkward amounts and periods: the
// days of a line inside a window that covers it add up to the line, to the nano-dollar.
func TestRecognize_LinesAddUpExactly(t *testing.T) {
	wide := usage.Window{From: day(t, "2025-01-01"), To: day(t, "2028-01-01")}
	tests := []struct {
		amount     int64
		cur        string
		start, end string
	}{
		{1, "usd", "2026-03-01T00:00:01Z", "2026-03-04T23:59:59Z"},
		{-99999, "usd", "2026-02-14T13:37:00Z", "2026-03-01T00:00:00Z"},
		{1_000_003, "eur", "2026-01-01", "2027-01-01"},
		{7, "jpy", "2026-01-31T23:00:00Z", "2026-02-28T01:00:00Z"},
		{123_456_789, "kwd", "2026-06-01", "2026-06-30T06:00:00Z"},
	}
	fx := map[string]ledger.Rate{"eur": 1_080_000_000, "jpy": 6_700_000, "kwd": 3_250_000_000}
	conv := converter{reporting: "usd", fx: fx}
	for _, tc := range tests {
		inv := invoice(t, "in_x", "cus_A", stripego.InvoiceStatusPaid, tc.cur, lineSpec{tc.amount, tc.amount, tc.start, tc.end, nil})
		got, err := recognizeObjects([]*apiInvoice{inv}, nil, wide, "usd", fx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := conv.money(tc.amount, tc.cur, "test")
		if err != nil {
			t.Fatal(err)
		}
		var sum ledger.Money
		for _, r := range got {
			sum += r.Amount
		}
		if sum != want {
			t.Errorf("%d %s over %s..%s: days add up to %s, want %s", tc.amount, tc.cur, tc.start, tc.end, sum, want)
		}
	}
}

func TestCurrencyExponent(t *testing.T) {
	for cur, want := range map[string]int{"usd": 2, "eur": 2, "jpy": 0, "krw": 0, "kwd": 3, "isk": 2, "huf": 2} {
		if got := currencyExponent(cur); got != want {
			t.Errorf("currencyExponent(%q) = %d, want %d", cur, got, want)
		}
	}
}
