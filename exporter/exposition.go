package exporter

import (
	"bytes"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
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

// Exposition is what a scrape or a push sends: the business families, rendered as text (and
// gzipped) once per snapshot, then the small operational registry (Go, process, build info, source
// health) through client_golang. Going through the registry builds a protobuf message per series
// and sorts them on every scrape: about 3 s for 1,000 customers × 20 models × 3 providers; the
// rendered snapshot is a copy.
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
	if s := e.c.snap.Load(); s != nil {
		if _, err := w.Write(s.text()); err != nil {
			return err
		}
	}
	return WriteExposition(w, e.ops)
}

// ServeHTTP serves the exposition as text/plain version 0.0.4, which every Prometheus scrapes,
// gzipped when the scraper accepts it (Prometheus always does).
func (e *Exposition) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ops bytes.Buffer
	if err := WriteExposition(&ops, e.ops); err != nil {
		e.log.Error("gathering the operational metrics", "err", err)
		http.Error(w, "gathering metrics failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	h.Add("Vary", "Accept-Encoding")
	s := e.c.snap.Load()
	if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
		if s != nil {
			_, _ = w.Write(s.text())
		}
		_, _ = w.Write(ops.Bytes())
		return
	}
	z := &emptyGzipped
	if s != nil {
		z = s.gzipped()
	}
	h.Set("Content-Encoding", "gzip")
	_, _ = w.Write(z.head)
	if err := z.finish(w, ops.Bytes()); err != nil {
		e.log.Debug("writing the scrape", "err", err)
	}
}

// acceptsGzip reports whether Accept-Encoding headers accept gzip: listed (or x-gzip), else
// covered by *, with a q-value other than 0.
func acceptsGzip(values []string) bool {
	named, star := -1, -1 // -1 absent, 0 refused, 1 accepted
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			ok := 1
			if q, found := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); found {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					ok = 0
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				named = max(named, ok)
			case "*":
				star = max(star, ok)
			}
		}
	}
	if named >= 0 {
		return named == 1
	}
	return star == 1
}

// gzipped is the business text as the head of one gzip member: the gzip header and the text's
// deflate blocks, ended with a sync flush instead of a final block, plus the text's CRC-32 and
// size. A scrape copies the head, deflates the small operational part after it as the final
// blocks, and writes the trailer with the CRC continued over that part: one standard gzip
// stream, the large part compressed once per poll. (Deflate back-references stay inside the
// blocks that made them, so blocks written by two compressors concatenate.)
type gzipped struct {
	head []byte
	crc  uint32
	size int
}

// emptyGzipped is the head of a scrape before the first snapshot: only the gzip header.
var emptyGzipped = gzipText(nil)

func gzipText(text []byte) gzipped {
	var b bytes.Buffer
	// BestSpeed: on 1,000 customers' 50 MB of text, 0.4 s for 2.0 MB against the default
	// level's 3.4 s for 1.6 MB; the poll waits for this, a scrape only copies the result.
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed) // the level is valid
	_, _ = zw.Write(text)                            // a bytes.Buffer does not fail
	_ = zw.Flush()                                   // a sync flush: no final block, no trailer
	return gzipped{head: b.Bytes(), crc: crc32.ChecksumIEEE(text), size: len(text)}
}

// flaters are compressors for the operational tail of a gzipped scrape (each holds hundreds of KB).
var flaters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed) // the level is valid
	return fw
}}

// finish writes tail as the final deflate blocks after z.head, then the gzip trailer.
func (z *gzipped) finish(w io.Writer, tail []byte) error {
	fw := flaters.Get().(*flate.Writer)
	defer func() {
		fw.Reset(io.Discard) // the pool keeps no response writer alive
		flaters.Put(fw)
	}()
	fw.Reset(w)
	if _, err := fw.Write(tail); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(z.crc, crc32.IEEETable, tail))
	binary.LittleEndian.PutUint32(trailer[4:], uint32(z.size+len(tail))) // #nosec G115 -- ISIZE is the size mod 2^32 by definition (RFC 1952)
	_, err := w.Write(trailer[:])
	return err
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

// rendered is a snapshot's business families as text and gzipped, built once: by the poll that
// made the snapshot (Poller.Poll calls text), else at the first scrape.
type rendered struct {
	once sync.Once
	text []byte
	gz   gzipped
}

func (s *Snapshot) prepare() {
	s.rendered.once.Do(func() {
		s.rendered.text = s.render()
		s.rendered.gz = gzipText(s.rendered.text)
	})
}

func (s *Snapshot) text() []byte {
	s.prepare()
	return s.rendered.text
}

func (s *Snapshot) gzipped() *gzipped {
	s.prepare()
	return &s.rendered.gz
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
