package simulator

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/marginhq/margin/internal/ledger"
)

// jw appends JSON by hand. The usage endpoints can return hundreds of thousands of rows per page;
// appending numbers with strconv is several times faster than reflection-based encoding, and it
// lets money be written from its exact decimal text.
type jw struct {
	b     []byte
	comma bool // a value was written at this level, so the next one needs a comma
}

func (j *jw) sep() {
	if j.comma {
		j.b = append(j.b, ',')
	}
	j.comma = true
}

func (j *jw) key(k string) {
	j.sep()
	j.b = strconv.AppendQuote(j.b, k)
	j.b = append(j.b, ':')
	j.comma = false
}

func (j *jw) open(c byte)  { j.sep(); j.b = append(j.b, c); j.comma = false }
func (j *jw) close(c byte) { j.b = append(j.b, c); j.comma = true }

func (j *jw) obj(k string) { j.key(k); j.open('{') }
func (j *jw) arr(k string) { j.key(k); j.open('[') }

func (j *jw) str(k, v string) { j.key(k); j.sep(); j.b = strconv.AppendQuote(j.b, v) }

// strOrNull writes null for "".
func (j *jw) strOrNull(k, v string) {
	if v == "" {
		j.null(k)
		return
	}
	j.str(k, v)
}

func (j *jw) int(k string, v int64) { j.key(k); j.sep(); j.b = strconv.AppendInt(j.b, v, 10) }
func (j *jw) null(k string)         { j.key(k); j.sep(); j.b = append(j.b, "null"...) }
func (j *jw) bool(k string, v bool) { j.key(k); j.sep(); j.b = strconv.AppendBool(j.b, v) }
func (j *jw) raw(k, v string)       { j.key(k); j.sep(); j.b = append(j.b, v...) }

// dollars writes an amount as a JSON number in dollars, from its exact decimal text.
func (j *jw) dollars(k string, m ledger.Money) { j.raw(k, dollarText(m)) }

func dollarText(m ledger.Money) string {
	s := m.String()
	// Money.String keeps two decimals; a provider would write 3 rather than 3.00 but both decode alike.
	return s
}

// centText writes nano-dollars as a decimal number of cents ("27.3702"), Anthropic's encoding.
func centText(m ledger.Money) string {
	neg := m < 0
	if neg {
		m = -m
	}
	// 1 cent = 1e7 nano-dollars: cents with seven decimals.
	whole := int64(m) / 10_000_000
	frac := strconv.FormatInt(int64(m)%10_000_000+10_000_000, 10)[1:]
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	s := strconv.FormatInt(whole, 10) + "." + frac
	if neg {
		s = "-" + s
	}
	return s
}

func writeJSON(rw http.ResponseWriter, status int, body []byte) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}
