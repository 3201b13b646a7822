package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/marginhq/margin/exporter"
	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
)

// runBackfill writes the backfill window as OpenMetrics with timestamps, ending at exactly the
// values a freshly started exporter exposes after its first fill, for
// `promtool tsdb create-blocks-from openmetrics`.
func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backfill", stderr)
	var src sourceFlags
	src.register(fs)
	output := fs.String("output", "", "file to write the OpenMetrics to")
	resolution := fs.String("resolution", "1d", "spacing of the points: 1d, or 1h (each day's increase spread evenly over its hours)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *output == "" {
		return usageErr("--output is required")
	}
	res, err := exporter.ParseResolution(*resolution)
	if err != nil {
		return usageErr("--resolution: %v", err)
	}
	engOpts, pollOpts, err := backfillOptions(&src)
	if err != nil {
		return err
	}
	eng, err := engine.New(engOpts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	pollOpts.Engine = eng

	// Written beside the target and renamed, so a failed run leaves no half file to import.
	tmp, err := os.CreateTemp(filepath.Dir(*output), "."+filepath.Base(*output)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	stats, err := exporter.Backfill(ctx, pollOpts, res, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backfill:\n  %s", sourceFailures(err))
	}
	if err := os.Rename(tmp.Name(), *output); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d series, %d samples, %s to %s\n", *output, stats.Series, stats.Samples,
		stats.From.Format("2006-01-02T15:04Z"), stats.To.Format("2006-01-02T15:04Z"))
	fmt.Fprintf(stdout, "load it with: promtool tsdb create-blocks-from openmetrics --max-block-duration=720h %s DATA_DIR\n", *output)
	return nil
}

// backfillOptions are the engine and poller options of the exporter the backfill must continue:
// the config file's, or the simulated world's with the exporter's defaults.
func backfillOptions(src *sourceFlags) (engine.Options, exporter.Options, error) {
	if src.demo {
		o, err := src.engineOptions()
		return o, exporter.Options{}, err
	}
	if src.configFile == "" {
		return engine.Options{}, exporter.Options{}, usageErr("--config.file is required (or --demo for the simulated world)")
	}
	cfg, err := config.Load(src.configFile)
	if err != nil {
		return engine.Options{}, exporter.Options{}, &exitError{code: 2, err: err}
	}
	return cfg.EngineOptions(), exporter.ConfigOptions(cfg), nil
}
