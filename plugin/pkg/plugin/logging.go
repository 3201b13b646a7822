package plugin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// sdkHandler is an slog.Handler writing to the Grafana SDK's logger, so what the engine and the
// provider clients log (retries, Stripe's warnings) reaches Grafana's log. Each record goes
// through the logger FromContext returns for the record's context, so a line logged during a
// query carries that request's attributes (plugin, datasource, user) like the plugin's own lines.
// Every string is scrubbed of the configured keys.
type sdkHandler struct {
	base   log.Logger
	scrub  func(string) string
	attrs  []any  // key/value pairs from WithAttrs, already prefixed and scrubbed
	prefix string // the open groups, "a.b."
}

func newSDKHandler(base log.Logger, scrub func(string) string) *sdkHandler {
	return &sdkHandler{base: base, scrub: scrub}
}

// sdkLevel maps an slog level to the SDK's, rounding down between the named levels.
func sdkLevel(l slog.Level) log.Level {
	switch {
	case l >= slog.LevelError:
		return log.Error
	case l >= slog.LevelWarn:
		return log.Warn
	case l >= slog.LevelInfo:
		return log.Info
	}
	return log.Debug
}

// Enabled asks the SDK logger's level; a logger that reports none decides per line.
func (h *sdkHandler) Enabled(_ context.Context, l slog.Level) bool {
	lowest := h.base.Level()
	return lowest == log.NoLevel || sdkLevel(l) >= lowest
}

func (h *sdkHandler) Handle(ctx context.Context, r slog.Record) error {
	l := h.base
	if ctx != nil {
		l = l.FromContext(ctx)
	}
	args := make([]any, 0, len(h.attrs)+2*r.NumAttrs())
	args = append(args, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = h.appendAttr(args, h.prefix, a)
		return true
	})
	msg := h.scrub(r.Message)
	switch sdkLevel(r.Level) {
	case log.Error:
		l.Error(msg, args...)
	case log.Warn:
		l.Warn(msg, args...)
	case log.Info:
		l.Info(msg, args...)
	default:
		l.Debug(msg, args...)
	}
	return nil
}

func (h *sdkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = make([]any, len(h.attrs), len(h.attrs)+2*len(attrs))
	copy(c.attrs, h.attrs)
	for _, a := range attrs {
		c.attrs = h.appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *sdkHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

// appendAttr flattens a into key/value pairs (groups become dotted keys), scrubbing strings and
// errors; the SDK's hclog logger takes flat pairs.
func (h *sdkHandler) appendAttr(args []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range v.Group() {
			args = h.appendAttr(args, prefix, g)
		}
		return args
	}
	if a.Equal(slog.Attr{}) {
		return args
	}
	var val any
	switch v.Kind() {
	case slog.KindString:
		val = h.scrub(v.String())
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			val = h.scrub(x.Error())
		case fmt.Stringer:
			val = h.scrub(x.String())
		default:
			val = x
		}
	case slog.KindDuration:
		val = v.Duration().String()
	default:
		val = v.Any()
	}
	return append(args, prefix+a.Key, val)
}
