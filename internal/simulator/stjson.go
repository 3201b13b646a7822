package simulator

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/marginhq/margin/internal/sortby"
)

// stripeJSON is one of the Stripe fake's values as encoding/json writes it, byte for byte: struct
// fields in order under their json tags, omitempty, nil pointers, interfaces, slices and maps as
// null, map keys sorted, HTML-safe strings, json.Marshaler values as they marshal. encoding/json
// keeps a cache of every type it writes for the life of the process: 180 KB for these types, held
// by an exporter running the demo world in-process (--demo); this one keeps their tag names.
func stripeJSON(v any) []byte {
	buf := jsonBufs.Get().(*[]byte)
	*buf = appendJSONValue((*buf)[:0], reflect.ValueOf(v))
	out := slices.Clone(*buf)
	jsonBufs.Put(buf)
	return out
}

// jsonBufs are stripeJSON's buffers: a page's body is allocated once, at its size.
var jsonBufs = sync.Pool{New: func() any { return new([]byte) }}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	marshalers    sync.Map // reflect.Type → bool: implements json.Marshaler
)

func isMarshaler(t reflect.Type) bool {
	if m, ok := marshalers.Load(t); ok {
		return m.(bool)
	}
	m := t.Implements(marshalerType)
	marshalers.Store(t, m)
	return m
}

func appendJSONValue(b []byte, v reflect.Value) []byte {
	if !v.IsValid() {
		return append(b, "null"...)
	}
	if isMarshaler(v.Type()) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		raw, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			panic(err) // the fake's own values always marshal
		}
		if len(raw) == 0 { // json.RawMessage(nil)
			return append(b, "null"...)
		}
		return append(b, raw...) // compact and escaped: the fake's raw values come from stripeJSON
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendJSONValue(b, v.Elem())
	case reflect.Struct:
		b = append(b, '{')
		first := true
		for _, f := range jsonFieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmptyJSON(fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.key...)
			b = appendJSONValue(b, fv)
		}
		return append(b, '}')
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...)
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			panic("stripeJSON: no encoding for " + v.Type().String()) // encoding/json's is base64
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Map:
		if v.IsNil() {
			return append(b, "null"...)
		}
		keys := v.MapKeys()
		sortby.Func(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k.String())
			b = append(b, ':')
			b = appendJSONValue(b, v.MapIndex(k))
		}
		return append(b, '}')
	case reflect.String:
		return appendJSONString(b, v.String())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Float64:
		if f := math.Abs(v.Float()); f != 0 && (f < 1e-6 || f >= 1e21) || math.IsInf(f, 0) || math.IsNaN(f) {
			raw, err := json.Marshal(v.Float()) // the exponent form's clean-up, and its errors
			if err != nil {
				panic(err)
			}
			return append(b, raw...)
		}
		return strconv.AppendFloat(b, v.Float(), 'f', -1, 64)
	}
	panic("stripeJSON: no encoding for " + v.Type().String())
}

// jsonField is a struct field that is written: its index and `"name":`.
type jsonField struct {
	index     int
	key       string
	omitEmpty bool
}

var jsonFields sync.Map // reflect.Type → []jsonField

func jsonFieldsOf(t reflect.Type) []jsonField {
	if fs, ok := jsonFields.Load(t); ok {
		return fs.([]jsonField)
	}
	var fs []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			panic("stripeJSON: embedded field " + sf.Name + " in " + t.String()) // encoding/json would flatten it
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, jsonField{index: i, key: string(appendJSONString(nil, name)) + ":", omitEmpty: opts == "omitempty"})
	}
	jsonFields.Store(t, fs)
	return fs
}

func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Float64:
		return v.Float() == 0
	}
	return false
}

// appendJSONString appends s quoted as encoding/json quotes it: HTML-safe, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
