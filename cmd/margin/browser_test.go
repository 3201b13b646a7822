package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marginhq/margin/internal/browser"
)

// chartDrawn is what the browser reports for one <svg data-chart>: its rendered size and how many
// of its shapes have a non-empty box.
type chartDrawn struct {
	Name       string  `json:"name"`
	Width      float64 `json:"width"`
	Height     float64 `json:"height"`
	Shapes     int     `json:"shapes"`
	PathLength float64 `json:"pathLength"`
}

const measureCharts = `Array.from(document.querySelectorAll('svg[data-chart]')).map(svg => {
  const r = svg.getBoundingClientRect();
  const shapes = Array.from(svg.querySelectorAll('rect, path, line, polyline, circle')).filter(s => {
    const b = s.getBBox(); return b.width > 0 || b.height > 0;
  });
  const pathLength = Array.from(svg.querySelectorAll('path')).reduce((n, p) => n + p.getTotalLength(), 0);
  return {name: svg.dataset.chart, width: r.width, height: r.height, shapes: shapes.length, pathLength};
})`

// The HTML report of the simulated world, as a founder's browser shows it: every chart drawn, no
// console error, no request beyond the page itself, and it prints to PDF.
func TestReportHTML_InABrowser_DrawsEveryChartWithoutRequestsOrErrors(t *testing.T) {
	bin, err := browser.Bin()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "report", "--demo", "--format=html")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	pageURL := "file://" + file

	ctx, cancel := browser.New(context.Background(), bin, 1000, 900)
	defer cancel()
	rec, err := browser.Record(ctx) // starts the browser; later steps get their own timeout
	if err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	step, cancelStep := context.WithTimeout(ctx, 90*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(step, chromedp.Evaluate[[]chartDrawn](measureCharts))
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := chromedp.Run(step, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground()))
	if err != nil {
		t.Fatalf("printing to PDF: %v", err)
	}

	want := map[string]int{"customer-margin": 30, "pareto": 2, "daily-spend": 30, "plans": 3}
	seen := map[string]bool{}
	for _, c := range charts {
		seen[c.Name] = true
		if c.Width < 100 || c.Height < 50 {
			t.Errorf("chart %s drawn %.0f×%.0f px", c.Name, c.Width, c.Height)
		}
		if c.Shapes < want[c.Name] {
			t.Errorf("chart %s: %d visible shapes, want at least %d", c.Name, c.Shapes, want[c.Name])
		}
		if c.Name == "pareto" && c.PathLength < 100 {
			t.Errorf("pareto curves %.0f px long: not drawn", c.PathLength)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no %s chart on the page (charts: %+v)", name, charts)
		}
	}
	for _, e := range rec.Errors() {
		t.Errorf("browser error: %s", e)
	}
	for _, u := range rec.Requests() {
		if u != pageURL {
			t.Errorf("the page requested %s", u)
		}
	}
	if len(rec.Requests()) == 0 {
		t.Error("no request recorded at all: the recorder sees nothing")
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10_000 {
		t.Errorf("the PDF is %d bytes starting %q", len(pdf), pdf[:min(len(pdf), 8)])
	}
}
