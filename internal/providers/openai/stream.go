package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// The usage and costs pages are decoded by hand from the token stream, result by result, with
// every id and model name interned: these are the pages that run to hundreds of megabytes. Unknown
// fields are skipped, as encoding/json skips them.

// decodeUsageBucket reads one usage bucket, into the array of *reuse when reuse is not nil (the
// results of the bucket before, which the caller no longer reads; it then holds this one's).
func decodeUsageBucket(d *apiclient.Decoder, b *UsageBucket, hint *int, reuse *[]UsageResult) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "start_time":
			b.StartTime, err = d.Int()
		case "end_time":
			b.EndTime, err = d.Int()
		case "results":
			var last lastStrs
			var into []UsageResult
			if reuse != nil {
				into = *reuse
			}
			b.Results, err = apiclient.ResultsInto(d, into, hint, func(r *UsageResult) error { return decodeUsageResult(d, r, &last) })
			if reuse != nil && b.Results != nil {
				*reuse = b.Results
			}
		default:
			err = d.Skip()
		}
		return err
	})
}

// lastStrs are the previous result's texts of the fields that mostly repeat from one result to
// the next (apiclient.Decoder.StrPtrAgain).
type lastStrs struct{ project, key, tier, currency, unit *string }

func decodeUsageResult(d *apiclient.Decoder, r *UsageResult, last *lastStrs) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "project_id":
			r.ProjectID, err = d.StrPtrAgain(&last.project)
		case "api_key_id":
			r.APIKeyID, err = d.StrPtrAgain(&last.key)
		case "model":
			r.Model, err = d.StrPtr()
		case "batch":
			err = decodeFlexBool(d, &r.Batch)
		case "service_tier":
			r.ServiceTier, err = d.StrPtrAgain(&last.tier)
		case "input_tokens":
			r.InputTokens, err = d.Int()
		case "input_cached_tokens":
			r.InputCachedTokens, err = d.Int()
		case "input_cache_write_tokens":
			r.InputCacheWriteTokens, err = d.Int()
		case "output_tokens":
			r.OutputTokens, err = d.Int()
		case "num_model_requests":
			r.NumModelRequests, err = d.Int()
		case "input_audio_tokens":
			r.InputAudioTokens, err = d.Int()
		case "output_audio_tokens":
			r.OutputAudioTokens, err = d.Int()
		case "images":
			r.Images, err = d.Int()
		case "characters":
			r.Characters, err = d.Int()
		case "seconds":
			r.Seconds, err = d.Int()
		default:
			err = d.Skip()
		}
		return err
	})
}

// decodeFlexBool reads batch through FlexBool's own rules.
func decodeFlexBool(d *apiclient.Decoder, f *FlexBool) error {
	raw, err := d.Raw()
	if err != nil {
		return err
	}
	switch string(raw) {
	case "true":
		*f = true
		return nil
	case "false", "null":
		*f = false
		return nil
	}
	if err := f.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// decodeCostBucket reads one cost bucket; texts is the paging loop's, reused bucket after bucket
// (with texts.reuse, the bucket before's results, amounts and quantities are too).
func decodeCostBucket(d *apiclient.Decoder, b *CostBucket, hint *int, texts *valueTexts) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "start_time":
			b.StartTime, err = d.Int()
		case "end_time":
			b.EndTime, err = d.Int()
		case "results":
			// The amounts and quantities results point to come from one array each per bucket,
			// not one allocation per row. An append that moves a slab leaves the rows before it
			// pointing into the old array, which stays alive and unchanged.
			texts.reset(*hint)
			var into []CostResult
			sl := &costSlabs{texts: texts}
			if texts.reuse {
				into, sl.amounts, sl.quantities = texts.results, texts.amountSlab[:0], texts.quantitySlab[:0]
			}
			if cap(sl.amounts) < *hint {
				sl.amounts, sl.quantities = make([]Amount, 0, *hint), make([]json.Number, 0, *hint)
			}
			b.Results, err = apiclient.ResultsInto(d, into, hint, func(r *CostResult) error { return decodeCostResult(d, r, sl) })
			texts.fill()
			if texts.reuse && b.Results != nil {
				texts.results, texts.amountSlab, texts.quantitySlab = b.Results, sl.amounts, sl.quantities
			}
		default:
			err = d.Skip()
		}
		return err
	})
}

// costSlabs holds a bucket's amounts and quantities.
type costSlabs struct {
	amounts    []Amount
	quantities []json.Number
	last       lastStrs
	texts      *valueTexts
}

// valueTexts gathers the texts of a bucket's amounts and quantities in one array, made one
// string at the bucket's end (fill), where each value is set through its fix: no allocation per
// row. Fixes are applied in order, so a value given twice ends as the last, as encoding/json has it.
type valueTexts struct {
	text       []byte
	amounts    []textFix[Decimal]
	quantities []textFix[json.Number]

	// reuse decodes each bucket into the arrays of the one before (kept here), for a caller that
	// reads a bucket before asking for the next and keeps nothing of it.
	reuse        bool
	results      []CostResult
	amountSlab   []Amount
	quantitySlab []json.Number
}

// textFix is a value whose text is text[off:end].
type textFix[T ~string] struct {
	p        *T
	off, end int32
}

// reset empties t for a bucket of about hint results, sized once rather than grown.
func (t *valueTexts) reset(hint int) {
	if cap(t.amounts) < hint {
		n := hint + hint/8
		t.amounts, t.quantities, t.text = make([]textFix[Decimal], 0, n), make([]textFix[json.Number], 0, n), make([]byte, 0, 20*n)
	}
	t.text, t.amounts, t.quantities = t.text[:0], t.amounts[:0], t.quantities[:0]
}

// keep appends raw to the texts and returns its fix for p.
func keep[T ~string](t *valueTexts, p *T, raw []byte) textFix[T] {
	off := int32(len(t.text)) // #nosec G115 -- one bucket's texts, far below 2 GiB
	t.text = append(t.text, raw...)
	return textFix[T]{p: p, off: off, end: int32(len(t.text))} // #nosec G115 -- as above
}

// fill sets the kept values from one string of their texts, and lets go of the pointers.
func (t *valueTexts) fill() {
	text := string(t.text)
	for i := range t.amounts {
		f := &t.amounts[i]
		*f.p, f.p = Decimal(text[f.off:f.end]), nil
	}
	for i := range t.quantities {
		f := &t.quantities[i]
		*f.p, f.p = json.Number(text[f.off:f.end]), nil
	}
}

// plainNumber reports whether raw is a JSON number or a string without escapes, and returns the
// text ledger.Decimal's UnmarshalJSON keeps of it (TestPlainNumber_IsDecimalsText).
func plainNumber(raw []byte) ([]byte, bool) {
	switch {
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		return raw, true
	case len(raw) > 1 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0:
		return raw[1 : len(raw)-1], true
	}
	return nil, false
}

func decodeCostResult(d *apiclient.Decoder, r *CostResult, sl *costSlabs) error {
	return d.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "amount":
			sl.amounts = append(sl.amounts, Amount{})
			a := &sl.amounts[len(sl.amounts)-1]
			set := false
			err = d.Object(func(name []byte) error {
				set = true
				switch string(name) {
				case "value":
					raw, err := d.Raw()
					if err != nil {
						return err
					}
					text, ok := plainNumber(raw)
					if !ok { // null, or a string with escapes
						var v Decimal
						if err := v.UnmarshalJSON(raw); err != nil {
							return fmt.Errorf("amount.value: %w", err)
						}
						text = []byte(v)
					}
					sl.texts.amounts = append(sl.texts.amounts, keep(sl.texts, &a.Value, text))
					return nil
				case "currency":
					var err error
					p, err := d.StrPtrAgain(&sl.last.currency)
					if p != nil {
						a.Currency = *p
					}
					return err
				}
				return d.Skip()
			})
			if set {
				r.Amount = a
			}
		case "line_item":
			r.LineItem, err = d.StrPtr()
		case "project_id":
			r.ProjectID, err = d.StrPtrAgain(&sl.last.project)
		case "api_key_id":
			r.APIKeyID, err = d.StrPtrAgain(&sl.last.key)
		case "quantity":
			var raw []byte
			if raw, err = d.Raw(); err == nil {
				if digitsOnly(raw) { // the common case: digits, kept as they are
					sl.quantities = append(sl.quantities, "")
					r.Quantity = &sl.quantities[len(sl.quantities)-1]
					sl.texts.quantities = append(sl.texts.quantities, keep(sl.texts, r.Quantity, raw))
					return nil
				}
				var n json.Number
				var ok bool
				if n, ok, err = decodeNumber(raw); ok {
					sl.quantities = append(sl.quantities, n)
					r.Quantity = &sl.quantities[len(sl.quantities)-1]
				}
			}
		case "quantity_unit":
			r.QuantityUnit, err = d.StrPtrAgain(&sl.last.unit)
		default:
			err = d.Skip()
		}
		return err
	})
}

// decodeNumber reads a json.Number the way encoding/json does: a number, a string holding one,
// or null (ok false).
func decodeNumber(raw []byte) (json.Number, bool, error) {
	if string(raw) == "null" {
		return "", false, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = strconv.Unquote(s); err != nil || !json.Valid([]byte(s)) {
			return "", false, fmt.Errorf("quantity: %.40s is not a number", raw)
		}
	}
	if !isDigits(s) { // digits alone are a number: the common case needs no float parse
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", false, fmt.Errorf("quantity: %.40s is not a number", raw)
		}
	}
	return json.Number(s), true, nil
}

// digitsOnly is isDigits of raw bytes.
func digitsOnly(raw []byte) bool {
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(raw) > 0
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
