package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
	"github.com/marginhq/margin/plugin/pkg/models"
	"github.com/marginhq/margin/plugin/pkg/views"
)

// maxWarningNotices caps how many engine warnings a frame carries as notices.
const maxWarningNotices = 5

// queryFunc answers one parsed query of its type.
type queryFunc func(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse

// newMux registers one handler per query type, plus a fallback for queries whose type is only in
// their JSON (or unknown: ParseQuery names the valid types).
func (d *Datasource) newMux() *datasource.QueryTypeMux {
	d.handlers = map[models.QueryType]queryFunc{
		models.QueryCustomers:      d.rangedView(views.Customers),
		models.QueryCosts:          d.rangedView(views.Costs),
		models.QueryMargin:         d.rangedView(views.Margin),
		models.QueryUnattributed:   d.rangedView(views.Unattributed),
		models.QueryReconciliation: d.rangedView(views.Reconciliation),
		models.QueryPlans:          d.rangedView(views.Plans), // priced for the query's target margin, which ranged puts in the input
		models.QueryFeatures:       d.rangedView(views.Features),
		models.QueryForecast:       d.queryForecast,
	}
	mux := datasource.NewQueryTypeMux()
	for _, qt := range models.QueryTypes {
		mux.HandleFunc(string(qt), d.serve(d.handlers[qt]))
	}
	mux.HandleFunc("", d.serve(nil))
	return mux
}

// QueryData answers each query on its own: one query's error never fails another.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.mux.QueryData(ctx, req)
}

// serve is the path every query type shares: the settings, then the query parsed and validated,
// then fn. A query whose JSON names another type than the request (or the request none) goes to
// that type's handler: the JSON is what the editor saved.
func (d *Datasource) serve(fn queryFunc) backend.QueryDataHandlerFunc {
	return func(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
		resp := backend.NewQueryDataResponse()
		for _, dq := range req.Queries {
			if d.settingsErr != nil {
				resp.Responses[dq.RefID] = userError("the datasource settings need fixing: " + d.scrub(joinLines(d.settingsErr)))
				continue
			}
			q, err := models.ParseQuery(dq)
			if err != nil {
				resp.Responses[dq.RefID] = userError(err.Error())
				continue
			}
			h := fn
			if h == nil || string(q.QueryType) != dq.QueryType {
				h = d.handlers[q.QueryType] // ParseQuery admits only registered types
			}
			resp.Responses[dq.RefID] = h(ctx, q, dq.TimeRange)
		}
		return resp, nil
	}
}

// userError is the response for a problem the person can fix in the query or the settings.
func userError(msg string) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
}

// rangedView answers a query type that maps the dashboard's range to one view (see ranged).
func (d *Datasource) rangedView(view func(views.Input) data.Frames) queryFunc {
	return func(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
		return d.ranged(ctx, q, tr, view)
	}
}

// queryForecast projects this month whatever range the dashboard shows: the engine's
// ForecastMonth reads what it needs (Stripe's revenue through month end and its live
// subscriptions included) through the fact cache.
func (d *Datasource) queryForecast(ctx context.Context, q *models.Query, _ backend.TimeRange) backend.DataResponse {
	in, _, err := d.input(ctx, q, engine.ForecastWindow(d.eng.Today()), true)
	if err != nil {
		return d.fetchError(ctx, err)
	}
	return d.respond(views.Forecast(in), in.Result, "")
}

// ranged answers a query over the dashboard's range: the window clamped to what Margin reads,
// the result over it, the view's frames with the clamping and retention notices.
func (d *Datasource) ranged(ctx context.Context, q *models.Query, tr backend.TimeRange, view func(views.Input) data.Frames) backend.DataResponse {
	w, notice := d.eng.RangeWindow(tr.From, tr.To)
	in, c, err := d.input(ctx, q, w, false)
	if err != nil {
		return d.fetchError(ctx, err)
	}
	if c != nil {
		notice = joinNotice(notice, in.Result.HistoryNotice(d.eng.Today(), d.providers(q)))
	}
	return d.respond(view(in), in.Result, notice)
}

// input is the views' input for q over w (with forecast, the month-end forecast's), and the
// computed result behind it (nil for an empty window, which needs no fetch).
func (d *Datasource) input(ctx context.Context, q *models.Query, w usage.Window, forecast bool) (views.Input, *computed, error) {
	in := views.Input{Window: w, Query: q, TargetMargin: d.targetMargin(q)}
	if w.Days() == 0 {
		in.Result = &engine.Result{Window: w, Customers: map[string]engine.CustomerInfo{}}
		in.Report = engine.SummarizeFor(in.Result, engine.DefaultCurrency, in.TargetMargin)
		return in, nil, nil
	}
	c, err := d.compute(ctx, d.providers(q), w, forecast)
	if err != nil {
		return in, nil, err
	}
	in.Result, in.Report, in.Forecast = c.res, c.reportFor(in.TargetMargin), c.forecast
	return in, c, nil
}

// fetchError is the response for a source that failed or a query given up on.
func (d *Datasource) fetchError(ctx context.Context, err error) backend.DataResponse {
	if ctx.Err() != nil {
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, "the query was cancelled before the providers answered")
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, d.explain(err))
}

// respond puts the notice and the result's warnings (at most maxWarningNotices, then a count) on
// the first frame.
func (d *Datasource) respond(frames data.Frames, res *engine.Result, notice string) backend.DataResponse {
	meta := frames[0].Meta
	if notice != "" {
		meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: notice})
	}
	for i, warn := range res.Warnings {
		if i == maxWarningNotices {
			meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("%d more warnings", len(res.Warnings)-maxWarningNotices)})
			break
		}
		meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning, Text: d.scrub(warn)})
	}
	return backend.DataResponse{Frames: frames}
}

// targetMargin is the plans' target: the query's, else the settings', else 0.65.
func (d *Datasource) targetMargin(q *models.Query) ledger.Rate {
	switch {
	case q.Target > 0:
		return q.Target
	case d.opts.TargetMargin > 0:
		return d.opts.TargetMargin
	}
	return engine.DefaultTargetMargin
}

func joinNotice(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// joinLines lists joined errors one per line.
func joinLines(err error) string {
	var s string
	for i, e := range flatten(err) {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

// statusFor maps an error to the HTTP status a resource route answers with.
func statusFor(err error) int {
	var se *engine.SourceError
	if errors.As(err, &se) {
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
