package exporter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/ledger"
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

// ConfigOptions are the poller options a config file sets; the exporter and `margin backfill`
// both use them, so the backfill's label sets are the exporter's.
func ConfigOptions(cfg *config.Config) Options {
	return Options{
		StateFile:      cfg.StateFile,
		BackfillDays:   cfg.BackfillDays,
		TrailingDays:   cfg.Exporter.TrailingDaysOrDefault(),
		MaxCustomers:   cfg.Exporter.MaxCustomers,
		DropModelLabel: cfg.Exporter.DropModelLabel,
		FeatureLabel:   cfg.Exporter.FeatureLabel,
	}
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

// Backfill writes the history a fresh exporter's first fill counts, as OpenMetrics with
// timestamps for `promtool tsdb create-blocks-from openmetrics`. It runs the poller's own fetch,
// compute, customer ranking and folding, then counts the computed buckets day by day into an
// empty state, so every day's point is what the counters held once that day was counted, and the
// last point (stamped at Now) equals what the exporter exposes after its first fill: same label
// sets, same values. The state file is neither read nor written. Every source must answer.
func Backfill(ctx context.Context, opts Options, res Resolution, w io.Writer) (BackfillStats, error) {
	opts.StateFile = ""
	p := New(opts)
	today := p.opts.Engine.Today()
	if err := p.fetch(ctx, today); err != nil {
		return BackfillStats{}, fmt.Errorf("backfill needs every source: %w", err)
	}
	c := p.compute()
	if c == nil {
		return BackfillStats{}, errors.New("backfill needs stripe's customers")
	}
	top := topCustomers(c, p.opts.MaxCustomers)
	route := router(top)

	from := today
	byDay := map[usage.Day][]costKey{}
	for _, v := range c.cost {
		from = min(from, v.Window.From)
		for k := range v.Cost {
			byDay[k.Day] = append(byDay[k.Day], k)
		}
	}
	if c.revenue != nil {
		from = min(from, c.revenue.window.From)
	}
	now := p.opts.Now().UTC()
	// The last point is stamped now, after the end of yesterday and inside today.
	if lo := today.Time().Add(time.Millisecond); now.Before(lo) {
		now = lo
	}
	if hi := (today + 1).Time(); now.After(hi) {
		now = hi
	}

	st := NewState()
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
			st.applyRevenue(c.revenue.window, d, c.daily, route)
		}
		end := (d + 1).Time()
		if d == today {
			end = now
		}
		hist.add(d, end, p.snapshot(st, d, top, c.customers), res)
	}
	return hist.write(w, p.collector.fams)
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
	firstOfMonth := d.Time().Day() == 1
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
// order, families and series in a stable order, and the closing # EOF.
func (h *history) write(w io.Writer, fams *families) (BackfillStats, error) {
	var stats BackfillStats
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	for _, f := range fams.all() {
		m := h.series[f]
		if len(m) == 0 {
			continue
		}
		name, typ := f.name, "gauge"
		if f.typ == prometheus.CounterValue {
			// OpenMetrics names a counter family without the _total its samples carry.
			name, typ = strings.TrimSuffix(f.name, "_total"), "counter"
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(f.help), name, typ)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sp := m[k]
			stats.Series++
			line = append(line[:0], f.name...)
			line = append(line, '{')
			for i, l := range f.labels {
				if i > 0 {
					line = append(line, ',')
				}
				line = append(line, l...)
				line = append(line, '=', '"')
				line = appendEscaped(line, sp.labels[i])
				line = append(line, '"')
			}
			line = append(line, '}', ' ')
			prefix := len(line)
			for _, pt := range sp.points {
				line = line[:prefix]
				line = strconv.AppendFloat(line, f.value(pt.n), 'g', -1, 64)
				line = append(line, ' ')
				line = strconv.AppendFloat(line, float64(pt.at.UnixMilli())/1000, 'f', -1, 64)
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
	_, _ = bw.WriteString("# EOF\n") // a bufio.Writer's error is sticky: Flush returns it
	return stats, bw.Flush()
}

// appendEscaped appends a label value escaped as both text formats want it.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\"\n") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
