package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// The hand-written decoders of the usage and cost pages, over apiclient's byte scanner, are held
// to encoding/json decoding the same pages into the same types by reflection: on generated pages
// (whitespace anywhere, fields in any order, unknown fields of every kind, escapes, nulls,
// numbers as strings) both produce the same buckets, and a page with a value of the wrong kind
// somewhere is refused by both.

// pageGen writes random pages.
type pageGen struct {
	r *rand.Rand
	b bytes.Buffer
}

func (g *pageGen) ws() {
	for range g.r.IntN(3) {
		g.b.WriteByte(" \t\n\r"[g.r.IntN(4)])
	}
}

// str writes s as a JSON string, escaping some of its characters though they need none.
func (g *pageGen) str(s string) {
	g.b.WriteByte('"')
	for _, c := range s {
		switch {
		case c < ' ' || g.r.IntN(8) == 0 && c < 0x80:
			fmt.Fprintf(&g.b, `\u%04x`, c)
		case c == '"' || c == '\\':
			g.b.WriteByte('\\')
			g.b.WriteRune(c)
		default:
			g.b.WriteRune(c)
		}
	}
	g.b.WriteByte('"')
}

// unknown writes a value Margin does not read: any JSON at all.
func (g *pageGen) unknown(depth int) {
	switch k := g.r.IntN(8); {
	case k == 0 && depth < 3:
		g.b.WriteByte('{')
		for i := range g.r.IntN(3) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.ws()
			g.str(fmt.Sprintf("x%d", i))
			g.ws()
			g.b.WriteByte(':')
			g.ws()
			g.unknown(depth + 1)
		}
		g.b.WriteByte('}')
	case k == 1 && depth < 3:
		g.b.WriteByte('[')
		for i := range g.r.IntN(3) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.ws()
			g.unknown(depth + 1)
		}
		g.b.WriteByte(']')
	case k == 2:
		g.str(`organization.usage "x" \ é`)
	case k == 3:
		g.b.WriteString("null")
	case k == 4:
		g.b.WriteString("-1.5e3")
	default:
		g.b.WriteString("true")
	}
}

// field is one member of an object: its name and a writer of its value.
type field struct {
	name  string
	value func()
}

// object writes the fields in a random order, with unknown fields among them; bad, when set,
// replaces one known field's value with a value of a kind Margin refuses there.
func (g *pageGen) object(fields []field, bad *bool, wrong []string) {
	fields = append(fields, field{"object", func() { g.str("organization.costs.result") }})
	for range g.r.IntN(3) {
		fields = append(fields, field{fmt.Sprintf("unknown_%d", g.r.IntN(1000)), func() { g.unknown(0) }})
	}
	g.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	spoil := -1
	if bad != nil && !*bad && len(wrong) > 0 && g.r.IntN(40) == 0 {
		*bad, spoil = true, g.r.IntN(len(fields))
	}
	seen := map[string]bool{}
	g.b.WriteByte('{')
	first := true
	for i, f := range fields {
		if seen[f.name] {
			continue // one of each name: encoding/json merges repeated objects, the decoder does not
		}
		seen[f.name] = true
		if !first {
			g.b.WriteByte(',')
		}
		first = false
		g.ws()
		g.str(f.name)
		g.ws()
		g.b.WriteByte(':')
		g.ws()
		if i == spoil && !strings.HasPrefix(f.name, "unknown_") && f.name != "object" && f.name != "organization_id" && f.name != "user_id" {
			g.b.WriteString(wrong[g.r.IntN(len(wrong))])
		} else if i == spoil {
			*bad = false // an unknown field takes anything: try again later
			f.value()
		} else {
			f.value()
		}
		g.ws()
	}
	g.b.WriteByte('}')
}

func (g *pageGen) maybeNullStr(s string) func() {
	return func() {
		if g.r.IntN(10) == 0 {
			g.b.WriteString("null")
			return
		}
		g.str(s)
	}
}

func (g *pageGen) int64v() func() {
	return func() {
		vals := []string{"0", "7", "-3", "123456789", "9223372036854775807", "null", "1000000000000000000"}
		g.b.WriteString(vals[g.r.IntN(len(vals))])
	}
}

func (g *pageGen) page(results func(bad *bool), bad *bool) []byte {
	g.b.Reset()
	g.ws()
	g.b.WriteString(`{"object": "page", "data": [`)
	for i := range 1 + g.r.IntN(3) {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.ws()
		g.object([]field{
			{"start_time", func() { fmt.Fprint(&g.b, 1786233600+86400*int64(i)) }},
			{"end_time", func() { fmt.Fprint(&g.b, 1786320000+86400*int64(i)) }},
			{"results", func() {
				g.b.WriteByte('[')
				for k := range g.r.IntN(6) {
					if k > 0 {
						g.b.WriteByte(',')
					}
					g.ws()
					results(bad)
				}
				g.ws()
				g.b.WriteByte(']')
			}},
		}, nil, nil)
	}
	g.b.WriteString(`], "has_more": false, "next_page": null}`)
	return bytes.Clone(g.b.Bytes())
}

func (g *pageGen) usageResult(bad *bool) {
	n := g.r.IntN(4)
	fields := []field{
		{"project_id", g.maybeNullStr(fmt.Sprintf("proj_%d", n))},
		{"api_key_id", g.maybeNullStr(fmt.Sprintf("key_%d\t/é", g.r.IntN(3)))},
		{"model", g.maybeNullStr([]string{"gpt-4.1", "gpt-4o-mini-2024-07-18", `o"3`}[g.r.IntN(3)])},
		{"batch", func() {
			vals := []string{"true", "false", "null", `"true"`, `"false"`, `""`, `"True"`}
			g.b.WriteString(vals[g.r.IntN(len(vals))])
		}},
		{"service_tier", g.maybeNullStr([]string{"default", "priority", "flex"}[g.r.IntN(3)])},
		{"user_id", func() { g.b.WriteString("null") }},
	}
	for _, name := range []string{"input_tokens", "input_cached_tokens", "input_cache_write_tokens", "output_tokens", "num_model_requests",
		"input_audio_tokens", "output_audio_tokens", "images", "characters", "seconds"} {
		if g.r.IntN(4) != 0 {
			fields = append(fields, field{name, g.int64v()})
		}
	}
	// Each is wrong for every field Margin reads: ids, model, tier, counts and batch alike.
	g.object(fields, bad, []string{`1.5`, `1e3`, `{}`, `[1]`, `99999999999999999999`, `{"a":[1]}`})
}

func (g *pageGen) costResult(bad *bool) {
	fields := []field{
		{"amount", func() {
			if g.r.IntN(12) == 0 {
				g.b.WriteString("null")
				return
			}
			g.object([]field{
				{"value", func() {
					vals := []string{"0.0123", `"0.1739150000000000000000000000"`, "1.5e-05", "0", `"12"`, "null", "-0.25", `"\u0031.5"`}
					g.b.WriteString(vals[g.r.IntN(len(vals))])
				}},
				{"currency", g.maybeNullStr("usd")},
			}, nil, nil)
		}},
		{"line_item", g.maybeNullStr([]string{"gpt-4.1, input", "gpt-4.1, cached input", "priority | o3, output", "web search tool calls"}[g.r.IntN(4)])},
		{"project_id", g.maybeNullStr(fmt.Sprintf("proj_%d", g.r.IntN(3)))},
		{"api_key_id", g.maybeNullStr(fmt.Sprintf("key_%d", g.r.IntN(3)))},
		{"quantity", func() {
			vals := []string{"184220", "12.5", `"1000"`, "null", "1e3", "0", `"1\u0030"`}
			g.b.WriteString(vals[g.r.IntN(len(vals))])
		}},
		{"quantity_unit", g.maybeNullStr([]string{"tokens", "1000_tokens", "calls"}[g.r.IntN(3)])},
		{"organization_id", func() { g.str("org-1") }},
	}
	// Each is wrong for every field Margin reads: the amount, the texts and the quantity alike.
	g.object(fields, bad, []string{`true`, `[1]`, `false`, `[{"value":1}]`})
}

// decodePage reads a page with the decoders Fetch uses, one byte at a time (every value straddles
// a refill); keep copies a bucket as it is read, before the next may reuse its arrays.
func decodePage[B any](page []byte, decode func(*apiclient.Decoder, *B, *int) error, keep func(B) B) ([]B, error) {
	d := apiclient.NewDecoder(iotest.OneByteReader(bytes.NewReader(page)))
	var out []B
	hint := 0
	err := d.Object(func(name []byte) error {
		if string(name) != "data" {
			return d.Skip()
		}
		_, err := d.Array(func(int) error {
			var b B
			err := decode(d, &b, &hint)
			out = append(out, keep(b))
			return err
		})
		return err
	})
	return out, err
}

// zeroAmounts sets an amount with no value and no currency to nil, the one difference the two
// decoders may show: encoding/json allocates {} as an empty Amount, the decoder reads it as
// absent, and Fetch bills neither.
func zeroAmounts(bs []CostBucket) {
	for i := range bs {
		for j := range bs[i].Results {
			if a := bs[i].Results[j].Amount; a != nil && *a == (Amount{}) {
				bs[i].Results[j].Amount = nil
			}
		}
	}
}

func TestPageDecoders_MatchEncodingJSON(t *testing.T) {
	g := &pageGen{r: rand.New(rand.NewPCG(7, 12))}
	refused := 0
	for i := range 1500 {
		var bad bool
		var err, refErr error
		var page []byte
		var got, want any
		if i%2 == 0 {
			page = g.page(g.usageResult, &bad)
			var b []UsageBucket
			var reuse *[]UsageResult
			if i%4 == 0 { // as Fetch reads them: each bucket into the one before's array
				reuse = new([]UsageResult)
			}
			b, err = decodePage(page, func(d *apiclient.Decoder, b *UsageBucket, hint *int) error {
				return decodeUsageBucket(d, b, hint, reuse)
			},
				func(b UsageBucket) UsageBucket {
					if b.Results != nil {
						b.Results = slices.Clone(b.Results)
					}
					return b
				})
			var ref apiclient.CursorEnvelope[UsageBucket]
			refErr = json.Unmarshal(page, &ref)
			got, want = b, ref.Data
		} else {
			page = g.page(g.costResult, &bad)
			var b []CostBucket
			texts := valueTexts{reuse: i%4 == 1} // every other page as Fetch reads them
			b, err = decodePage(page, func(d *apiclient.Decoder, b *CostBucket, hint *int) error {
				return decodeCostBucket(d, b, hint, &texts)
			},
				func(b CostBucket) CostBucket {
					if b.Results == nil {
						return b
					}
					b.Results = slices.Clone(b.Results)
					for i := range b.Results {
						r := &b.Results[i]
						if r.Amount != nil {
							a := *r.Amount
							r.Amount = &a
						}
						if r.Quantity != nil {
							q := *r.Quantity
							r.Quantity = &q
						}
					}
					return b
				})
			var ref apiclient.CursorEnvelope[CostBucket]
			refErr = json.Unmarshal(page, &ref)
			zeroAmounts(b)
			zeroAmounts(ref.Data)
			got, want = b, ref.Data
		}
		if (err != nil) != (refErr != nil) || (err != nil) != bad {
			t.Fatalf("page %d (spoiled %v): decoder error %v, encoding/json error %v\n%s", i, bad, err, refErr, page)
		}
		if err != nil {
			refused++
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("page %d: decoder read\n%+v\nencoding/json read\n%+v\n%s", i, got, want, page)
		}
	}
	if refused < 50 || refused > 1000 {
		t.Fatalf("%d of 1500 pages refused: the generator should spoil some, not most", refused)
	}
}

// The text plainNumber keeps of an amount is the one ledger.Decimal's UnmarshalJSON keeps.
func TestPlainNumber_IsDecimalsText(t *testing.T) {
	for _, raw := range []string{`0.0123`, `-0.25`, `1.5e-05`, `"0.1739150000000000000000000000"`, `"12"`, `""`, `"abc"`, `0`} {
		text, ok := plainNumber([]byte(raw))
		var want Decimal
		if err := want.UnmarshalJSON([]byte(raw)); err != nil || !ok || string(text) != string(want) {
			t.Errorf("%s: kept %q (%v), Decimal %q (%v)", raw, text, ok, want, err)
		}
	}
	for _, raw := range []string{`null`, `"1\u0032"`, `true`} {
		if _, ok := plainNumber([]byte(raw)); ok {
			t.Errorf("%s: kept as it is", raw)
		}
	}
}
