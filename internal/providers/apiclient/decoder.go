package apiclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoder reads a JSON page as it arrives, value by value, for the providers' hand-written
// element decoders. It scans bytes straight from a buffer it refills from the body: no general
// tokenizer state machine, no whole-body buffer (only the value being read is kept, so the buffer
// grows past its first size only for a single value larger than it). Every value, skipped ones
// included, is checked against the JSON grammar, and a failure names the JSON pointer of the value
// being read and the byte of the body where it went wrong.
//
// Strings are interned for the life of one paging loop: a page repeats the same few thousand ids
// and model names hundreds of thousands of times, and each is allocated once. Duplicate names are
// allowed, as encoding/json allows them; invalid UTF-8 in a string without escapes is kept as
// bytes, as ids and names are compared, never shown raw (a string with escapes must unquote to
// valid UTF-8).
type Decoder struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte of buf
	end  int   // buf[pos:end] is read and not yet consumed
	tok  int   // start of the scalar being scanned, kept across refills; -1 when none
	mark int   // start of the composite Raw is reading, kept across refills; -1 when none
	base int64 // body offset of buf[0]
	rerr error // the reader's error once it returned one, io.EOF included

	stack   []frame // where in the page the value being read is, for errors
	strs    map[string]*string
	recent  *[1 << recentBits]*string // the texts last interned, by recentSlot
	scratch []byte
}

// frame is one open object or array of the page.
type frame struct {
	array bool
	index int    // the element being read (-1: none yet)
	name  []byte // the member being read, unquoted (nil: none yet)
	named bool
}

const (
	decodeBufSize = 64 << 10
	// maxDepth bounds nesting, as jsontext and encoding/json do, so a hostile body cannot grow
	// the stack without end.
	maxDepth = 10000
)

// NewDecoder returns a decoder of r with an empty string table.
func NewDecoder(r io.Reader) *Decoder { return newDecoderSize(r, decodeBufSize) }

// newDecoderSize is NewDecoder with a first buffer of size bytes.
func newDecoderSize(r io.Reader, size int) *Decoder {
	d := &Decoder{strs: map[string]*string{}, recent: new([1 << recentBits]*string), buf: make([]byte, max(size, 1))}
	d.reset(r)
	return d
}

// reset points d at a new body, keeping its string table and buffer.
func (d *Decoder) reset(r io.Reader) {
	d.r, d.pos, d.end, d.tok, d.mark, d.base, d.rerr = r, 0, 0, -1, -1, 0, nil
	d.stack = d.stack[:0]
}

// more reads more of the body, keeping the unconsumed bytes and any value being scanned, and
// reports whether there is more to scan. At the body's end or a read error it reports false
// (d.rerr says which).
func (d *Decoder) more() bool {
	if d.rerr != nil {
		return false
	}
	keep := d.pos
	if d.tok >= 0 {
		keep = min(keep, d.tok)
	}
	if d.mark >= 0 {
		keep = min(keep, d.mark)
	}
	if keep > 0 {
		d.end = copy(d.buf, d.buf[keep:d.end])
		d.base += int64(keep)
		d.pos -= keep
		if d.tok >= 0 {
			d.tok -= keep
		}
		if d.mark >= 0 {
			d.mark -= keep
		}
	}
	if d.end == len(d.buf) { // one value fills the buffer: make room for the rest of it
		d.buf = append(d.buf, make([]byte, len(d.buf))...)
	}
	for range 100 {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if err != nil {
			d.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// SyntaxError is a body that is not JSON, or ends inside its value.
type SyntaxError struct {
	Pointer string // JSON pointer of the value being read ("" at the top)
	Offset  int64  // byte of the body
	Msg     string
	Err     error // io.ErrUnexpectedEOF for a body cut short
}

func (e *SyntaxError) Error() string {
	if e.Pointer == "" {
		return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset)
	}
	return fmt.Sprintf("%s: %s at byte %d", e.Pointer, e.Msg, e.Offset)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// syntax is the error for byte c at d.pos, which is no JSON where it is.
func (d *Decoder) syntax(c byte, where string) error {
	return &SyntaxError{Pointer: d.pointer(), Offset: d.base + int64(d.pos), Msg: fmt.Sprintf("invalid character %s %s", quoteChar(c), where)}
}

// ended is the error for a body that stopped: cut short, or the reader's own failure (which the
// client sees through its counting reader and retries).
func (d *Decoder) ended() error {
	if d.rerr != nil && !errors.Is(d.rerr, io.EOF) {
		return d.rerr
	}
	return &SyntaxError{Pointer: d.pointer(), Offset: d.base + int64(d.end), Msg: "unexpected end of the body", Err: io.ErrUnexpectedEOF}
}

func quoteChar(c byte) string {
	if c < ' ' || c >= utf8.RuneSelf {
		return fmt.Sprintf("%#02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

// pointer is the RFC 6901 JSON pointer of the value being read.
func (d *Decoder) pointer() string {
	var b []byte
	for i := range d.stack {
		f := &d.stack[i]
		switch {
		case f.array && f.index >= 0:
			b = strconv.AppendInt(append(b, '/'), int64(f.index), 10)
		case !f.array && f.named:
			b = append(b, '/')
			for _, c := range f.name {
				switch c {
				case '~':
					b = append(b, "~0"...)
				case '/':
					b = append(b, "~1"...)
				default:
					b = append(b, c)
				}
			}
		}
	}
	return string(b)
}

func (d *Decoder) push(array bool) (int, error) {
	if len(d.stack) >= maxDepth {
		return 0, &SyntaxError{Pointer: d.pointer(), Offset: d.base + int64(d.pos), Msg: fmt.Sprintf("nesting deeper than %d", maxDepth)}
	}
	if len(d.stack) < cap(d.stack) {
		d.stack = d.stack[:len(d.stack)+1]
		f := &d.stack[len(d.stack)-1]
		f.array, f.index, f.name, f.named = array, -1, f.name[:0], false
	} else {
		d.stack = append(d.stack, frame{array: array, index: -1})
	}
	return len(d.stack) - 1, nil
}

// peek skips whitespace and returns the next byte without consuming it. The common case, a
// byte that is not whitespace, is inlined at the call.
func (d *Decoder) peek() (byte, error) {
	if p := d.pos; p < len(d.buf) && p < d.end && !space[d.buf[p]] {
		return d.buf[p], nil
	}
	return d.skipSpace()
}

func (d *Decoder) skipSpace() (byte, error) {
	for {
		buf, i := d.buf[:d.end], d.pos
		for ; i < len(buf); i++ {
			c := buf[i]
			if !space[c] {
				d.pos = i
				return c, nil
			}
			// Indentation: eight spaces at a time.
			for c == ' ' && i+9 <= len(buf) && binary.LittleEndian.Uint64(buf[i+1:]) == spaces8 {
				i += 8
			}
		}
		d.pos = i
		if !d.more() {
			return 0, d.ended()
		}
	}
}

const spaces8 = 0x2020202020202020

// space marks JSON's whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// strPlain marks the bytes a string holds as they are: not '"', '\\' nor a control character.
var strPlain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= ' ' && c != '"' && c != '\\'
	}
	return t
}()

// special8 has the high bit set in each byte of x that is '"', '\\' or a control character, and
// is exact for the lowest such byte (above it a borrow may mark a plain byte too).
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q, b := x^(lo*'"'), x^(lo*'\\')
	return ((q-lo)&^q | (b-lo)&^b | (x-lo*' ')&^x) & hi
}

// scanString consumes the string at d.pos and returns it quoted, valid until the next read, and
// whether it holds an escape. Escapes are checked; unquote decodes them.
func (d *Decoder) scanString() (s []byte, esc bool, err error) {
	// The common case first: no escape, and the closing quote within the buffer.
	buf := d.buf[d.pos:d.end]
	for i := 1; i+8 <= len(buf); i += 8 {
		if m := special8(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
			if i += bits.TrailingZeros64(m) / 8; buf[i] == '"' {
				d.pos += i + 1
				return buf[:i+1], false, nil
			}
			break
		}
	}
	return d.scanStringSlow()
}

func (d *Decoder) scanStringSlow() (s []byte, esc bool, err error) {
	d.tok = d.pos
	i := d.pos + 1
	for {
		buf := d.buf[:d.end]
	scan:
		for i < len(buf) {
			// Eight plain bytes at a time; the first that is not plain ends the run exactly.
			for i+8 <= len(buf) {
				if m := special8(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
					i += bits.TrailingZeros64(m) / 8
					break
				}
				i += 8
			}
			if i >= len(buf) {
				break
			}
			c := buf[i]
			if strPlain[c] {
				i++
				continue
			}
			switch c {
			case '"':
				s = buf[d.tok : i+1]
				d.tok, d.pos = -1, i+1
				return s, esc, nil
			case '\\':
				esc = true
				if i+1 >= len(buf) {
					break scan
				}
				switch buf[i+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					i += 2
				case 'u':
					if i+6 > len(buf) {
						break scan
					}
					if !isHex4(buf[i+2 : i+6]) {
						return d.badEscape(i, buf[i:i+6])
					}
					i += 6
				default:
					return d.badEscape(i, buf[i:i+2])
				}
			default:
				d.pos = i
				d.tok = -1
				return nil, false, d.syntax(c, "in string (control characters must be escaped)")
			}
		}
		off := i - d.tok
		if !d.more() {
			d.tok = -1
			return nil, false, d.ended()
		}
		i = d.tok + off
	}
}

func (d *Decoder) badEscape(i int, esc []byte) ([]byte, bool, error) {
	d.pos, d.tok = i, -1
	return nil, false, &SyntaxError{Pointer: d.pointer(), Offset: d.base + int64(i), Msg: fmt.Sprintf("invalid escape sequence %q in string", esc)}
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// unquote appends the text of the quoted string s, whose escapes scanString checked, to dst. A
// string with escapes must be valid UTF-8 and its \u escapes whole characters (a surrogate half
// alone is refused), as jsontext.AppendUnquote requires.
func (d *Decoder) unquote(dst, s []byte) ([]byte, error) {
	s = s[1 : len(s)-1]
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			i = len(s)
		}
		if !utf8.Valid(s[:i]) {
			return dst, d.badString("invalid UTF-8")
		}
		dst = append(dst, s[:i]...)
		if s = s[i:]; len(s) == 0 {
			break
		}
		switch c := s[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[2:6])
			if utf16.IsSurrogate(r) {
				if len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
					return dst, d.badString(fmt.Sprintf("invalid escape sequence %q (a lone surrogate half)", s[:6]))
				}
				if r = utf16.DecodeRune(r, hex4(s[8:12])); r == utf8.RuneError {
					return dst, d.badString(fmt.Sprintf("invalid escape sequence %q (not a surrogate pair)", s[:12]))
				}
				s = s[6:]
			}
			dst = utf8.AppendRune(dst, r)
			s = s[6:]
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		s = s[2:]
	}
	return dst, nil
}

func (d *Decoder) badString(msg string) error {
	return &SyntaxError{Pointer: d.pointer(), Offset: d.base + int64(d.pos), Msg: "string with " + msg}
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// numByte marks the bytes a number may hold. Nothing that may follow a number in JSON is one,
// so the run of them is the whole number, checked against the grammar once complete.
var numByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()

// scanNumber consumes the number at d.pos and returns its bytes, valid until the next read.
func (d *Decoder) scanNumber() ([]byte, error) {
	d.tok = d.pos
	i := d.pos + 1
	for {
		for i < d.end && numByte[d.buf[i]] {
			i++
		}
		if i < d.end {
			break
		}
		off := i - d.tok
		ok := d.more() // which may move the number to the buffer's start
		i = d.tok + off
		if !ok {
			if !errors.Is(d.rerr, io.EOF) {
				d.tok = -1
				return nil, d.ended()
			}
			break // the body ends with the number
		}
	}
	v := d.buf[d.tok:i]
	d.pos, d.tok = i, -1
	if n := numberLen(v); n != len(v) {
		d.pos -= len(v) - n
		return nil, d.syntax(v[n], "in number")
	}
	return v, nil
}

// numberLen is len(v) when v is one JSON number, and otherwise the index of the first byte of v
// the number grammar refuses (the last byte when v stops where a digit must follow).
func numberLen(v []byte) int {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && '1' <= v[i] && v[i] <= '9':
		for i++; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
		}
	default:
		return min(i, len(v)-1)
	}
	if i < len(v) && v[i] == '.' {
		i++
		if i >= len(v) || v[i] < '0' || v[i] > '9' {
			return min(i, len(v)-1)
		}
		for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if i >= len(v) || v[i] < '0' || v[i] > '9' {
			return min(i, len(v)-1)
		}
		for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
		}
	}
	return i
}

// scanLiteral consumes true, false or null at d.pos and returns its bytes.
func (d *Decoder) scanLiteral(lit string) ([]byte, error) {
	d.tok = d.pos
	for d.end-d.tok < len(lit) {
		if !d.more() {
			break
		}
	}
	d.tok = -1
	n := min(len(lit), d.end-d.pos)
	for k := range n {
		if d.buf[d.pos+k] != lit[k] {
			d.pos += k
			return nil, d.syntax(d.buf[d.pos], "in literal "+lit)
		}
	}
	if n < len(lit) {
		return nil, d.ended()
	}
	v := d.buf[d.pos : d.pos+n]
	d.pos += n
	return v, nil
}

// scalar consumes the string, number or literal starting with c at d.pos.
func (d *Decoder) scalar(c byte) ([]byte, error) {
	switch {
	case c == '"':
		s, _, err := d.scanString()
		return s, err
	case c == '-' || '0' <= c && c <= '9':
		return d.scanNumber()
	case c == 't':
		return d.scanLiteral("true")
	case c == 'f':
		return d.scanLiteral("false")
	case c == 'n':
		return d.scanLiteral("null")
	}
	return nil, d.syntax(c, "at start of value")
}

// kindName names the kind of value c starts, for a value of the wrong kind.
func kindName(c byte) string {
	switch c {
	case '"':
		return "string"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '{', '[':
		return string(c)
	}
	return "number"
}

// wrongKind is the error for a value starting with c where an object or array was wanted.
func (d *Decoder) wrongKind(c byte, want string) error {
	if c != '{' && c != '[' && c != '"' && c != '-' && (c < '0' || c > '9') && c != 't' && c != 'f' && c != 'n' {
		return d.syntax(c, "at start of value")
	}
	return fmt.Errorf("%s: want %s, got %s", d.pointer(), want, kindName(c))
}

// typeError is a value of the wrong JSON kind, at its JSON pointer in the page.
func (d *Decoder) typeError(want string, got []byte) error {
	return fmt.Errorf("%s: want %s, got %.40s", d.pointer(), want, got)
}

// Object reads a JSON object, calling field with each name; field must read or Skip the value.
// A null reads as no fields.
func (d *Decoder) Object(field func(name []byte) error) error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		d.pos++
	case 'n':
		_, err := d.scanLiteral("null")
		return err
	default:
		return d.wrongKind(c, "an object")
	}
	top, err := d.push(false)
	if err != nil {
		return err
	}
	if c, err = d.peek(); err != nil {
		return err
	}
	if c == '}' {
		d.pos++
		d.stack = d.stack[:top]
		return nil
	}
	for {
		if c != '"' {
			return d.syntax(c, "where a member name is expected")
		}
		raw, esc, err := d.scanString()
		if err != nil {
			return err
		}
		f := &d.stack[top]
		if esc {
			if d.scratch, err = d.unquote(d.scratch[:0], raw); err != nil {
				return err
			}
			f.name = append(f.name[:0], d.scratch...)
		} else {
			f.name = append(f.name[:0], raw[1:len(raw)-1]...)
		}
		f.named = true
		// The punctuation is most often the next byte (compact JSON): checked here, inline.
		if d.pos < d.end && d.buf[d.pos] == ':' {
			d.pos++
		} else {
			if c, err = d.peek(); err != nil {
				return err
			}
			if c != ':' {
				return d.syntax(c, "after a member name (want ':')")
			}
			d.pos++
		}
		if err := field(f.name); err != nil {
			return err
		}
		if d.pos+1 < d.end && d.buf[d.pos] == ',' && d.buf[d.pos+1] == '"' {
			d.pos++
			c = '"'
			continue
		}
		if c, err = d.peek(); err != nil {
			return err
		}
		switch c {
		case ',':
			d.pos++
			if c, err = d.peek(); err != nil {
				return err
			}
		case '}':
			d.pos++
			d.stack = d.stack[:top]
			return nil
		default:
			return d.syntax(c, "after a member value (want ',' or '}')")
		}
	}
}

// Array reads a JSON array, calling elem with each index; elem must read or Skip the element.
// null reports true and calls nothing, so a required array can tell null from [].
func (d *Decoder) Array(elem func(i int) error) (null bool, err error) {
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case '[':
		d.pos++
	case 'n':
		_, err := d.scanLiteral("null")
		return err == nil, err
	default:
		return false, d.wrongKind(c, "an array")
	}
	top, err := d.push(true)
	if err != nil {
		return false, err
	}
	if c, err = d.peek(); err != nil {
		return false, err
	}
	if c == ']' {
		d.pos++
		d.stack = d.stack[:top]
		return false, nil
	}
	for i := 0; ; i++ {
		d.stack[top].index = i
		if err := elem(i); err != nil {
			return false, err
		}
		if d.pos < d.end && d.buf[d.pos] == ',' {
			d.pos++
			continue
		}
		if c, err = d.peek(); err != nil {
			return false, err
		}
		switch c {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.stack = d.stack[:top]
			return false, nil
		default:
			return false, d.syntax(c, "after an array element (want ',' or ']')")
		}
	}
}

// Results reads a bucket's results array into a slice sized from *hint (the largest bucket read
// so far, which it raises), decoding each element in place with elem. A null array gives nil, so
// the bucket's Validate can refuse it.
func Results[T any](d *Decoder, hint *int, elem func(*T) error) ([]T, error) {
	return ResultsInto(d, nil, hint, elem)
}

// ResultsInto is Results decoding into into's array (a bucket its caller no longer reads) when
// it has room for *hint results, and into a new one otherwise.
func ResultsInto[T any](d *Decoder, into []T, hint *int, elem func(*T) error) ([]T, error) {
	results := into[:0]
	if results == nil || cap(results) < *hint { // never nil: [] is not null
		results = make([]T, 0, *hint)
	}
	null, err := d.Array(func(int) error {
		var zero T
		results = append(results, zero)
		return elem(&results[len(results)-1])
	})
	if null {
		return nil, err
	}
	*hint = max(*hint, len(results))
	return results, err
}

// Skip reads and discards the next value, checking it is JSON.
func (d *Decoder) Skip() error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		return d.Object(func([]byte) error { return d.Skip() })
	case '[':
		_, err := d.Array(func(int) error { return d.Skip() })
		return err
	}
	_, err = d.scalar(c)
	return err
}

// Raw returns the next value's exact bytes, valid until the next read.
func (d *Decoder) Raw() ([]byte, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	if c != '{' && c != '[' {
		return d.scalar(c)
	}
	// An object or array where a scalar is expected, read whole for the error that shows it.
	outer := d.mark
	if outer < 0 {
		d.mark = d.pos
	}
	if err := d.Skip(); err != nil {
		return nil, err
	}
	v := d.buf[d.mark:d.pos]
	if outer < 0 {
		d.mark = -1
	}
	return v, nil
}

// Int reads an integer; null reads as 0, as encoding/json leaves an int64 field alone.
func (d *Decoder) Int() (int64, error) {
	c, err := d.peek()
	if err != nil {
		return 0, err
	}
	if c != '-' && (c < '0' || c > '9') {
		v, err := d.Raw()
		if err != nil || c == 'n' && string(v) == "null" {
			return 0, err
		}
		return 0, d.typeError("an integer", v)
	}
	if n, ok := d.fastInt(); ok {
		return n, nil
	}
	v, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	if len(v) < 19 { // fewer digits than can overflow: the common case, parsed in place
		digits := v
		if v[0] == '-' {
			digits = v[1:]
		}
		var n int64
		ok := len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if v[0] == '-' {
				n = -n
			}
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, d.typeError("an integer", v)
	}
	return n, nil
}

// fastInt reads the common integer, up to 18 digits without sign, exponent or leading zero and
// wholly in the buffer, in one pass; anything else is left to the general path.
func (d *Decoder) fastInt() (int64, bool) {
	buf, i := d.buf[:d.end], d.pos
	if i >= len(buf) || buf[i] < '1' || buf[i] > '9' {
		return 0, false
	}
	var n int64
	for j := i; j < len(buf); j++ {
		c := buf[j]
		if c < '0' || c > '9' {
			if numByte[c] {
				return 0, false // a fraction or an exponent
			}
			d.pos = j
			return n, true
		}
		if j-i == 18 {
			return 0, false // 19 digits may overflow
		}
		n = n*10 + int64(c-'0')
	}
	return 0, false // at the buffer's end
}

// Bool reads true or false; null reads as false.
func (d *Decoder) Bool() (bool, error) {
	v, err := d.Raw()
	if err != nil {
		return false, err
	}
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, d.typeError("a boolean", v)
}

// str reads a string as its quoted bytes, or null as nil; another kind is a type error.
func (d *Decoder) str() (raw []byte, esc bool, err error) {
	c, err := d.peek()
	if err != nil {
		return nil, false, err
	}
	if c == '"' {
		return d.scanString()
	}
	v, err := d.Raw()
	if err != nil || c == 'n' && string(v) == "null" {
		return nil, false, err
	}
	return nil, false, d.typeError("a string", v)
}

// StrPtr reads a string, interned, or null as nil.
func (d *Decoder) StrPtr() (*string, error) {
	raw, esc, err := d.str()
	if raw == nil || err != nil {
		return nil, err
	}
	return d.intern(raw, esc)
}

// StrPtrAgain is StrPtr for a field that most often repeats its value from the element before (a
// row's key and project in a page grouped by key): when the string is *last it is returned as
// is, without a lookup; otherwise the interned string is read and becomes *last.
func (d *Decoder) StrPtrAgain(last **string) (*string, error) {
	raw, esc, err := d.str()
	if raw == nil || err != nil {
		return nil, err
	}
	// Equal raw bytes without a backslash are the same text; with one they may not be.
	if p := *last; p != nil && !esc && string(raw[1:len(raw)-1]) == *p {
		return p, nil
	}
	p, err := d.intern(raw, esc)
	if err == nil {
		*last = p
	}
	return p, err
}

// Str reads a string, interned; null reads as "".
func (d *Decoder) Str() (string, error) {
	p, err := d.StrPtr()
	if p == nil || err != nil {
		return "", err
	}
	return *p, nil
}

// intern returns the one copy of the quoted JSON string raw.
func (d *Decoder) intern(raw []byte, esc bool) (*string, error) {
	text := raw[1 : len(raw)-1]
	if esc {
		var err error
		if d.scratch, err = d.unquote(d.scratch[:0], raw); err != nil {
			return nil, err
		}
		text = d.scratch
	}
	// A page's texts are few and repeat: most are found in a small direct-mapped table by a
	// hash of their length and last bytes, before the map.
	slot := &d.recent[recentSlot(text)]
	if p := *slot; p != nil && *p == string(text) {
		return p, nil
	}
	p, ok := d.strs[string(text)]
	if !ok {
		s := string(text)
		p = &s
		d.strs[s] = p
	}
	*slot = p
	return p, nil
}

// recentSlot hashes a text's length and last four bytes (ids and line items differ at the end).
func recentSlot(t []byte) int {
	h := uint32(len(t)) * 0x9e3779b1 // #nosec G115 -- a hash
	if n := len(t); n >= 4 {
		h ^= binary.LittleEndian.Uint32(t[n-4:])
	} else {
		for _, c := range t {
			h = h<<8 | uint32(c)
		}
	}
	h *= 0x85ebca6b
	return int(h >> (32 - recentBits))
}

const recentBits = 10

// finish checks that nothing but whitespace follows the page's value.
func (d *Decoder) finish() error {
	c, err := d.peek()
	if err == nil {
		return d.syntax(c, "after the JSON value")
	}
	if errors.Is(d.rerr, io.EOF) {
		return nil
	}
	return err
}
