package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/fault"
)

// healthTimeout bounds the whole check: an unreachable API is retried with backoff for a few
// seconds before the client gives up, and the person at the settings page is waiting.
const healthTimeout = 25 * time.Second

// SourceHealth is one source's line in the health check's JSON details.
type SourceHealth struct {
	Source string `json:"source"`
	OK     bool   `json:"ok"`
	Class  string `json:"class,omitempty"` // auth, permission, unreachable, rate_limited, server, malformed, bad_request, other
	Error  string `json:"error,omitempty"`
}

var classNames = map[fault.Class]string{
	fault.ClassAuth:        "auth",
	fault.ClassPermission:  "permission",
	fault.ClassRateLimited: "rate_limited",
	fault.ClassServer:      "server",
	fault.ClassUnreachable: "unreachable",
	fault.ClassMalformed:   "malformed",
	fault.ClassBadRequest:  "bad_request",
	fault.ClassOther:       "other",
}

// CheckHealth validates the settings, then makes one cheap authenticated call per configured
// source and says, per source, whether it answered and why not.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{
			Status:  backend.HealthStatusError,
			Message: "Settings: " + d.scrub(joinLines(d.settingsErr)),
		}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	var (
		lines  []SourceHealth
		ok     []string
		failed []string
	)
	for _, r := range d.eng.Check(ctx) {
		if r.Err == nil {
			lines = append(lines, SourceHealth{Source: r.Source, OK: true})
			ok = append(ok, r.Source)
			continue
		}
		msg := d.scrub(d.plain(r.Err))
		lines = append(lines, SourceHealth{Source: r.Source, Class: classNames[fault.Classify(r.Err)], Error: msg})
		failed = append(failed, r.Source+": "+msg)
	}
	details, _ := json.Marshal(map[string]any{"sources": lines})
	if len(failed) > 0 {
		msg := strings.Join(failed, "; ")
		if len(ok) > 0 {
			msg += " (working: " + strings.Join(ok, ", ") + ")"
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg, JSONDetails: details}, nil
	}
	return &backend.CheckHealthResult{
		Status:      backend.HealthStatusOk,
		Message:     "Connected to " + strings.Join(ok, ", "),
		JSONDetails: details,
	}, nil
}
