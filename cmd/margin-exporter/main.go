// Command margin-exporter is Margin's Prometheus exporter: it polls the providers' usage and cost
// APIs and Stripe on an interval and serves per-customer cost, token and revenue counters that
// survive restarts and outages (DESIGN.md §4.3). docs/exporter.md lists every metric.
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/marginhq/margin/exporter"
	"github.com/marginhq/margin/internal/config"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
)

// demoNow is the simulated world's clock in --demo; tests pin it.
var demoNow = time.Now

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	if err != nil {
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
		opts := simengine.Options(w, "http://simulator.margin.invalid", &http.Client{Transport: w.Transport()})
		opts.StripeRefresh, opts.NamesRefresh = config.DefaultStripeRefresh, config.DefaultNamesRefresh
		return &settings{engine: opts, pollInterval: config.DefaultPollInterval}, nil
	}
	if configFile == "" {
		return nil, errors.New("--config.file is required (or --demo for the simulated world)")
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return nil, err
	}
	// Later polls read Stripe incrementally and the providers' names on a slower cadence; the
	// CLI and the plugin read everything each time (config.EngineOptions leaves both zero).
	opts := cfg.EngineOptions()
	opts.StripeRefresh, opts.NamesRefresh = cfg.Exporter.StripeRefreshOrDefault(), cfg.Exporter.NamesRefreshOrDefault()
	return &settings{
		engine:       opts,
		poller:       exporter.ConfigOptions(cfg),
		pollInterval: cfg.PollInterval,
		push:         cfg.Exporter.Push,
	}, nil
}

// run is the whole exporter; ready, when set, is told the first address once it listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	app := kingpin.New("margin-exporter", "Margin's Prometheus exporter: LLM cost, tokens and revenue per customer.")
	app.UsageWriter(stdout).ErrorWriter(stderr)
	// --help and --version print and "terminate": run returns instead of exiting the process.
	app.Terminate(func(int) { panic(terminated{}) })
	app.HelpFlag.Short('h')
	app.Version(version.Print("margin-exporter"))
	var (
		configFile    = app.Flag("config.file", "Path to the YAML config file (see config.example.yaml).").PlaceHolder("FILE").String()
		telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose the metrics.").Default("/metrics").String()
		demo          = app.Flag("demo", "Serve the built-in simulated world's metrics: no keys, no network.").Bool()
		webFlags      = kingpinflag.AddFlags(app, ":9479")
		stateReset    = app.Flag("state.reset", "Start the counters from zero when the state file and its previous generation are both unusable; Prometheus sees one counter reset.").Bool()
		logConfig     = &promslog.Config{Writer: stderr}
	)
	promslogflag.AddFlags(app, logConfig)
	if done, err := parse(app, args); done || err != nil {
		if err != nil {
			return singleDash(app, args, err)
		}
		return nil
	}
	logger := promslog.New(logConfig)
	logger.Info("starting margin-exporter", "version", version.Info())
	logger.Info("build context", "build_context", version.BuildContext())
	if *webFlags.WebConfigFile != "" {
		if err := web.Validate(*webFlags.WebConfigFile); err != nil {
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
	// Between polls the collector runs at a lower target, unless GOGC tunes it (docs/exporter.md).
	if _, set := os.LookupEnv("GOGC"); !set {
		s.poller.RestGCPercent = exporter.DefaultRestGCPercent
	}
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

	logger.Info("first fill: reading the backfill window", "sources", eng.SourceList())
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
		landing, err := landingPage(*telemetryPath, *configFile, *demo, eng.SourceList(), s.pollInterval)
		if err != nil {
			return err
		}
		// Only the root: any other path is a 404, not a second copy of the landing page.
		mux.Handle("GET /{$}", landing)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- serve(server, webFlags, logger, ready) }()

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

// terminated is what kingpin's exit after --help or --version panics with.
type terminated struct{}

// parse is app.Parse; done reports that --help or --version has printed and nothing is left to run.
func parse(app *kingpin.Application, args []string) (done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(terminated); !ok {
				panic(r)
			}
			done = true
		}
	}()
	_, err = app.Parse(args)
	return false, err
}

// singleDash explains a parse error caused by a flag given the Go flag package's way
// (-config.file), which kingpin only calls an "unknown short flag '-c'".
func singleDash(app *kingpin.Application, args []string, err error) error {
	for _, a := range args {
		if name, _, _ := strings.Cut(a, "="); len(name) > 2 && name[0] == '-' && name[1] != '-' && app.GetFlag(name[1:]) != nil {
			return fmt.Errorf("%s: flags take two dashes, as in -%s", a, a)
		}
	}
	return err
}

// serve listens on every --web.listen-address, or on systemd's sockets, behind the web config.
// Plain TCP addresses are bound here so ready can learn the port of ":0"; systemd activation and
// vsock go through the toolkit's own listener setup.
func serve(server *http.Server, flags *web.FlagConfig, logger *slog.Logger, ready func(string)) error {
	toolkit := *flags.WebSystemdSocket
	for _, a := range *flags.WebListenAddresses {
		toolkit = toolkit || strings.HasPrefix(a, "vsock://")
	}
	if toolkit {
		// The toolkit's errors ("no socket activation file descriptors found") name no flag.
		flag := "--web.listen-address"
		if *flags.WebSystemdSocket {
			flag = "--web.systemd-socket"
		}
		// Like http.Server.Serve it always returns an error: ErrServerClosed after Shutdown.
		return fmt.Errorf("%s: %w", flag, web.ListenAndServe(server, flags, logger))
	}
	listeners := make([]net.Listener, 0, len(*flags.WebListenAddresses))
	for _, a := range *flags.WebListenAddresses {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("--web.listen-address: %w", err)
		}
		listeners = append(listeners, ln)
	}
	if len(listeners) == 0 {
		return errors.New("--web.listen-address: no address to listen on")
	}
	if ready != nil {
		ready(listeners[0].Addr().String())
	}
	return web.ServeMultiple(listeners, server, flags, logger)
}

// landingPage links only what this server answers (no pprof: it is not served) and shows the
// build and what the exporter reads.
func landingPage(telemetryPath, configFile string, demo bool, sources string, pollInterval time.Duration) (*web.LandingPageHandler, error) {
	reads := "config file <code>" + html.EscapeString(configFile) + "</code>"
	if demo {
		reads = "the built-in simulated world (<code>--demo</code>): no keys, no network"
	}
	var b strings.Builder
	b.WriteString(`<h3>Configuration</h3><table>`)
	fmt.Fprintf(&b, `<tr><th>Reads</th><td id="config">%s</td></tr>`, reads)
	fmt.Fprintf(&b, `<tr><th>Sources</th><td>%s</td></tr>`, html.EscapeString(sources))
	fmt.Fprintf(&b, `<tr><th>Poll interval</th><td>%s</td></tr></table>`, pollInterval)
	b.WriteString(`<h3>Build</h3><table id="build">`)
	for _, kv := range [][2]string{
		{"Version", version.Version}, {"Revision", version.GetRevision()}, {"Branch", version.Branch},
		{"Build user", version.BuildUser}, {"Build date", version.BuildDate},
		{"Go version", version.GoVersion}, {"Platform", version.GoOS + "/" + version.GoArch},
	} {
		fmt.Fprintf(&b, `<tr><th>%s</th><td>%s</td></tr>`, kv[0], html.EscapeString(kv[1]))
	}
	b.WriteString(`</table>`)
	return web.NewLandingPage(web.LandingConfig{
		Name:        "Margin exporter",
		Description: "LLM cost, tokens and revenue per customer",
		Version:     version.Info(),
		Links: []web.LandingLinks{{Address: telemetryPath, Text: "Metrics",
			Description: "cost, tokens, requests and revenue per customer, and the exporter's own health"}},
		ExtraHTML: b.String(),
		ExtraCSS:  "table { border-collapse: collapse; } th { text-align: left; padding-right: 1em; font-weight: normal; color: #555; }",
		Profiling: "false",
	})
}
