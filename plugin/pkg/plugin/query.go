package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

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
		models.QueryCustomers:      d.queryCustomers,
		models.QueryCosts:          d.queryCosts,
		models.QueryMargin:         d.queryMargin,
		models.QueryUnattributed:   d.queryUnattributed,
		models.QueryReconciliation: d.queryReconciliation,
		models.QueryPlans:          d.queryPlans,
		models.QueryFeatures:       d.queryFeatures,
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

func (d *Datasource) queryCustomers(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Customers)
}

func (d *Datasource) queryCosts(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Costs)
}

func (d *Datasource) queryMargin(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Margin)
}

func (d *Datasource) queryUnattributed(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Unattributed)
}

func (d *Datasource) queryReconciliation(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Reconciliation)
}

// queryPlans prices the plans for the query's target margin (see targetMargin), which ranged
// puts in the input.
func (d *Datasource) queryPlans(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Plans)
}

func (d *Datasource) queryFeatures(ctx context.Context, q *models.Query, tr backend.TimeRange) backend.DataResponse {
	return d.ranged(ctx, q, tr, views.Features)
}

// queryForecast projects this month whatever range the dashboard shows.
func (d *Datasource) queryForecast(ctx context.Context, q *models.Query, _ backend.TimeRange) backend.DataResponse {
	in, c, err := d.input(ctx, q, engine.ForecastWindow(d.eng.Today()))
	if err == nil && c != nil {
		in.Forecast, err = d.forecast(ctx, c)
	}
	if err != nil {
		return d.fetchError(ctx, err)
	}
	return d.respond(views.Forecast(in), in.Result, "")
}

// ranged answers a query over the dashboard's range: the window clamped to what Margin reads,
// the result over it, the view's frames with the clamping and retention notices.
func (d *Datasource) ranged(ctx context.Context, q *models.Query, tr backend.TimeRange, view func(views.Input) data.Frames) backend.DataResponse {
	w, notice := d.window(tr)
	in, c, err := d.input(ctx, q, w)
	if err != nil {
		return d.fetchError(ctx, err)
	}
	if c != nil {
		notice = joinNotice(notice, historyNotice(in.Result, w, usage.DayOf(d.now()), d.providers(q)))
	}
	return d.respond(view(in), in.Result, notice)
}

// input is the views' input for q over w, and the computed result behind it (nil for an empty
// window, which needs no fetch).
func (d *Datasource) input(ctx context.Context, q *models.Query, w usage.Window) (views.Input, *computed, error) {
	in := views.Input{Window: w, Query: q, TargetMargin: d.targetMargin(q)}
	if w.Days() == 0 {
		in.Result = &engine.Result{Window: w, Customers: map[string]engine.CustomerInfo{}}
		in.Report = engine.SummarizeFor(in.Result, "usd", in.TargetMargin)
		return in, nil, nil
	}
	c, err := d.compute(ctx, d.providers(q), w)
	if err != nil {
		return in, nil, err
	}
	in.Result, in.Report = c.res, c.reportFor(in.TargetMargin)
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

// forecast projects the month from a result over engine.ForecastWindow, Stripe's revenue through
// month end (invoiced service periods run ahead of today) and its live subscriptions' run-rate,
// like the report's forecast.
func (d *Datasource) forecast(ctx context.Context, month *computed) (*engine.Forecast, error) {
	var rv *engine.RevenueFacts
	var subs *engine.SubscriptionFacts
	if d.hasStripe() {
		var err error
		rw := usage.Window{From: month.res.Window.From, To: engine.MonthEnd(d.eng.Today())}
		if rv, _, err = d.facts.Revenue(ctx, rw); err != nil {
			return nil, &engine.SourceError{Source: engine.SourceStripe, Err: err}
		}
		// Subscriptions change at renewals and cancellations, not by day, so they are read per
		// forecast query rather than kept in the per-day fact cache.
		if subs, err = d.eng.FetchSubscriptions(ctx); err != nil {
			return nil, &engine.SourceError{Source: engine.SourceStripe, Err: err}
		}
	}
	return d.eng.Forecast(month.res, rv, subs), nil
}

// window turns the dashboard's time range into whole UTC days, clamped to what Margin reads (at
// most usage.MaxBackfillDays complete days before today, or the documented retention when every
// provider documents one, plus today's partial day) and to today. The notice says when the range
// was clamped, and when a provider documents fewer days than the range covers (OpenRouter's 30);
// OpenAI and Anthropic document no limit, and their own warnings say which first day had data.
func (d *Datasource) window(tr backend.TimeRange) (usage.Window, string) {
	today := usage.DayOf(d.now())
	from := usage.DayOf(tr.From)
	to := usage.DayOf(tr.To.Add(-time.Nanosecond)) + 1 // a range ending at midnight ends with the day before
	if !tr.To.After(tr.From) {
		to = from
	}
	retention := 0
	for _, p := range d.providers(nil) {
		retention = max(retention, p.RetentionDays())
	}
	oldest := today - usage.Day(retention)
	limit := fmt.Sprintf("Margin reads at most %d days of usage", retention)
	if retention < usage.MaxBackfillDays {
		limit = fmt.Sprintf("The providers document %d days of usage", retention)
	}
	notice := ""
	if from < oldest {
		notice = fmt.Sprintf("%s: the range starts at %s, not %s.", limit, oldest, from)
		from = oldest
	}
	to = min(to, today+1) // no usage exists after today
	// A provider that documents fewer days than the range covers (OpenRouter's 30) says so.
	for _, p := range d.providers(nil) {
		r := p.DocumentedRetentionDays()
		if kept := today - usage.Day(r); r > 0 && kept > from && kept < to { // #nosec G115 -- documented retention is at most 365 days
			notice = joinNotice(notice, fmt.Sprintf("%s documents its last %d completed days: its spend before %s is not in this range.", p, r, kept))
		}
	}
	if to <= from {
		if notice != "" {
			notice = fmt.Sprintf("The range lies before the %d days Margin reads: nothing to show.", retention)
		}
		return usage.Window{From: from, To: from}, notice
	}
	return usage.Window{From: from, To: to}, notice
}

// historyNotice is the observed side of retention: for a range reaching further back than one
// page of daily buckets, which first day had data for each provider that documents no retention
// (OpenAI, Anthropic). The fact cache keeps facts per day, not the fetches' own warnings, so the
// notice is stated from the result against this query's range.
func historyNotice(res *engine.Result, w usage.Window, today usage.Day, providers []usage.Provider) string {
	if w.From >= today-usage.DailyBucketsPerPage {
		return ""
	}
	first := map[usage.Provider]usage.Day{}
	for i := range res.Rows {
		r := &res.Rows[i]
		if d, ok := first[r.Provider]; !ok || r.Day < d {
			first[r.Provider] = r.Day
		}
	}
	notice := ""
	for _, p := range providers {
		if p.DocumentedRetentionDays() > 0 {
			continue
		}
		d, ok := first[p]
		if n := usage.FirstDataNotice(p, w, d, ok); n != "" {
			notice = joinNotice(notice, n+".")
		}
	}
	return notice
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
