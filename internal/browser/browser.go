// Package browser drives a headless Chromium (Debian's chromium package) for the tests that look at
// the HTML report as a reader's browser would, and for `make screenshots`. Nothing in the product
// imports it.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Bin returns the Chromium executable: $CHROMIUM_BIN, else chromium or chromium-browser on PATH.
func Bin() (string, error) {
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil { // #nosec G703 -- the operator names the browser binary to run; stat only checks it exists
			return "", fmt.Errorf("CHROMIUM_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found: set CHROMIUM_BIN or put it on PATH " +
		"(apt-get install chromium; `make test` and .ci/run require it)")
}

// New starts a headless Chromium with a width×height viewport; cancel stops it.
func New(parent context.Context, bin string, width, height int) (context.Context, context.CancelFunc) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // CI and containers run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	return ctx, func() { cancelCtx(); cancelAlloc() }
}

// Recorder collects what a page asks the network for and what it reports as an error, from the
// moment Record is called.
type Recorder struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

// Record starts recording on the tab of ctx (starting the browser if needed).
func Record(ctx context.Context) (*Recorder, error) {
	r := &Recorder{}
	err := chromedp.Listen(ctx, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			r.requests = append(r.requests, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				r.errors = append(r.errors, fmt.Sprintf("console.%s: %v", e.Type, consoleArgs(e.Args)))
			}
		case *runtime.EventExceptionThrown:
			r.errors = append(r.errors, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				r.errors = append(r.errors, fmt.Sprintf("%s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	return r, err
}

func consoleArgs(args []*runtime.RemoteObject) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if len(a.Value) > 0 {
			out = append(out, string(a.Value))
		} else {
			out = append(out, a.Description)
		}
	}
	return out
}

// Requests are the URLs the page requested, in order.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// Errors are the console errors, uncaught exceptions and browser-log errors of the page.
func (r *Recorder) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}
