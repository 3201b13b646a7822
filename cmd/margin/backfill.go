package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/marginhq/margin/exporter"
	"github.com/marginhq/margin/internal/engine"
)

// runBackfill writes the backfill window as OpenMetrics with timestamps, ending at exactly the
// values a freshly started exporter exposes after its first fill, for
// `promtool tsdb create-blocks-from openmetrics`.
func backfillCommand(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error) {
	cmd := app.Command("backfill", "Write the backfill window as OpenMetrics with timestamps, for promtool tsdb create-blocks-from openmetrics.")
	src := newSourceFlags(cmd, env)
	output := cmd.Flag("output", "File to write the OpenMetrics to.").PlaceHolder("FILE").String()
	resolution := cmd.Flag("resolution", "Spacing of the points: 1d, or 1h (each day's increase spread evenly over its hours).").Default("1d").String()
	return cmd, func(ctx context.Context) error { return runBackfill(ctx, src, *output, *resolution, env.stdout) }
}

func runBackfill(ctx context.Context, src *sourceFlags, output, resolution string, stdout io.Writer) error {
	if output == "" {
		return usageErr("--output is required")
	}
	res, err := exporter.ParseResolution(resolution)
	if err != nil {
		return usageErr("--resolution: %v", err)
	}
	engOpts, pollOpts, err := backfillOptions(src)
	if err != nil {
		return err
	}
	eng, err := engine.New(engOpts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	pollOpts.Engine = eng

	// Written beside the target and renamed, so a failed run leaves no half file to import.
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	var stats exporter.BackfillStats
	fill, err := exporter.FirstFill(ctx, pollOpts)
	if err == nil {
		stats, err = fill.WriteBackfill(tmp, res)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backfill:\n  %s", sourceFailures(err))
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d series, %d samples, %s to %s\n", output, stats.Series, stats.Samples,
		stats.From.Format("2006-01-02T15:04Z"), stats.To.Format("2006-01-02T15:04Z"))
	fmt.Fprintf(stdout, "load it with: promtool tsdb create-blocks-from openmetrics --max-block-duration=720h %s DATA_DIR\n", output)
	return nil
}

// backfillOptions are the engine and poller options of the exporter the backfill must continue:
// the config file's, or the simulated world's with the exporter's defaults.
func backfillOptions(src *sourceFlags) (engine.Options, exporter.Options, error) {
	if src.demo {
		o, err := src.engineOptions()
		return o, exporter.Options{}, err
	}
	cfg, err := src.load()
	if err != nil {
		return engine.Options{}, exporter.Options{}, err
	}
	o := cfg.EngineOptions()
	o.Logger = src.env.logger
	return o, exporter.ConfigOptions(cfg), nil
}
