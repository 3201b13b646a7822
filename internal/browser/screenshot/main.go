// Command screenshot renders an HTML file in headless Chromium and writes a full-page PNG:
// `make screenshots` makes docs/img/report.png with it from the simulated world's HTML report.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marginhq/margin/internal/browser"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the command with its arguments and error output, returning the exit code: 2 for bad
// usage, 1 when the page cannot be shot.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("screenshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "screenshot.png", "PNG file to write")
	width := fs.Int("width", 960, "viewport width in CSS pixels")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *width < 1 {
		fmt.Fprintln(stderr, "usage: screenshot [-o FILE.png] [-width N] PAGE.html")
		return 2
	}
	if err := shoot(fs.Arg(0), *out, *width); err != nil {
		fmt.Fprintln(stderr, "screenshot:", err)
		return 1
	}
	return 0
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
