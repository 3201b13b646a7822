package main

import (
	"context"
	"fmt"
	"io"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/fault"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	var src sourceFlags
	src.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts, err := src.engineOptions()
	if err != nil {
		return err
	}
	eng, err := engine.New(opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintln(stdout, "config: ok")
	failed := 0
	for _, r := range eng.Check(ctx) {
		if r.Err == nil {
			fmt.Fprintf(stdout, "%-10s ok\n", r.Source)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "%-10s FAILED: %s (%v)\n", r.Source, fault.Explain(r.Err), r.Err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d sources failed the check", failed, len(eng.Sources()))
	}
	return nil
}
