package stripe

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

const secondsPerDay = 86400

// zeroDecimal are the currencies whose Stripe amounts are whole units (docs.stripe.com/currencies
// "Zero-decimal currencies"). ISK, HUF and TWD are zero-decimal by ISO but Stripe still expresses
// them with two decimals for backwards compatibility, so they are not listed.
var zeroDecimal = map[string]bool{
	"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true, "krw": true,
	"mga": true, "pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true,
	"xof": true, "xpf": true,
}

// threeDecimal are the currencies Stripe expresses in thousandths (docs.stripe.com/currencies
// "Three-decimal currencies").
var threeDecimal = map[string]bool{"bhd": true, "jod": true, "kwd": true, "omr": true, "tnd": true}

// currencyExponent returns how many decimals a Stripe amount in cur carries.
func currencyExponent(cur string) int {
	switch {
	case zeroDecimal[cur]:
		return 0
	case threeDecimal[cur]:
		return 3
	}
	return 2
}

// converter turns Stripe minor-unit amounts into reporting-currency Money.
type converter struct {
	reporting string
	fx        map[string]ledger.Rate
}

// money converts amount (minor units of cur) for the object named by what ("invoice in_123").
// A currency without a configured rate is an error, never a silent zero.
func (c converter) money(amount int64, cur, what string) (ledger.Money, error) {
	cur = strings.ToLower(cur)
	m, err := ledger.FromMinorUnits(amount, currencyExponent(cur))
	if err != nil {
		return 0, fmt.Errorf("%s: amount %d %s: %w", what, amount, cur, err)
	}
	if cur == c.reporting {
		return m, nil
	}
	rate, ok := c.fx[cur]
	if !ok {
		return 0, fmt.Errorf("%s is in %s but there is no exchange rate to %s: set fx_rates.%s in the config",
			what, strings.ToUpper(cur), strings.ToUpper(c.reporting), cur)
	}
	return rate.Apply(m), nil
}

// recognised reports whether an invoice's lines count as revenue: only finalized invoices that
// still stand (open or paid). Draft, void and uncollectible invoices count nothing.
func recognised(s stripego.InvoiceStatus) bool {
	return s == stripego.InvoiceStatusOpen || s == stripego.InvoiceStatusPaid
}

// lineNetMinor returns what a line earns, in minor units, net of discounts and excluding tax.
//
// Field meanings in API version 2023-10-16 (stripe-go v76 field docs):
//   - amount: the line's amount before discounts; it includes tax only when the price is
//     tax-inclusive (exclusive tax is added on top at invoice level and is not in amount).
//   - amount_excluding_tax: "the amount for this line item, excluding all tax and discounts", i.e.
//     amount less any inclusive tax, with discounts not yet subtracted. Present since 2022-08-01.
//   - discount_amounts[].amount: each discount's deduction from this line (line-level discounts
//     and this line's share of invoice-level ones), so their sum is subtracted once.
//
// stripe-go decodes a missing amount_excluding_tax as 0; a non-zero amount can never be all tax,
// so 0 next to a non-zero amount means the field was absent and amount is used instead.
func lineNetMinor(l *apiInvoiceLine) int64 {
	net := l.AmountExcludingTax
	if net == 0 && l.Amount != 0 {
		net = l.Amount
	}
	for _, d := range l.DiscountAmounts {
		if d != nil {
			net -= d.Amount
		}
	}
	return net
}

// creditNoteNetMinor returns what an issued credit note takes back, in minor units, excluding tax.
// total_excluding_tax is documented as "the total amount of the credit note, excluding tax, but
// including discounts": the revenue reversed. When it is absent (0 beside a non-zero total), the
// total less its tax amounts is used.
func creditNoteNetMinor(cn *apiCreditNote) int64 {
	if cn.TotalExcludingTax != 0 || cn.Total == 0 {
		return cn.TotalExcludingTax
	}
	net := cn.Total
	for _, t := range cn.TaxAmounts {
		if t != nil {
			net -= t.Amount
		}
	}
	return net
}

// daySpread splits amount over the UTC days of [start, end) in proportion to the seconds of the
// period in each day, exactly (ledger.Split). A period without length books everything on the day
// of start.
func daySpread(amount ledger.Money, start, end int64) ([]usage.Day, []ledger.Money) {
	first := usage.DayOf(time.Unix(start, 0))
	if end <= start {
		return []usage.Day{first}, []ledger.Money{amount}
	}
	last := usage.DayOf(time.Unix(end-1, 0))
	days := make([]usage.Day, 0, int(last-first)+1)
	weights := make([]int64, 0, cap(days))
	for d := first; d <= last; d++ {
		dayStart := int64(d) * secondsPerDay
		lo, hi := max(start, dayStart), min(end, dayStart+secondsPerDay)
		days = append(days, d)
		weights = append(weights, hi-lo)
	}
	return days, ledger.Split(amount, weights)
}

// recognizeObjects turns invoices and credit notes into recognised revenue per customer and UTC day,
// in the reporting currency, for the days of w only.
//
// Each line of an open or paid invoice earns its amount net of discounts and excluding tax,
// spread over its service period (period.start..period.end) by the seconds in each UTC day; the
// days of one line add up exactly to the line. Issued credit notes subtract their amount excluding
// tax on the day they take effect (effective_at, else created); void notes count nothing, and so
// does a note on an invoice given here that is not recognised (it never counted). Amounts in a
// currency other than reporting are converted with fx (reporting-currency units per unit, lower-case
// keys); a currency with no rate is an error naming the invoice or note and the config key.
// The result is sorted by customer, then day.
func recognizeObjects(invoices []*apiInvoice, notes []*apiCreditNote, w usage.Window,
	reporting string, fx map[string]ledger.Rate) ([]revenue.Daily, error) {
	ri := make([]recInvoice, 0, len(invoices))
	for _, inv := range invoices {
		if inv != nil {
			ri = append(ri, recInvoiceOf(inv))
		}
	}
	rn := make([]recNote, 0, len(notes))
	for _, cn := range notes {
		if cn != nil {
			rn = append(rn, recNoteOf(cn))
		}
	}
	return recognize(ri, rn, w, converter{reporting: strings.ToLower(reporting), fx: fx})
}

// recInvoice is what recognition reads of an invoice: a held invoice of the incremental reader
// is this, not the whole stripe-go object.
type recInvoice struct {
	id, customer, currency string
	status                 stripego.InvoiceStatus
	created                int64
	lines                  []recLine // only when the status is recognised
}

// recLine is one line: what it earns (minor units, net of discounts, excluding tax) over its
// service period.
type recLine struct{ net, start, end int64 }

// recNote is what recognition reads of a credit note.
type recNote struct {
	id, customer, invoice, currency string
	status                          stripego.CreditNoteStatus
	net, at, created                int64
}

func recInvoiceOf(inv *apiInvoice) recInvoice {
	r := recInvoice{id: inv.ID, currency: string(inv.Currency), status: inv.Status, created: inv.Created}
	if inv.Customer != nil {
		r.customer = inv.Customer.ID
	}
	if recognised(inv.Status) && inv.Lines != nil {
		r.lines = make([]recLine, 0, len(inv.Lines.Data))
		for _, line := range inv.Lines.Data {
			if line == nil {
				continue
			}
			start, end := linePeriod(inv, line)
			r.lines = append(r.lines, recLine{net: lineNetMinor(line), start: start, end: end})
		}
	}
	return r
}

func recNoteOf(cn *apiCreditNote) recNote {
	r := recNote{id: cn.ID, currency: string(cn.Currency), status: cn.Status, net: creditNoteNetMinor(cn), at: cn.EffectiveAt, created: cn.Created}
	if r.at == 0 {
		r.at = cn.Created
	}
	if cn.Customer != nil {
		r.customer = cn.Customer.ID
	}
	if cn.Invoice != nil {
		r.invoice = cn.Invoice.ID
	}
	return r
}

// recognize is recognizeObjects over the trimmed forms.
func recognize(invoices []recInvoice, notes []recNote, w usage.Window, conv converter) ([]revenue.Daily, error) {
	type key struct {
		customer string
		day      usage.Day
	}
	totals := map[key]ledger.Money{}
	add := func(customer string, day usage.Day, m ledger.Money) {
		if m != 0 && w.Contains(day) {
			totals[key{customer, day}] += m
		}
	}

	status := make(map[string]stripego.InvoiceStatus, len(invoices))
	for i := range invoices {
		inv := &invoices[i]
		status[inv.id] = inv.status
		if !recognised(inv.status) {
			continue
		}
		if inv.customer == "" {
			return nil, fmt.Errorf("invoice %s has no customer", inv.id)
		}
		what := "invoice " + inv.id
		for _, line := range inv.lines {
			m, err := conv.money(line.net, inv.currency, what)
			if err != nil {
				return nil, err
			}
			days, parts := daySpread(m, line.start, line.end)
			for i, d := range days {
				add(inv.customer, d, parts[i])
			}
		}
	}

	for i := range notes {
		cn := &notes[i]
		if cn.status != stripego.CreditNoteStatusIssued {
			continue
		}
		if cn.invoice != "" {
			if s, known := status[cn.invoice]; known && !recognised(s) {
				continue
			}
		}
		if cn.customer == "" {
			return nil, fmt.Errorf("credit note %s has no customer", cn.id)
		}
		m, err := conv.money(cn.net, cn.currency, "credit note "+cn.id)
		if err != nil {
			return nil, err
		}
		add(cn.customer, usage.DayOf(time.Unix(cn.at, 0)), -m)
	}

	out := make([]revenue.Daily, 0, len(totals))
	for k, m := range totals {
		out = append(out, revenue.Daily{Customer: k.customer, Day: k.day, Amount: m})
	}
	sortby.Func(out, func(a, b revenue.Daily) int {
		return cmp.Or(strings.Compare(a.Customer, b.Customer), cmp.Compare(a.Day, b.Day))
	})
	return out, nil
}

// linePeriod returns a line's service period. Every subscription and invoice-item line carries
// one; should it be missing, the line is booked when the invoice took effect.
func linePeriod(inv *apiInvoice, line *apiInvoiceLine) (int64, int64) {
	if line.Period != nil && (line.Period.Start != 0 || line.Period.End != 0) {
		return line.Period.Start, line.Period.End
	}
	at := inv.EffectiveAt
	if at == 0 && inv.StatusTransitions != nil {
		at = inv.StatusTransitions.FinalizedAt
	}
	if at == 0 {
		at = inv.Created
	}
	return at, at
}
