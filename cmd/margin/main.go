// Command margin is Margin's CLI: a per-customer LLM cost, revenue and gross-margin report, a
// credentials check, and the simulated world for demos and tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usageText = `margin: LLM cost, revenue and gross margin per customer.

Usage:
  margin report   --config.file=FILE [--days=31] [--format=table|json|csv] [--demo]
  margin check    --config.file=FILE [--demo]
  margin backfill --config.file=FILE --output=FILE [--resolution=1d|1h] [--demo]
  margin simulate [--listen=127.0.0.1:8089]
  margin version

--demo runs against the built-in simulated world: no keys, no network.
Run "margin <command> -h" for the flags of one command.
`

// exitError carries an exit code: 2 for bad usage or configuration, 1 for everything else.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errHelp) {
			fmt.Fprintln(os.Stderr, "margin:", err)
		}
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if errors.Is(err, errHelp) {
			code = 0
		}
		os.Exit(code)
	}
}

var errHelp = errors.New("help requested")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "report":
		return runReport(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, stdout, stderr)
	case "backfill":
		return runBackfill(ctx, rest, stdout, stderr)
	case "simulate":
		return runSimulate(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "margin", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return usageErr("unknown command %q", cmd)
}
