package exporter

import (
	"bytes"
	"cmp"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Exposition is what a scrape or a push sends: the small operational registry (Go, process,
// build info, source health) through client_golang, then the business families, rendered as text
// once per snapshot. Going through the registry builds a protobuf message per series and sorts
// them on every scrape: about 3 s for 1,000 customers × 20 models × 3 providers; the rendered
// snapshot is a copy.
type Exposition struct {
	ops prometheus.Gatherer
	c   *Collector
	log *slog.Logger
}

// NewExposition combines ops, which must not hold c itself (register c.Health() there), with
// c's business families.
func NewExposition(ops prometheus.Gatherer, c *Collector, log *slog.Logger) *Exposition {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Exposition{ops: ops, c: c, log: log}
}

// Write writes the whole exposition in the Prometheus text format, HELP and TYPE on every family.
func (e *Exposition) Write(w io.Writer) error {
	if err := WriteExposition(w, e.ops); err != nil {
		return err
	}
	if s := e.c.snap.Load(); s != nil {
		_, err := w.Write(s.text())
		return err
	}
	return nil
}

// ServeHTTP serves the exposition as text/plain version 0.0.4, which every Prometheus scrapes.
func (e *Exposition) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := WriteExposition(&b, e.ops); err != nil {
		e.log.Error("gathering the operational metrics", "err", err)
		http.Error(w, "gathering metrics failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	_, _ = w.Write(b.Bytes())
	if s := e.c.snap.Load(); s != nil {
		_, _ = w.Write(s.text())
	}
}

// Health is the collector of the margin_source_* and margin_state_recovered metrics alone, for
// the operational registry of an Exposition.
func (c *Collector) Health() prometheus.Collector { return healthCollector{c} }

type healthCollector struct{ c *Collector }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceUpDesc
	ch <- sourceLastSuccessDesc
	ch <- sourceDurationDesc
	ch <- stateRecoveredDesc
}

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	if s := h.c.snap.Load(); s != nil {
		collectHealth(ch, s)
	}
}

// rendered is a snapshot's business families as text, built at the first scrape.
type rendered struct {
	once sync.Once
	text []byte
}

func (s *Snapshot) text() []byte {
	s.rendered.once.Do(func() { s.rendered.text = s.render() })
	return s.rendered.text
}

// render writes what expfmt writes for the gathered business families, byte for byte: families
// by name, label pairs by label name, series ordered by their label values.
func (s *Snapshot) render() []byte {
	families := slices.Clone(s.business)
	slices.SortFunc(families, func(a, b series) int { return cmp.Compare(a.fam.name, b.fam.name) })
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
		order := make([]int, len(f.labels)) // label indexes by label name
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int { return cmp.Compare(f.labels[i], f.labels[j]) })
		// One sort key per series, the label values in label-name order joined by NUL (the
		// smallest byte, so "a" < "ab" holds across the join): a string compare per step.
		keyed := make([]keyedSample, len(x.samples))
		var kb []byte
		for i, smp := range x.samples {
			kb = kb[:0]
			for _, li := range order {
				kb = append(kb, smp.labels[li]...)
				kb = append(kb, 0)
			}
			keyed[i] = keyedSample{string(kb), i}
		}
		slices.SortFunc(keyed, func(a, b keyedSample) int { return strings.Compare(a.key, b.key) })
		typ := "gauge"
		if f.typ == prometheus.CounterValue {
			typ = "counter"
		}
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, escapeTextHelp(f.help)...)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
		for _, k := range keyed {
			smp := x.samples[k.i]
			b = append(b, f.name...)
			b = append(b, '{')
			for k, i := range order {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, f.labels[i]...)
				b = append(b, '=', '"')
				b = appendEscaped(b, smp.labels[i])
				b = append(b, '"')
			}
			b = append(b, '}', ' ')
			b = appendValue(b, f.value(smp.n))
			b = append(b, '\n')
		}
	}
	return b
}

type keyedSample struct {
	key string
	i   int
}

// appendValue formats as expfmt does.
func appendValue(b []byte, v float64) []byte {
	switch v {
	case 0:
		return append(b, '0')
	case 1:
		return append(b, '1')
	case -1:
		return append(b, "-1"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// escapeTextHelp escapes HELP as the text format does: backslash and newline only.
func escapeTextHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
