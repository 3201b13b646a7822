package exporter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// Resolution is the spacing of the points Backfill writes.
type Resolution int

const (
	// Daily writes one point per UTC day, at the end of the day.
	Daily Resolution = iota
	// Hourly spreads each day's increase evenly over its hours, with exact integer splits.
	Hourly
)

// ParseResolution reads the --resolution flag: 1d or 1h.
func ParseResolution(s string) (Resolution, error) {
	switch s {
	case "1d":
		return Daily, nil
	case "1h":
		return Hourly, nil
	}
	return 0, fmt.Errorf("resolution %q: want 1d or 1h", s)
}

// BackfillStats describes a written backfill file.
type BackfillStats struct {
	Series, Samples int
	From, To        time.Time // first and last timestamp
}

// point is one timestamped value of a series, exact (nano-dollars or a count).
type point struct {
	at time.Time
	n  int64
}

// FirstFill reads every source once and computes what a fresh exporter's first poll counts,
// with the same customer ranking and folding, without counting it: the input of a backfill. The
// state file is neither read nor written. Every source must answer.
func FirstFill(ctx context.Context, opts Options) (*Fill, error) {
	opts.StateFile = ""
	p, err := New(opts)
	if err != nil {
		return nil, err
	}
	today := p.eng.Today()
	facts, err := p.fetch(ctx, today)
	if err != nil {
		return nil, fmt.Errorf("backfill needs every source: %w", err)
	}
	f := p.fill(today, facts)
	if f.computed == nil {
		return nil, errors.New("backfill needs stripe's customers")
	}
	return f, nil
}

// WriteBackfill writes the history f counts, as OpenMetrics with timestamps for `promtool tsdb
// create-blocks-from openmetrics`. It counts f's buckets day by day into an empty state, so every
// day's point is what the counters held once that day was counted, and the last point (stamped
// at f's time) equals what the exporter exposes after its first fill: same label sets, same values.
func (f *Fill) WriteBackfill(w io.Writer, res Resolution) (BackfillStats, error) {
	c, today := f.computed, f.today
	route := router(f.top)
	from := today
	byDay := map[usage.Day][]costKey{}
	for _, v := range c.cost {
		from = min(from, v.Window.From)
		for k := range v.Cost {
			byDay[k.Day] = append(byDay[k.Day], k)
		}
	}
	if c.revenue != nil {
		from = min(from, c.revenue.Window.From)
	}
	now := f.now.UTC()
	// The last point is stamped now, after the end of yesterday and inside today.
	if lo := today.Time().Add(time.Millisecond); now.Before(lo) {
		now = lo
	}
	if hi := (today + 1).Time(); now.After(hi) {
		now = hi
	}

	st := newState()
	hist := newHistory()
	for d := from; d <= today; d++ {
		for _, v := range c.cost {
			if !v.Window.Contains(d) {
				continue
			}
			// Each bucket once, against an empty state: what the first fill's applyCost counts.
			for _, k := range byDay[d] {
				if b, ok := v.Cost[k]; ok {
					st.countCost(k, b, route)
				}
			}
			for k, t := range v.Unpriced {
				if k.Day == d {
					st.countUnpriced(k, t)
				}
			}
		}
		if c.revenue != nil {
			st.applyRevenue(c.revenue.Window, d, c.daily, route)
		}
		end := (d + 1).Time()
		if d == today {
			end = now
		}
		hist.add(d, end, f.fams.snapshot(st, f.view(d)), res)
	}
	return hist.write(w, f.fams)
}

// history collects the points of every series, keyed by family and label values.
type history struct {
	series map[*family]map[string]*seriesPoints
}

type seriesPoints struct {
	labels []string
	points []point
}

func newHistory() *history { return &history{series: map[*family]map[string]*seriesPoints{}} }

// add appends day d's values, stamped at end. Hourly, the day's change of each series is split
// evenly over its hours (today: the hours so far, the last stamped at end); a counter's first
// point is preceded by a zero at the start of its first slot, so increase() sees all of it.
func (h *history) add(d usage.Day, end time.Time, s *Snapshot, res Resolution) {
	start := d.Time()
	var stamps []time.Time
	if res == Hourly {
		for t := start.Add(time.Hour); t.Before(end); t = t.Add(time.Hour) {
			stamps = append(stamps, t)
		}
	}
	stamps = append(stamps, end)
	firstOfMonth := d == d.MonthStart()
	for _, x := range s.business {
		m := h.series[x.fam]
		if m == nil {
			m = map[string]*seriesPoints{}
			h.series[x.fam] = m
		}
		for _, smp := range x.samples {
			key := strings.Join(smp.labels, "\xff")
			sp := m[key]
			if sp == nil {
				sp = &seriesPoints{labels: smp.labels}
				m[key] = sp
			}
			var base int64
			if n := len(sp.points); n > 0 {
				base = sp.points[n-1].n
			}
			switch {
			case x.fam.typ == prometheus.CounterValue:
				if len(sp.points) == 0 {
					sp.points = append(sp.points, point{start, 0})
				}
			case !x.fam.money:
				base = smp.n // margin_customer_info: constant
			case firstOfMonth:
				base = 0 // a month-to-date gauge starts the month at zero
			}
			ones := make([]int64, len(stamps))
			for i := range ones {
				ones[i] = 1
			}
			parts := ledger.Split(ledger.Money(smp.n-base), ones)
			v := base
			for i, t := range stamps {
				v += int64(parts[i])
				sp.points = append(sp.points, point{t, v})
			}
		}
	}
}

// write emits the OpenMetrics text: per family HELP and TYPE, then each series' points in time
// order, families and series in the exposition's order, and the closing # EOF.
func (h *history) write(w io.Writer, fams *families) (BackfillStats, error) {
	var stats BackfillStats
	bw := bufio.NewWriterSize(w, 1<<16)
	tf := formatBackfill
	all := fams.all()
	sortby.Func(all, byName)
	var line []byte
	for _, f := range all {
		m := h.series[f]
		if len(m) == 0 {
			continue
		}
		if _, err := bw.Write(tf.appendHeader(line[:0], f)); err != nil {
			return stats, err
		}
		list := make([]*seriesPoints, 0, len(m))
		for _, sp := range m {
			list = append(list, sp)
		}
		order := tf.labelOrder(f)
		for _, k := range sortSeries(len(list), order, func(i int) []string { return list[i].labels }) {
			sp := list[k.i]
			stats.Series++
			line = appendSeries(line[:0], f, order, sp.labels)
			prefix := len(line)
			for _, pt := range sp.points {
				line = tf.appendValue(line[:prefix], f.value(pt.n))
				line = append(line, ' ')
				line = appendTimestamp(line, pt.at)
				line = append(line, '\n')
				if _, err := bw.Write(line); err != nil {
					return stats, err
				}
				stats.Samples++
				if stats.From.IsZero() || pt.at.Before(stats.From) {
					stats.From = pt.at
				}
				if pt.at.After(stats.To) {
					stats.To = pt.at
				}
			}
		}
	}
	_, _ = bw.WriteString(eof) // a write error is sticky: Flush returns it
	return stats, bw.Flush()
}
