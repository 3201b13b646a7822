// Command screenshot renders an HTML file in headless Chromium and writes a full-page PNG:
// `make screenshots` makes docs/img/report.png with it from the simulated world's HTML report.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marginhq/margin/internal/browser"
)

func main() {
	out := flag.String("o", "screenshot.png", "PNG file to write")
	width := flag.Int("width", 960, "viewport width in CSS pixels")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: screenshot [-o FILE.png] [-width N] PAGE.html")
		os.Exit(2)
	}
	if err := shoot(flag.Arg(0), *out, *width); err != nil {
		fmt.Fprintln(os.Stderr, "screenshot:", err)
		os.Exit(1)
	}
}

func shoot(page, out string, width int) error {
	abs, err := filepath.Abs(page)
	if err != nil {
		return err
	}
	bin, err := browser.Bin()
	if err != nil {
		return err
	}
	ctx, cancel := browser.New(context.Background(), bin, width, 900)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs)); err != nil {
		return err
	}
	step, cancelStep := context.WithTimeout(ctx, time.Minute)
	defer cancelStep()
	png, err := chromedp.Run(step, chromedp.FullScreenshot(100)) // 100: PNG, lossless
	if err != nil {
		return err
	}
	return os.WriteFile(out, png, 0o644) // #nosec G306 -- a documentation image meant to be committed and read by anyone
}
