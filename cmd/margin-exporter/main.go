// Command margin-exporter is Margin's Prometheus exporter: it polls the providers' usage and cost
// APIs and Stripe on an interval and serves per-customer cost, token and revenue counters that
// survive restarts and outages (DESIGN.md §4.3). docs/exporter.md lists every metric.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/marginhq/margin/exporter"
	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simulator"
)

// demoNow is the simulated world's clock in --demo; tests pin it.
var demoNow = time.Now

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "margin-exporter:", err)
		os.Exit(1)
	}
}

// settings is what the flags and the config file decide.
type settings struct {
	engine       engine.Options
	poller       exporter.Options
	pollInterval time.Duration
	push         *config.Push
}

func load(configFile string, demo bool) (*settings, error) {
	if demo {
		w := simulator.New(simulator.Config{Now: demoNow()})
		return &settings{
			engine:       w.EngineOptions("http://simulator.margin.invalid", &http.Client{Transport: w.Transport()}),
			pollInterval: config.DefaultPollInterval,
		}, nil
	}
	if configFile == "" {
		return nil, errors.New("--config.file is required (or --demo for the simulated world)")
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return nil, err
	}
	return &settings{
		engine:       cfg.EngineOptions(),
		poller:       exporter.ConfigOptions(cfg),
		pollInterval: cfg.PollInterval,
		push:         cfg.Exporter.Push,
	}, nil
}

// run is the whole exporter; ready, when set, is told the address once it listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("margin-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configFile    = fs.String("config.file", "", "path to the YAML config file (see config.example.yaml)")
		listen        = fs.String("web.listen-address", ":9479", "address to serve the metrics on")
		webConfig     = fs.String("web.config.file", "", "exporter-toolkit web config file: TLS and basic auth (per-customer revenue is sensitive)")
		telemetryPath = fs.String("web.telemetry-path", "/metrics", "path under which to expose the metrics")
		demo          = fs.Bool("demo", false, "serve the built-in simulated world's metrics: no keys, no network")
		showVersion   = fs.Bool("version", false, "print the version and exit")
		stateReset    = fs.Bool("state.reset", false, "start the counters from zero when the state file and its previous generation are both unusable; Prometheus sees one counter reset")
		logLevel      = promslog.NewLevel()
		logFormat     = promslog.NewFormat()
	)
	fs.Var(logLevel, "log.level", "log level: debug, info, warn or error")
	fs.Var(logFormat, "log.format", "log format: logfmt or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Print("margin-exporter"))
		return nil
	}
	logger := promslog.New(&promslog.Config{Level: logLevel, Format: logFormat, Writer: stderr})
	if *webConfig != "" {
		if err := web.Validate(*webConfig); err != nil {
			return fmt.Errorf("--web.config.file: %w", err)
		}
	}
	s, err := load(*configFile, *demo)
	if err != nil {
		return err
	}
	s.engine.Logger = logger
	eng, err := engine.New(s.engine)
	if err != nil {
		return err
	}
	s.poller.Engine, s.poller.Logger, s.poller.StateReset = eng, logger, *stateReset
	poller, err := exporter.New(s.poller)
	if err != nil {
		return err
	}

	// The business metrics are rendered once per poll and written after this registry's: going
	// through the registry costs seconds per scrape with thousands of customers.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		poller.Collector().Health(),
		versioncollector.NewCollector("margin_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	logger.Info("first fill: reading the backfill window", "sources", eng.Sources())
	if err := poller.Poll(ctx); err != nil {
		logger.Warn("first fill: some sources failed; they are retried every poll", "err", err)
	}
	exposition := exporter.NewExposition(reg, poller.Collector(), logger)
	go poller.Run(ctx, s.pollInterval)
	if s.push != nil {
		if err := exporter.PushOnce(ctx, s.push.URL.Reveal(), exposition, logger); err != nil {
			logger.Warn("push failed", "err", err)
		}
		if err := exporter.StartPush(ctx, s.push.URL.Reveal(), s.push.Interval, exposition, logger); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle(*telemetryPath, exposition)
	if *telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Margin exporter",
			Description: "LLM cost, tokens and revenue per customer",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *telemetryPath, Text: "Metrics"}},
		})
		if err != nil {
			return err
		}
		mux.Handle("/", landing)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	noSystemd := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{*listen}, WebSystemdSocket: &noSystemd, WebConfigFile: webConfig}
	served := make(chan error, 1)
	go func() { served <- web.ServeMultiple([]net.Listener{ln}, server, flags, logger) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: flushing the state file")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	if err := poller.Flush(); err != nil {
		return fmt.Errorf("flushing state: %w", err)
	}
	if s.push != nil {
		if err := exporter.PushOnce(shutdownCtx, s.push.URL.Reveal(), exposition, logger); err != nil {
			logger.Warn("final push failed", "err", err)
		}
	}
	return nil
}
