package apiclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// The Decoder is held to jsontext, the decoder it replaced (with the options it was used with:
// duplicate names and invalid UTF-8 allowed, names and strings with escapes unquoted by
// jsontext.AppendUnquote): on any body both accept or both refuse, and what they accept they read
// alike, value by value.

// walk reads one value with the Decoder into a trace of what it saw: objects and arrays as
// brackets, names and strings unquoted and interned, numbers and literals as their bytes.
func walk(d *Decoder, out *strings.Builder) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		out.WriteByte('{')
		err = d.Object(func(name []byte) error {
			fmt.Fprintf(out, "k%q:", name)
			return walk(d, out)
		})
		out.WriteByte('}')
	case '[':
		out.WriteByte('[')
		_, err = d.Array(func(int) error { out.WriteByte(','); return walk(d, out) })
		out.WriteByte(']')
	case '"':
		var p *string
		if p, err = d.StrPtr(); p != nil {
			fmt.Fprintf(out, "s%q", *p)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n int64
		n, err = d.Int()
		switch {
		case err == nil:
			fmt.Fprintf(out, "i%d", n)
		case strings.Contains(err.Error(), "want an integer"): // not an int64: the value was read
			out.WriteString("i!")
			err = nil
		}
	default:
		var v []byte
		v, err = d.Raw()
		fmt.Fprintf(out, "v%s", v)
	}
	return err
}

// refWalk is walk over jsontext, reading names and strings as the jsontext-based Decoder did.
func refWalk(d *jsontext.Decoder, out *strings.Builder) error {
	text := func(raw []byte) ([]byte, error) {
		if bytes.IndexByte(raw, '\\') < 0 {
			return raw[1 : len(raw)-1], nil
		}
		return jsontext.AppendUnquote(nil, raw)
	}
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		out.WriteByte('{')
		for d.PeekKind() != '}' {
			raw, err := d.ReadValue()
			if err != nil {
				return err
			}
			name, err := text(raw)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "k%q:", name)
			if err := refWalk(d, out); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		_, err := d.ReadToken()
		return err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		out.WriteByte('[')
		for d.PeekKind() != ']' {
			out.WriteByte(',')
			if err := refWalk(d, out); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		_, err := d.ReadToken()
		return err
	}
	v, err := d.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		s, err := text(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "s%q", s)
	case '0': // as the jsontext-based Decoder's Int: an int64, or a type error
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			fmt.Fprintf(out, "i%d", n)
		} else {
			out.WriteString("i!")
		}
	default:
		fmt.Fprintf(out, "v%s", v)
	}
	return nil
}

// chunky hands out a body a few bytes at a time, so values straddle every refill.
type chunky struct {
	b   []byte
	rnd *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rnd.IntN(9))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func errText(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// compare decodes body with both and reports how they differ, if they do.
func compare(body []byte, seed uint64) error {
	var got, want strings.Builder
	// A 16-byte first buffer: the buffer is compacted and grown in the middle of values.
	d := newDecoderSize(&chunky{b: body, rnd: rand.New(rand.NewPCG(seed, 1))}, 16)
	err := walk(d, &got)
	if err == nil {
		err = d.finish()
	}
	ref := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	refErr := refWalk(ref, &want)
	if refErr == nil {
		if _, e := ref.ReadToken(); !errors.Is(e, io.EOF) {
			refErr = fmt.Errorf("after the value: %w", e)
		}
	}
	switch {
	case (err == nil) != (refErr == nil):
		return fmt.Errorf("%q: decoder error %s, jsontext error %s", body, errText(err), errText(refErr))
	case err == nil && got.String() != want.String():
		return fmt.Errorf("%q: decoder read\n%s\njsontext read\n%s", body, got.String(), want.String())
	}
	return nil
}

var decoderSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e-3`, `1E+2`, `"x"`, ` {"a" : [1, 2 , {"b":null}] } `,
	`{"a":1,"a":2}`, `{"k\u00e9y":"v\n\t\"\\\/\b\f\r"}`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\udc00\ud83d"`,
	`"\u12"`, `"\x"`, "\"a\x01b\"", "\"\xff\xfe\"", "\"\xff\\n\"", `01`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `--1`, `1.5.5`,
	`tru`, `nul`, `nulll`, `[1,]`, `[,1]`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{1:2}`, `[1 2]`, `{} {}`, `[`, `{"a":`,
	`"abc`, `"abc\`, ``, `   `, "\ufeff{}", `[[[[[]]]]]`, `{"a":{"b":{"c":[{"d":"e"}]}}}`, `1 x`, `"a"b`, `[true,false,null]`,
	`[-1.0e10,0.0,123456789012345678901234567890]`, "{\"a\":\t\r\n1}", `{"data":[{"start":1,"values":[1,2]}],"has_more":false}`,
}

func FuzzDecoder_MatchesJSONText(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		if err := compare(body, seed); err != nil {
			t.Fatal(err)
		}
	})
}

// genValue writes a random JSON value: whitespace anywhere, escapes, nesting, every number form.
func genValue(r *rand.Rand, b *bytes.Buffer, depth int) {
	ws := func() {
		for range r.IntN(3) {
			b.WriteByte(" \t\n\r"[r.IntN(4)])
		}
	}
	ws()
	switch k := r.IntN(10); {
	case k < 2 && depth < 5:
		b.WriteByte('{')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			genString(r, b)
			ws()
			b.WriteByte(':')
			genValue(r, b, depth+1)
		}
		ws()
		b.WriteByte('}')
	case k < 4 && depth < 5:
		b.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			genValue(r, b, depth+1)
		}
		ws()
		b.WriteByte(']')
	case k < 6:
		genString(r, b)
	case k < 9:
		nums := []string{"0", "-0", "7", "-12", "3.25", "1e9", "-2.5E-3", "0.0", "9223372036854775807", "9223372036854775808",
			"-9223372036854775808", "999999999999999999", "1000000000000000000", "1e400", "12345678901234567890", "120"}
		b.WriteString(nums[r.IntN(len(nums))])
	default:
		b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
	}
	ws()
}

func genString(r *rand.Rand, b *bytes.Buffer) {
	b.WriteByte('"')
	for range r.IntN(12) {
		switch r.IntN(12) {
		case 0:
			b.WriteString([]string{`\n`, `\"`, `\\`, `\/`, `\t`, `\u00e9`, `\u2028`, `\ud83d\ude00`, `\b\f\r`}[r.IntN(9)])
		case 1:
			b.WriteString("é€😀")
		default:
			const plain = "abcdefghij_-0123 ~/"
			b.WriteByte(plain[r.IntN(len(plain))])
		}
	}
	b.WriteByte('"')
}

// On generated JSON, and on each of it cut, with a byte changed, dropped or inserted, the
// Decoder accepts and refuses what jsontext does and reads what it reads.
func TestDecoder_MatchesJSONTextOnGeneratedBodies(t *testing.T) {
	for _, s := range decoderSeeds {
		if err := compare([]byte(s), 1); err != nil {
			t.Error(err)
		}
	}
	r := rand.New(rand.NewPCG(12, 34))
	accepted, refused := 0, 0
	for i := range 3000 {
		var b bytes.Buffer
		genValue(r, &b, 0)
		body := b.Bytes()
		for m := range 4 {
			v := bytes.Clone(body)
			if m > 0 && len(v) > 0 {
				at := r.IntN(len(v))
				switch m {
				case 1:
					v = v[:at]
				case 2:
					const mut = `{}[],:"\ 0-.eE+tfnlu`
					v[at] = mut[r.IntN(len(mut))]
				case 3:
					const ins = `{}[],:"\ 0-x`
					v = append(v[:at:at], append([]byte{ins[r.IntN(len(ins))]}, v[at:]...)...)
				}
			}
			if err := compare(v, uint64(i)); err != nil {
				t.Fatal(err)
			}
			var tmp strings.Builder
			if walk(newDecoderSize(bytes.NewReader(v), 16), &tmp) == nil {
				accepted++
			} else {
				refused++
			}
		}
	}
	if accepted < 3000 || refused < 3000 {
		t.Fatalf("%d accepted, %d refused: the generator does not reach both", accepted, refused)
	}
}

// A failure names the JSON pointer of the value being read (names escaped per RFC 6901) and the
// byte where the body went wrong; a body cut short is io.ErrUnexpectedEOF.
func TestDecoder_ErrorsSayWhere(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"data":[{"a/b~c":[1,2,x]}]}`, `/data/0/a~1b~0c/2: invalid character 'x' at start of value at byte 23`},
		{`{"data":[{"n":01}]}`, `/data/0/n: invalid character '1' in number at byte 15`},
		{`{"data":[{"s":"a\qb"}]}`, `/data/0/s: invalid escape sequence "\\q" in string at byte 16`},
		{"{\"s\":\"a\tb\"}", `/s: invalid character 0x09 in string (control characters must be escaped) at byte 7`},
		{`{"a":1 "b":2}`, `/a: invalid character '"' after a member value (want ',' or '}') at byte 7`},
		{`[1,2`, `/1: unexpected end of the body at byte 4`},
		{`{"a":[true] } x`, `invalid character 'x' after the JSON value at byte 14`},
	} {
		d := NewDecoder(strings.NewReader(tc.body))
		var out strings.Builder
		err := walk(d, &out)
		if err == nil {
			err = d.finish()
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %s", tc.body, err, tc.want)
		}
	}
	d := NewDecoder(strings.NewReader(`{"a":[1,`))
	var out strings.Builder
	if err := walk(d, &out); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut body: %v, want io.ErrUnexpectedEOF", err)
	}
}

// A read error other than the body's end is returned as it is, for the client to retry.
func TestDecoder_ReadErrorIsReturned(t *testing.T) {
	broken := errors.New("connection reset")
	d := NewDecoder(io.MultiReader(strings.NewReader(`{"a":[1,2`), iotestErr{broken}))
	var out strings.Builder
	if err := walk(d, &out); !errors.Is(err, broken) {
		t.Fatalf("got %v, want the read error", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// A single value far larger than the first buffer is read whole (the buffer grows to hold it)
// and nesting is bounded.
func TestDecoder_LargeValuesAndDepth(t *testing.T) {
	long := strings.Repeat("é\\n", 50_000)
	d := newDecoderSize(strings.NewReader(`["`+long+`", {"skip": ["`+long+`"]}, 12345678901234567]`), 16)
	var got []string
	_, err := d.Array(func(i int) error {
		if i == 1 {
			raw, err := d.Raw()
			got = append(got, strconv.Itoa(len(raw)))
			return err
		}
		s, err := d.Str()
		got = append(got, strconv.Itoa(len(s)))
		if i == 2 && err == nil {
			t.Error("a number read as a string")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"150000", strconv.Itoa(len(`{"skip": ["` + long + `"]}`)), "0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("lengths %v, want %v", got, want)
	}
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if err := NewDecoder(strings.NewReader(deep)).Skip(); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Fatalf("nesting %d deep: %v", maxDepth+1, err)
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if err := NewDecoder(strings.NewReader(ok)).Skip(); err != nil {
		t.Fatalf("nesting %d deep: %v", maxDepth, err)
	}
}
