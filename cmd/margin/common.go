package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
)

// sourceFlags are the flags every command that reads the sources shares.
type sourceFlags struct {
	env        *cliEnv
	configFile string
	demo       bool
}

func newSourceFlags(cmd *kingpin.CmdClause, env *cliEnv) *sourceFlags {
	s := &sourceFlags{env: env}
	cmd.Flag("config.file", "Path to the YAML config file (see config.example.yaml).").PlaceHolder("FILE").StringVar(&s.configFile)
	cmd.Flag("demo", "Run against the built-in simulated world: no keys, no network.").BoolVar(&s.demo)
	return s
}

// engineOptions loads the config file, or the simulated world's options with --demo; the engine
// and the provider clients log with the CLI's logger (--log.level).
func (s *sourceFlags) engineOptions() (engine.Options, error) {
	if s.demo {
		w := simulator.New(simulator.Config{Now: time.Now()})
		o := simengine.Options(w, "http://simulator.margin.invalid", &http.Client{Transport: w.Transport()})
		o.Logger = s.env.logger
		return o, nil
	}
	cfg, err := s.load()
	if err != nil {
		return engine.Options{}, err
	}
	o := cfg.EngineOptions()
	o.Logger, o.Sleep = s.env.logger, retrySleep
	return o, nil
}

// retrySleep waits between the clients' retries: nil, a real wait; tests replace it.
var retrySleep func(context.Context, time.Duration) error

// load reads and validates the config file; its errors are usage errors (exit 2).
func (s *sourceFlags) load() (*config.Config, error) {
	if s.configFile == "" {
		return nil, usageErr("--config.file is required (or --demo for the simulated world)")
	}
	cfg, err := config.Load(s.configFile)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

// isTerminal reports whether w is an interactive terminal, where progress lines help.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter shows each source's fetch on a terminal.
func progressPrinter(w io.Writer) engine.Progress {
	return func(source string, done bool, elapsed time.Duration, err error) {
		switch {
		case !done:
			fmt.Fprintf(w, "  %-10s fetching…\n", source)
		case err != nil:
			fmt.Fprintf(w, "  %-10s failed after %s\n", source, elapsed.Round(time.Millisecond))
		default:
			fmt.Fprintf(w, "  %-10s done in %s\n", source, elapsed.Round(time.Millisecond))
		}
	}
}

// sourceFailures formats the per-source errors of a fetch, one line each.
func sourceFailures(err error) string {
	var lines []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var se *engine.SourceError
		if errors.As(e, &se) {
			lines = append(lines, fmt.Sprintf("%s: %v", se.Source, se.Err))
			return
		}
		lines = append(lines, e.Error())
	}
	walk(err)
	return strings.Join(lines, "\n  ")
}
