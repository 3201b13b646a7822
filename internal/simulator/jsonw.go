package simulator

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/marginhq/margin/internal/ledger"
)

// jw appends JSON by hand. The usage endpoints can return hundreds of thousands of rows per page;
// appending numbers with strconv is several times faster than reflection-based encoding, and it
// lets money be written from its exact decimal text.
type jw struct {
	b     []byte
	comma bool // a value was written at this level, so the next one needs a comma
	// out, when set, receives the body in chunks as it grows, so a large page never sits in
	// memory whole; started says the status line has gone out.
	out     http.ResponseWriter
	started bool
}

const flushBytes = 64 << 10

// streaming makes j write large bodies to rw as they grow.
func (j *jw) streaming(rw http.ResponseWriter) { j.out = rw }

func (j *jw) maybeFlush() {
	if j.out == nil || len(j.b) < flushBytes {
		return
	}
	if !j.started {
		j.out.Header().Set("Content-Type", "application/json")
		j.out.WriteHeader(http.StatusOK)
		j.started = true
	}
	_, _ = j.out.Write(j.b)
	j.b = j.b[:0]
}

// finish sends what is left of a 200 response.
func (j *jw) finish(rw http.ResponseWriter) {
	if !j.started {
		writeJSON(rw, http.StatusOK, j.b)
		return
	}
	_, _ = j.out.Write(j.b)
}

func (j *jw) sep() {
	if j.comma {
		j.b = append(j.b, ',')
	}
	j.comma = true
}

// key writes an object key; keys are constant ASCII identifiers and need no escaping.
func (j *jw) key(k string) {
	j.sep()
	j.b = append(j.b, '"')
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
	j.comma = false
}

// appendString quotes v, skipping the escaping work for the plain ASCII that ids and model names are.
func appendString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if quoted[v[i]] {
			return strconv.AppendQuote(b, v)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// quoted marks the bytes appendString leaves to strconv.AppendQuote.
var quoted = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

func (j *jw) open(c byte)  { j.sep(); j.b = append(j.b, c); j.comma = false }
func (j *jw) close(c byte) { j.b = append(j.b, c); j.comma = true; j.maybeFlush() }

func (j *jw) obj(k string) { j.key(k); j.open('{') }
func (j *jw) arr(k string) { j.key(k); j.open('[') }

func (j *jw) str(k, v string) { j.key(k); j.sep(); j.b = appendString(j.b, v) }

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

// dollars writes an amount as a JSON number in dollars, from its exact decimal text.
func (j *jw) dollars(k string, m ledger.Money) { j.key(k); j.sep(); j.b = appendScaled(j.b, m, 9) }

// dollarText is the exact decimal text of an amount ("1.8423", "3.00"), valid as a JSON number. It
// matches ledger.Money.String without going through fmt, which dominated large cost pages.
func dollarText(m ledger.Money) string { return scaledText(m, 9) }

// scaledText writes m/10^digits with trailing zeros trimmed to at least two decimals.
func scaledText(m ledger.Money, digits int) string { return string(appendScaled(nil, m, digits)) }

// appendScaled appends scaledText(m, digits) to b without allocating.
func appendScaled(b []byte, m ledger.Money, digits int) []byte {
	neg := m < 0
	u := uint64(m) // #nosec G115 -- the bit pattern of a non-negative m; negative m is negated on the next line
	if neg {
		u = uint64(-m)
		b = append(b, '-')
	}
	var pow uint64 = 1
	for i := 0; i < digits; i++ {
		pow *= 10
	}
	b = strconv.AppendUint(b, u/pow, 10)
	b = append(b, '.')
	frac := len(b)
	b = strconv.AppendUint(b, u%pow+pow, 10) // a leading 1, then the digits zero-padded
	b = append(b[:frac], b[frac+1:]...)
	for len(b)-frac > 2 && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	return b
}

// lit appends constant JSON text (keys and punctuation written as one piece); the caller keeps
// the comma state right.
func (j *jw) lit(s string) { j.b = append(j.b, s...) }

// strOrNullValue appends v quoted, or null for "".
// jsonText is s as a JSON string, or "" for "".
func jsonText(s string) string {
	if s == "" {
		return ""
	}
	return string(appendString(nil, s))
}

// quotedOrNull writes a text jsonText quoted, or null for "".
func (j *jw) quotedOrNull(v string) {
	if v == "" {
		j.b = append(j.b, "null"...)
		return
	}
	j.b = append(j.b, v...)
}

func (j *jw) strOrNullValue(v string) {
	if v == "" {
		j.b = append(j.b, "null"...)
		return
	}
	j.b = appendString(j.b, v)
}

// centText writes nano-dollars as a decimal number of cents ("27.3702"), Anthropic's encoding.
func centText(m ledger.Money) string { return scaledText(m, 7) } // 1 cent = 1e7 nano-dollars

// writeValue answers with v through encoding/json: the small pages (errors, lists of projects and
// keys, the current key, credits). Only the usage, cost and activity pages, which run to hundreds
// of megabytes, are written by hand with jw.
func writeValue(rw http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // the fakes' own types always marshal
	}
	writeJSON(rw, status, body)
}

// dollarNumber is an amount as a JSON number in dollars, from its exact decimal text.
func dollarNumber(m ledger.Money) json.Number { return json.Number(dollarText(m)) }

func writeJSON(rw http.ResponseWriter, status int, body []byte) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}
