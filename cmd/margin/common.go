package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simulator"
)

// sourceFlags are the flags every command that reads the sources shares.
type sourceFlags struct {
	configFile string
	demo       bool
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.configFile, "config.file", "", "path to the YAML config file (see config.example.yaml)")
	fs.BoolVar(&s.demo, "demo", false, "run against the built-in simulated world: no keys, no network")
}

// engineOptions loads the config file, or the simulated world's options with --demo.
func (s *sourceFlags) engineOptions() (engine.Options, error) {
	if s.demo {
		w := simulator.New(simulator.Config{Now: time.Now()})
		return w.EngineOptions("http://simulator.margin.invalid", &http.Client{Transport: w.Transport()}), nil
	}
	if s.configFile == "" {
		return engine.Options{}, usageErr("--config.file is required (or --demo for the simulated world)")
	}
	cfg, err := config.Load(s.configFile)
	if err != nil {
		return engine.Options{}, &exitError{code: 2, err: err}
	}
	return cfg.EngineOptions(), nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("margin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
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
