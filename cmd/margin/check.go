package main

import (
	"context"
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/fault"
)

func checkCommand(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error) {
	cmd := app.Command("check", "Validate the config and each source's credentials, one line per source.")
	src := newSourceFlags(cmd, env)
	return cmd, func(ctx context.Context) error { return runCheck(ctx, src, env.stdout) }
}

func runCheck(ctx context.Context, src *sourceFlags, stdout io.Writer) error {
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
		return fmt.Errorf("%d of %d sources failed the check", failed, len(eng.Names()))
	}
	return nil
}
