package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/marginhq/margin/internal/simulator"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", stderr)
	listen := fs.String("listen", "127.0.0.1:8089", "address to serve the simulated APIs on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w := simulator.New(simulator.Config{Now: time.Now()})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--listen %s: %w", *listen, err)}
	}
	root := "http://" + ln.Addr().String()
	oa, an, or, st := simulator.BaseURLs(root)
	fmt.Fprintf(stdout, "Simulated world serving on %s\n  openai     %s\n  anthropic  %s\n  openrouter %s\n  stripe     %s\n", root, oa, an, or, st)
	fmt.Fprintln(stdout, "Point a config's base_url keys at these; the simulator accepts the demo keys in internal/simulator.")
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
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
