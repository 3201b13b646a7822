package exporter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	vmmetrics "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// writeExposition writes what the gatherer gathers in the Prometheus text format, HELP and TYPE
// included: push targets get the same text a scrape returns, so it stays lint-clean (the
// VictoriaMetrics library's own metrics carry no HELP text and are never pushed).
func writeExposition(w io.Writer, g prometheus.Gatherer) error {
	return writeOps(w, g, expfmt.NewFormat(expfmt.TypeTextPlain))
}

// pushOptions are the same for every push: POST suits VictoriaMetrics' import endpoint, vmagent
// and the Pushgateway alike, and an uncompressed body is what every one of them accepts.
func pushOptions(log *slog.Logger) *vmmetrics.PushOptions {
	return &vmmetrics.PushOptions{
		Method:             http.MethodPost,
		DisableCompression: true,
		LogErr:             func(format string, v ...any) { log.Warn("push failed", "err", fmt.Sprintf(format, v...)) },
	}
}

func writer(e *Exposition, log *slog.Logger) func(io.Writer) {
	return func(w io.Writer) {
		if err := e.Write(w); err != nil {
			log.Warn("gathering metrics for push", "err", err)
		}
	}
}

// StartPush pushes the exposition to url every interval until ctx is done.
func StartPush(ctx context.Context, url string, interval time.Duration, e *Exposition, log *slog.Logger) error {
	return vmmetrics.InitPushExtWithOptions(ctx, url, interval, writer(e, log), pushOptions(log))
}

// PushOnce pushes the exposition to url now: after the first fill and at shutdown, so a push
// target never waits a whole interval for the latest values.
func PushOnce(ctx context.Context, url string, e *Exposition, log *slog.Logger) error {
	return vmmetrics.PushMetricsExt(ctx, url, writer(e, log), pushOptions(log))
}
