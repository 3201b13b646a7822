package exporter

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/sortby"
)

// textFormat is how the business families are written: the one writer of the /metrics
// exposition (either format), its gzip, and the backfill file.
type textFormat struct {
	// openMetrics writes OpenMetrics 1.0: a counter family is named without the _total its
	// samples carry, HELP escapes double quotes too, and the exposition ends with # EOF.
	openMetrics bool
	// sortLabels writes each sample's labels by label name, as expfmt does (the exposition, so
	// it is what the registry would write byte for byte); else in the family's declared order
	// (the backfill file: provider, model, customer_id, feature, token_type).
	sortLabels bool
}

var (
	formatText        = textFormat{sortLabels: true}
	formatOpenMetrics = textFormat{openMetrics: true, sortLabels: true}
	formatBackfill    = textFormat{openMetrics: true}
)

// eof ends an OpenMetrics exposition.
const eof = "# EOF\n"

// labelOrder is the order in which f's labels are written: indexes into f.labels.
func (tf textFormat) labelOrder(f *family) []int {
	order := make([]int, len(f.labels))
	for i := range order {
		order[i] = i
	}
	if tf.sortLabels {
		slices.SortFunc(order, func(i, j int) int { return cmp.Compare(f.labels[i], f.labels[j]) })
	}
	return order
}

// sortSeries orders the series 0..n-1 of a family by their label values in the written label
// order, as expfmt orders them; labels(i) is series i's values in the family's declared order.
// One sort key per series, the values joined by NUL (the smallest byte, so "a" < "ab" holds
// across the join): a string compare per step.
func sortSeries(n int, order []int, labels func(int) []string) []keyedSeries {
	keys := make([]keyedSeries, n)
	var kb []byte
	for i := range n {
		kb = kb[:0]
		ls := labels(i)
		for _, li := range order {
			kb = append(kb, ls[li]...)
			kb = append(kb, 0)
		}
		keys[i] = keyedSeries{string(kb), i}
	}
	sortby.Func(keys, func(a, b keyedSeries) int { return strings.Compare(a.key, b.key) })
	return keys
}

// keyedSeries is series i with its sort key.
type keyedSeries struct {
	key string
	i   int
}

// byName orders families by name, as expfmt writes a gathering.
func byName(a, b *family) int { return cmp.Compare(a.name, b.name) }

// appendHeader appends f's # HELP and # TYPE lines.
func (tf textFormat) appendHeader(b []byte, f *family) []byte {
	name, typ := f.name, "gauge"
	if f.typ == prometheus.CounterValue {
		typ = "counter"
		if tf.openMetrics {
			name = strings.TrimSuffix(name, "_total")
		}
	}
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, tf.openMetrics)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// appendSeries appends a sample's name and labels and the space before its value; labels are the
// values in f's declared order, written in order (from labelOrder).
func appendSeries(b []byte, f *family, order []int, labels []string) []byte {
	b = append(b, f.name...)
	b = append(b, '{')
	for k, i := range order {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, f.labels[i]...)
		b = append(b, '=', '"')
		b = appendEscaped(b, labels[i], true)
		b = append(b, '"')
	}
	return append(b, '}', ' ')
}

// appendValue formats a sample value as expfmt does: the shortest representation that reads back
// exactly, which OpenMetrics marks as a float (1.0, 3.0).
func (tf textFormat) appendValue(b []byte, v float64) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if tf.openMetrics && isBareInteger(b[n:]) {
		b = append(b, '.', '0')
	}
	return b
}

// appendTimestamp appends an OpenMetrics timestamp: Unix seconds, to the millisecond.
func appendTimestamp(b []byte, t time.Time) []byte {
	return strconv.AppendFloat(b, float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// appendEscaped appends s escaped for the text formats: backslash and newline always, double
// quotes too in label values and OpenMetrics HELP (the Prometheus text format leaves them in HELP).
func appendEscaped(b []byte, s string, quotes bool) []byte {
	special := "\\\n"
	if quotes {
		special = "\\\n\""
	}
	if !strings.ContainsAny(s, special) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quotes:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// convert rewrites business families rendered in one exposition format (text or OpenMetrics, as
// render writes them) into the other, to. The two differ only in a counter family's name in its
// # HELP and # TYPE lines (OpenMetrics drops the _total its samples keep), in HELP's double quotes
// (escaped in OpenMetrics) and in integer values (1.0 in OpenMetrics); the series, their order,
// labels and escaping are the same. A snapshot that has let go of its series serves the format a
// poll did not prepare so (Snapshot.prepared).
func convert(text []byte, to textFormat) []byte {
	out := make([]byte, 0, len(text)+len(text)/8)
	for len(text) > 0 {
		line, rest, _ := bytes.Cut(text, []byte{'\n'})
		text = rest
		switch {
		case bytes.HasPrefix(line, []byte("# HELP ")):
			name, help, _ := bytes.Cut(line[len("# HELP "):], []byte{' '})
			next, _, _ := bytes.Cut(text, []byte{'\n'}) // its # TYPE line
			out = append(out, "# HELP "...)
			out = convertName(out, name, bytes.HasSuffix(next, []byte(" counter")), to)
			out = append(out, ' ')
			out = convertHelp(out, help, to)
		case bytes.HasPrefix(line, []byte("# TYPE ")):
			name, typ, _ := bytes.Cut(line[len("# TYPE "):], []byte{' '})
			out = append(out, "# TYPE "...)
			out = convertName(out, name, string(typ) == "counter", to)
			out = append(out, ' ')
			out = append(out, typ...)
		default: // a sample: the value follows the last space (label values are quoted)
			i := bytes.LastIndexByte(line, ' ') + 1
			out = append(out, line[:i]...)
			out = convertValue(out, line[i:], to)
		}
		out = append(out, '\n')
	}
	return out
}

// convertName appends a family's name as format to writes it: a counter's without _total in
// OpenMetrics (every business counter's name ends in _total).
func convertName(out, name []byte, counter bool, to textFormat) []byte {
	switch {
	case !counter:
	case to.openMetrics:
		name = bytes.TrimSuffix(name, []byte("_total"))
	default:
		out = append(out, name...)
		return append(out, "_total"...)
	}
	return append(out, name...)
}

// convertHelp appends an escaped HELP text as format to escapes it: OpenMetrics escapes double
// quotes too; both escape backslash and newline.
func convertHelp(out, help []byte, to textFormat) []byte {
	for i := 0; i < len(help); i++ {
		switch c := help[i]; {
		case c == '"' && to.openMetrics:
			out = append(out, '\\', '"')
		case c == '\\' && i+1 < len(help):
			if help[i+1] != '"' || to.openMetrics {
				out = append(out, c)
			}
			out = append(out, help[i+1])
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

// convertValue appends a sample value as format to writes it (appendValue): an integer is marked
// as a float in OpenMetrics (1.0), and the text format writes it bare.
func convertValue(out, v []byte, to textFormat) []byte {
	if to.openMetrics {
		out = append(out, v...)
		if isBareInteger(v) {
			out = append(out, '.', '0')
		}
		return out
	}
	if t, ok := bytes.CutSuffix(v, []byte(".0")); ok && isBareInteger(t) {
		v = t
	}
	return append(out, v...)
}

// isBareInteger reports whether value text v is what strconv writes for an integer: it ends in a
// digit (not NaN or ±Inf) and has no exponent or point.
func isBareInteger(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	last := v[len(v)-1]
	return last >= '0' && last <= '9' && !bytes.ContainsAny(v, "e.")
}

// render writes the snapshot's business families in format tf: families by name, series ordered
// by their label values, empty families left out; no # EOF (the operational part follows).
func (s *Snapshot) render(tf textFormat) []byte {
	families := slices.Clone(s.business)
	sortby.Func(families, func(a, b series) int { return byName(a.fam, b.fam) })
	size := 0
	for _, x := range families {
		if n := len(x.samples); n > 0 {
			// name, braces, label names and values (about 24 bytes each), the value
			size += len(x.fam.help) + 64 + n*(len(x.fam.name)+24+len(x.fam.labels)*32)
		}
	}
	b := make([]byte, 0, size)
	for _, x := range families {
		if len(x.samples) == 0 {
			continue
		}
		f := x.fam
		order := tf.labelOrder(f)
		b = tf.appendHeader(b, f)
		for _, k := range sortSeries(len(x.samples), order, func(i int) []string { return x.samples[i].labels }) {
			smp := x.samples[k.i]
			b = appendSeries(b, f, order, smp.labels)
			b = tf.appendValue(b, f.value(smp.n))
			b = append(b, '\n')
		}
	}
	return b
}
