// Command margin is Margin's CLI: a per-customer LLM cost, revenue and gross-margin report, a
// credentials check, and the simulated world for demos and tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
)

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
		fmt.Fprintln(os.Stderr, "margin:", err)
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

// cliEnv is what every command writes to and logs with; logger exists once the flags are parsed.
type cliEnv struct {
	stdout, stderr io.Writer
	logger         *slog.Logger
}

// command registers one subcommand and its flags; the returned func runs it once they are parsed.
type command func(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error)

var commands = []command{reportCommand, checkCommand, backfillCommand, simulateCommand, versionCommand}

// terminated is what kingpin's exit after --help or --version panics with, so that run returns
// instead of the process exiting (and kingpin does not go on to print the usage a second time).
type terminated struct{}

// parse is app.Parse; done reports that --help or --version has printed and nothing is left to run.
func parse(app *kingpin.Application, args []string) (cmd string, done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(terminated); !ok {
				panic(r)
			}
			done = true
		}
	}()
	cmd, err = app.Parse(args)
	return cmd, false, err
}

// newApp is the whole command line: global --log.* flags, --help, --version and the commands.
func newApp(env *cliEnv, usage io.Writer) (*kingpin.Application, map[string]func(context.Context) error, *promslog.Config) {
	app := kingpin.New("margin", "LLM cost, revenue and gross margin per customer.\n\n"+
		"--demo runs a command against the built-in simulated world: no keys, no network.")
	app.UsageWriter(usage).ErrorWriter(env.stderr)
	app.Terminate(func(int) { panic(terminated{}) })
	app.HelpFlag.Short('h')
	app.Version(version.Print("margin"))
	logConfig := &promslog.Config{Writer: env.stderr}
	promslogflag.AddFlags(app, logConfig)
	// A report is read by a person: only warnings and errors by default.
	app.GetFlag(promslogflag.LevelFlagName).Default("warn")
	actions := map[string]func(context.Context) error{}
	for _, c := range commands {
		cmd, action := c(app, env)
		actions[cmd.FullCommand()] = action
	}
	return app, actions, logConfig
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := &cliEnv{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		app, _, _ := newApp(env, stderr)
		app.Usage(nil)
		return usageErr("no command given")
	}
	app, actions, logConfig := newApp(env, stdout)
	name, done, err := parse(app, args)
	if done {
		return nil
	}
	if err != nil {
		return &exitError{code: 2, err: singleDash(app, args, err)}
	}
	env.logger = promslog.New(logConfig)
	action := actions[name]
	if action == nil {
		return usageErr("unknown command %q", name)
	}
	return action(ctx)
}

// singleDash explains a parse error caused by a flag given the Go flag package's way
// (-config.file), which kingpin only calls an "unknown short flag '-c'".
func singleDash(app *kingpin.Application, args []string, err error) error {
	m := app.Model()
	long := map[string]bool{}
	for _, f := range m.Flags {
		long[f.Name] = true
	}
	for _, c := range m.Commands {
		for _, f := range c.Flags {
			long[f.Name] = true
		}
	}
	for _, a := range args {
		if name, _, _ := strings.Cut(a, "="); len(name) > 2 && name[0] == '-' && name[1] != '-' && long[name[1:]] {
			return fmt.Errorf("%s: flags take two dashes, as in -%s", a, a)
		}
	}
	return err
}

func versionCommand(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error) {
	cmd := app.Command("version", "Print the version, revision, branch, build user and date.")
	return cmd, func(context.Context) error {
		fmt.Fprintln(env.stdout, version.Print("margin"))
		return nil
	}
}
