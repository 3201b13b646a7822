package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/marginhq/margin/internal/simulator"
)

func simulateCommand(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error) {
	cmd := app.Command("simulate", "Serve the simulated world: OpenAI, Anthropic, OpenRouter and Stripe APIs of a fake AI SaaS company.")
	listen := cmd.Flag("listen", "Address to serve the simulated APIs on.").Default("127.0.0.1:8089").String()
	return cmd, func(ctx context.Context) error { return runSimulate(ctx, *listen, env.stdout) }
}

func runSimulate(ctx context.Context, listen string, stdout io.Writer) error {
	w := simulator.New(simulator.Config{Now: time.Now()})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--listen %s: %w", listen, err)}
	}
	root := "http://" + ln.Addr().String()
	oa, an, or, st := simulator.BaseURLs(root)
	fmt.Fprintf(stdout, "Simulated world serving on %s\n  openai     %s\n  anthropic  %s\n  openrouter %s\n  stripe     %s\n", root, oa, an, or, st)
	fmt.Fprintln(stdout, "Point a config's base_url keys at these; the simulator accepts the demo keys in internal/simulator.")
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { // #nosec G118 -- shutdown starts once ctx is done and needs a deadline of its own
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown) // Serve returns ErrServerClosed either way
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
