package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/version"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The HTML report is one page a founder can open, print to PDF and send: the JSON report's data
// (the same *engine.Report), drawn as inline SVG by this file. Nothing on the page loads anything:
// no script, no font, no image, no link outside the page. Money stays fixed-point until a bar's
// length or a point's position is computed, the edge where it becomes pixels.

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// Colours shared by the charts and the stylesheet.
const (
	colourUnderwater  = "#d9480f" // the warning colour: gross margin below zero
	colourBelowTarget = "#f59f00"
	colourHealthy     = "#2f9e44"
	colourCost        = "#e8590c"
	colourRevenue     = "#1c7ed6"
	colourTarget      = "#343a40"
	colourOther       = "#adb5bd"
)

// seriesColours tell the models of the daily chart apart (colour-blind-safe first).
var seriesColours = []string{"#1c7ed6", "#f76707", "#37b24d", "#ae3ec9", "#f03e3e", "#0ca678", "#fab005", "#7048e8"}

// maxDailySeries is how many models the daily chart draws on their own; the rest stack as one.
const maxDailySeries = 7

type htmlPage struct {
	Title, Period, Currency, Version string
	Headline                         []headline
	CustomerChart                    barChart
	Pareto                           paretoChart
	Daily                            stackChart
	Plans                            planChart
	PlanRows                         []planRow
	TargetMargin                     string
	Forecast                         *forecastView
	Unattributed                     []unattributedRow
	UnattributedTotal                string
	Warnings                         []string
}

type headline struct{ Label, Value, Note, Class string }

// Each chart is sized in the SVG's own units (viewBox); the page scales it to its width.
type barChart struct {
	Width, Height int
	ZeroX         float64
	Bars          []bar
	Ticks         []tick
	Legend        []legendItem
}

type bar struct {
	ID, Label, Value, Colour string
	Data                     string // the exact amount, for tests and for whoever reads the source
	Y, X, W                  float64
	TextX                    float64
	TextAnchor               string
}

type tick struct {
	Pos   float64
	Label string
}

type legendItem struct{ Label, Colour string }

type paretoChart struct {
	Width, Height           int
	Left, Top, PlotW, PlotH float64
	CostPath, RevenuePath   string
	MarkX                   float64
	YTicks, XTicks          []tick
	TopN, Customers         int
	TopCostShare            string
	TopRevenueShare         string
	Legend                  []legendItem
}

type stackChart struct {
	Width        int
	Left, Top    float64
	PlotW, PlotH float64
	Bars         []stackRect
	YTicks       []tick
	XTicks       []tick
	Legend       []legendItem
	Days         int
}

type stackRect struct {
	Day, Series, Title, Colour string
	X, Y, W, H                 float64
}

type planChart struct {
	Width, Height int
	Left          float64
	Groups        []planGroup
	Ticks         []tick
	Legend        []legendItem
}

type planGroup struct {
	Plan string
	Y    float64
	Bars []bar
}

type planRow struct {
	Plan, Customers, Revenue, Cost, P90, Margin, Price, Multiple, Class string
}

type forecastView struct {
	Month, Through        string
	DaysLeft, TrendDays   int
	Underwater, Customers int
	Rows                  []forecastRow
	More                  int
}

type forecastRow struct {
	Customer, Name, Plan, CostSoFar, Trend, Cost, Revenue, Margin, Class string
	Underwater                                                           bool
}

type unattributedRow struct {
	Source, Name, Provider, Cost, Share, Tokens string
}

// writeHTML renders the report as one self-contained page.
func writeHTML(out io.Writer, rep *engine.Report, days int) error {
	return reportTemplate.Execute(out, buildPage(rep, days))
}

func buildPage(rep *engine.Report, days int) *htmlPage {
	t := rep.Totals
	targetRatio := float64(engine.DefaultTargetMargin) / float64(ledger.RateOne)
	if len(rep.Plans) > 0 {
		targetRatio = rep.Plans[0].TargetMargin
	}
	target := strconv.FormatFloat(targetRatio*100, 'f', 0, 64) + "%"
	last, _ := usage.ParseDay(rep.To)
	p := &htmlPage{
		Title:        "Margin report " + rep.From + " to " + (last - 1).String(),
		Period:       fmt.Sprintf("%s to %s, %d complete UTC days", rep.From, (last - 1).String(), days),
		Currency:     strings.ToUpper(rep.Currency),
		Version:      version.Version,
		TargetMargin: target,
		Warnings:     rep.Warnings,
	}
	marginClass := ""
	if t.GrossMargin < 0 {
		marginClass = "bad"
	}
	p.Headline = []headline{
		{Label: "Revenue", Value: money(t.Revenue), Note: "recognised in Stripe"},
		{Label: "LLM cost", Value: money(t.Cost), Note: fmt.Sprintf("billed %s, estimated %s", money(t.Cost-t.Estimated), money(t.Estimated))},
		{Label: "Gross margin", Value: money(t.GrossMargin), Note: percent(t.GrossMarginRatio) + " of revenue", Class: marginClass},
		{Label: "LLM cost share of revenue", Value: share(t.Cost, t.Revenue), Note: share(t.Unattributed, t.Cost) + " of spend not attributed to a customer"},
	}
	p.CustomerChart = customerChart(rep.Customers, targetRatio)
	p.Pareto = pareto(rep.Customers)
	p.Daily = dailyChart(rep)
	p.Plans, p.PlanRows = plans(rep.Plans)
	p.Forecast = forecastSection(rep.Forecast)
	for _, u := range rep.Unattributed {
		p.Unattributed = append(p.Unattributed, unattributedRow{Source: string(u.Source), Name: u.Name, Provider: string(u.Provider),
			Cost: money(u.Cost), Share: share(u.Cost, t.Cost), Tokens: count(u.Tokens)})
	}
	p.UnattributedTotal = money(t.Unattributed)
	return p
}

// customersWithActivity are the customers with revenue or cost in the window.
func customersWithActivity(cs []engine.CustomerLine) []engine.CustomerLine {
	out := make([]engine.CustomerLine, 0, len(cs))
	for _, c := range cs {
		if c.Revenue != 0 || c.Cost != 0 {
			out = append(out, c)
		}
	}
	return out
}

func customerLabel(c engine.CustomerLine) string {
	name := c.Name
	if name == "" {
		name = c.CustomerID
	}
	if r := []rune(name); len(r) > 26 {
		name = string(r[:25]) + "…"
	}
	return name
}

// customerChart is gross margin per customer, worst first, diverging from zero.
func customerChart(lines []engine.CustomerLine, target float64) barChart {
	cs := customersWithActivity(lines)
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].GrossMargin != cs[j].GrossMargin {
			return cs[i].GrossMargin < cs[j].GrossMargin
		}
		return cs[i].CustomerID < cs[j].CustomerID
	})
	const (
		width, left, right, top, rowH, barH = 760, 200, 130, 24, 18, 12
	)
	lo, hi := 0.0, 0.0
	for _, c := range cs {
		v := c.GrossMargin.Float64()
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	scale := newScale(lo, hi, left, width-right)
	ch := barChart{Width: width, Height: top + rowH*len(cs) + 8, ZeroX: scale.at(0)}
	for _, v := range scale.ticks {
		ch.Ticks = append(ch.Ticks, tick{Pos: scale.at(v), Label: shortMoney(v)})
	}
	for i, c := range cs {
		v := c.GrossMargin.Float64()
		x0, x1 := scale.at(0), scale.at(v)
		colour := colourHealthy
		switch {
		case c.GrossMargin < 0:
			colour = colourUnderwater
		case c.GrossMarginRatio == nil || *c.GrossMarginRatio < target:
			colour = colourBelowTarget
		}
		b := bar{ID: c.CustomerID, Label: customerLabel(c), Colour: colour, Data: c.GrossMargin.String(),
			Value: money(c.GrossMargin) + " · " + percent(c.GrossMarginRatio),
			Y:     float64(top + rowH*i), X: math.Min(x0, x1), W: math.Max(math.Abs(x1-x0), 1)}
		b.TextX, b.TextAnchor = math.Max(x0, x1)+4, "start"
		ch.Bars = append(ch.Bars, b)
	}
	ch.Legend = []legendItem{{"underwater (cost above revenue)", colourUnderwater},
		{"below the " + strconv.FormatFloat(target*100, 'f', 0, 64) + "% target margin", colourBelowTarget},
		{"at or above the target", colourHealthy}}
	return ch
}

// pareto is the cumulative share of cost and of revenue over the customers ranked by cost: how
// much of the spend, and how little of the revenue, the heaviest 20% of customers bring.
func pareto(lines []engine.CustomerLine) paretoChart {
	cs := customersWithActivity(lines)
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Cost != cs[j].Cost {
			return cs[i].Cost > cs[j].Cost
		}
		return cs[i].CustomerID < cs[j].CustomerID
	})
	ch := paretoChart{Width: 760, Height: 300, Left: 50, Top: 16, PlotW: 560, PlotH: 240, Customers: len(cs)}
	ch.Legend = []legendItem{{"LLM cost", colourCost}, {"revenue", colourRevenue}}
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		ch.YTicks = append(ch.YTicks, tick{Pos: ch.Top + ch.PlotH*(1-v), Label: strconv.Itoa(int(v*100)) + "%"})
		ch.XTicks = append(ch.XTicks, tick{Pos: ch.Left + ch.PlotW*v, Label: strconv.Itoa(int(v*100)) + "%"})
	}
	if len(cs) == 0 {
		ch.TopCostShare, ch.TopRevenueShare = "n/a", "n/a"
		return ch
	}
	var cost, revenue ledger.Money
	for _, c := range cs {
		cost += c.Cost
		revenue += c.Revenue
	}
	ch.TopN = (len(cs) + 4) / 5 // 20%, rounded up: at least one customer
	var cumCost, cumRev ledger.Money
	var cp, rp strings.Builder
	point := func(b *strings.Builder, k int, part, total ledger.Money) {
		r, ok := ledger.Ratio(part, total)
		if !ok {
			r = 0
		}
		cmd := "L"
		if k == 0 {
			cmd = "M"
		}
		fmt.Fprintf(b, "%s%.1f %.1f ", cmd, ch.Left+ch.PlotW*float64(k)/float64(len(cs)), ch.Top+ch.PlotH*(1-r))
	}
	point(&cp, 0, 0, cost)
	point(&rp, 0, 0, revenue)
	for i, c := range cs {
		cumCost += c.Cost
		cumRev += c.Revenue
		point(&cp, i+1, cumCost, cost)
		point(&rp, i+1, cumRev, revenue)
		if i+1 == ch.TopN {
			ch.TopCostShare, ch.TopRevenueShare = share(cumCost, cost), share(cumRev, revenue)
		}
	}
	ch.CostPath, ch.RevenuePath = strings.TrimSpace(cp.String()), strings.TrimSpace(rp.String())
	ch.MarkX = ch.Left + ch.PlotW*float64(ch.TopN)/float64(len(cs))
	return ch
}

// dailyChart stacks each day's spend by provider and model: the costliest models on their own,
// the rest as one "other models" band.
func dailyChart(rep *engine.Report) stackChart {
	from, _ := usage.ParseDay(rep.From)
	to, _ := usage.ParseDay(rep.To)
	n := max(int(to-from), 1)
	ch := stackChart{Width: 760, Left: 60, Top: 12, PlotW: 680, PlotH: 220, Days: n}
	type key struct {
		p usage.Provider
		m string
	}
	series := map[key]int{}
	for _, m := range rep.Models {
		if len(series) == maxDailySeries {
			break
		}
		series[key{m.Provider, m.Model}] = len(series)
		ch.Legend = append(ch.Legend, legendItem{string(m.Provider) + " · " + m.Model, seriesColours[len(ch.Legend)%len(seriesColours)]})
	}
	other := len(series)
	if len(rep.Models) > maxDailySeries {
		ch.Legend = append(ch.Legend, legendItem{"other models", colourOther})
	}
	perDay := make([][]ledger.Money, n)
	for i := range perDay {
		perDay[i] = make([]ledger.Money, other+1)
	}
	for _, d := range rep.Daily {
		day, err := usage.ParseDay(d.Day)
		if err != nil || day < from || day >= to {
			continue
		}
		s, ok := series[key{d.Provider, d.Model}]
		if !ok {
			s = other
		}
		perDay[day-from][s] += d.Cost
	}
	peak := 0.0
	for _, day := range perDay {
		var sum ledger.Money
		for _, v := range day {
			sum += v
		}
		peak = math.Max(peak, sum.Float64())
	}
	y := newScale(0, peak, 0, ch.PlotH)
	for _, v := range y.ticks {
		ch.YTicks = append(ch.YTicks, tick{Pos: ch.Top + ch.PlotH - y.at(v), Label: shortMoney(v)})
	}
	slot := ch.PlotW / float64(n)
	for i, day := range perDay {
		date := (from + usage.Day(i)).String()
		if i%7 == 0 {
			ch.XTicks = append(ch.XTicks, tick{Pos: ch.Left + slot*(float64(i)+0.5), Label: date[5:]})
		}
		var below ledger.Money
		for s, v := range day {
			if v <= 0 {
				continue
			}
			y0, y1 := y.at(below.Float64()), y.at((below + v).Float64())
			below += v
			name, colour := "other models", colourOther
			if s < other {
				name, colour = ch.Legend[s].Label, ch.Legend[s].Colour
			}
			ch.Bars = append(ch.Bars, stackRect{Day: date, Series: name, Colour: colour, Title: date + " " + name + ": " + money(v),
				X: ch.Left + slot*float64(i) + slot*0.1, W: slot * 0.8, Y: ch.Top + ch.PlotH - y1, H: math.Max(y1-y0, 0.5)})
		}
	}
	return ch
}

// plans draws, per plan, what a customer pays today, what it costs, and the price that would
// reach the target margin.
func plans(lines []engine.PlanLine) (planChart, []planRow) {
	const width, left, right, groupH, barH = 760, 150, 110, 58, 14
	ch := planChart{Width: width, Height: 30 + groupH*len(lines), Left: left,
		Legend: []legendItem{{"revenue per customer today", colourRevenue}, {"LLM cost per customer", colourCost}, {"price for the target margin", colourTarget}}}
	hi := 0.0
	for _, p := range lines {
		hi = math.Max(hi, math.Max(p.RevenuePerCustomer.Float64(), math.Max(p.CostPerCustomer.Float64(), p.PriceForTarget.Float64())))
	}
	x := newScale(0, hi, left, width-right)
	for _, v := range x.ticks {
		ch.Ticks = append(ch.Ticks, tick{Pos: x.at(v), Label: shortMoney(v)})
	}
	var rows []planRow
	for i, p := range lines {
		g := planGroup{Plan: p.Plan, Y: float64(24 + groupH*i)}
		for j, v := range []struct {
			m      ledger.Money
			colour string
		}{{p.RevenuePerCustomer, colourRevenue}, {p.CostPerCustomer, colourCost}, {p.PriceForTarget, colourTarget}} {
			w := math.Max(x.at(v.m.Float64())-x.at(0), 1)
			g.Bars = append(g.Bars, bar{ID: p.Plan, Value: money(v.m), Colour: v.colour, Data: v.m.String(),
				Y: g.Y + float64(j*(barH+2)), X: x.at(0), W: w, TextX: x.at(0) + w + 4, TextAnchor: "start"})
		}
		ch.Groups = append(ch.Groups, g)
		class := ""
		if p.GrossMargin < 0 {
			class = "bad"
		}
		rows = append(rows, planRow{Plan: p.Plan, Customers: strconv.Itoa(p.Customers), Revenue: money(p.RevenuePerCustomer),
			Cost: money(p.CostPerCustomer), P90: money(p.CostPerCustomerP90), Margin: percent(p.GrossMarginRatio),
			Price: money(p.PriceForTarget), Multiple: multiple(p.PriceForTargetRatio), Class: class})
	}
	return ch, rows
}

// forecastShown is how many of the worst projected margins the page lists.
const forecastShown = 12

func forecastSection(fc *engine.Forecast) *forecastView {
	if fc == nil {
		return nil
	}
	v := &forecastView{Month: fc.Month, Through: fc.Through, DaysLeft: fc.DaysLeft, TrendDays: fc.TrendDays,
		Underwater: fc.Underwater, Customers: len(fc.Customers)}
	for i, c := range fc.Customers {
		if i == forecastShown {
			v.More = len(fc.Customers) - forecastShown
			break
		}
		name := c.Name
		if name == "" {
			name = c.CustomerID
		}
		class := ""
		if c.Underwater {
			class = "bad"
		}
		v.Rows = append(v.Rows, forecastRow{Customer: c.CustomerID, Name: name, Plan: c.Plan, CostSoFar: money(c.CostMonthToDate),
			Trend: money(c.DailyCostTrend), Cost: money(c.ProjectedCost), Revenue: money(c.ProjectedRevenue),
			Margin: money(c.ProjectedMargin), Underwater: c.Underwater, Class: class})
	}
	return v
}

// scale maps [lo, hi], widened to round tick values, onto [from, to].
type scale struct {
	lo, hi, from, to float64
	ticks            []float64
}

func newScale(lo, hi, from, to float64) scale {
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 8)
	s := scale{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step, from: from, to: to}
	for v := s.lo; v <= s.hi+step/2; v += step {
		s.ticks = append(s.ticks, math.Round(v/step)*step)
	}
	return s
}

func (s scale) at(v float64) float64 {
	return s.from + (v-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

// niceStep rounds a tick step up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// shortMoney labels an axis tick: "$0", "$250", "-$1.5k", "$12k".
func shortMoney(v float64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	switch {
	case v >= 1e6:
		return sign + "$" + strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return sign + "$" + strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return sign + "$" + strconv.FormatFloat(v, 'f', -1, 64)
}
