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

// viewFuncs maps each query type to the view that renders it.
var viewFuncs = map[models.QueryType]func(views.Input) data.Frames{
	models.QueryCustomers:      views.Customers,
	models.QueryCosts:          views.Costs,
	models.QueryMargin:         views.Margin,
	models.QueryUnattributed:   views.Unattributed,
	models.QueryReconciliation: views.Reconciliation,
	models.QueryPlans:          views.Plans,
	models.QueryFeatures:       views.Features,
	models.QueryForecast:       views.Forecast,
}

// newMux registers one handler per query type, plus a fallback that names the valid types.
func (d *Datasource) newMux() *datasource.QueryTypeMux {
	mux := datasource.NewQueryTypeMux()
	for _, qt := range models.QueryTypes {
		mux.HandleFunc(string(qt), d.handle)
	}
	mux.HandleFunc("", d.handle) // the query JSON may carry queryType; ParseQuery explains a bad one
	return mux
}

// QueryData answers each query on its own: one query's error never fails another.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	return d.mux.QueryData(ctx, req)
}

func (d *Datasource) handle(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.answer(ctx, q)
	}
	return resp, nil
}

// userError is the response for a problem the person can fix in the query or the settings.
func userError(msg string) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
}

func (d *Datasource) answer(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	if d.settingsErr != nil {
		return userError("the datasource settings need fixing: " + d.scrub(joinLines(d.settingsErr)))
	}
	q, err := models.ParseQuery(dq)
	if err != nil {
		return userError(err.Error())
	}
	w, notice := d.window(dq.TimeRange)
	if q.QueryType == models.QueryForecast {
		// The forecast is about this month whatever the dashboard shows.
		w, notice = engine.ForecastWindow(d.eng.Today()), ""
	}
	in := views.Input{Window: w, Query: q, TargetMargin: d.targetMargin(q)}
	if w.Days() == 0 {
		in.Result = &engine.Result{Window: w, Customers: map[string]engine.CustomerInfo{}}
		in.Report = engine.SummarizeFor(in.Result, "usd", in.TargetMargin)
	} else {
		c, err := d.compute(ctx, d.providers(q), w)
		if err == nil && q.QueryType == models.QueryForecast {
			in.Forecast, err = d.forecast(ctx, c)
		}
		if err != nil {
			if ctx.Err() != nil {
				return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, "the query was cancelled before the providers answered")
			}
			return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, d.explain(err))
		}
		in.Result, in.Report = c.res, c.reportFor(in.TargetMargin)
		if q.QueryType != models.QueryForecast {
			notice = joinNotice(notice, historyNotice(in.Result, w, usage.DayOf(d.now()), d.providers(q)))
		}
	}
	frames := viewFuncs[q.QueryType](in)
	meta := frames[0].Meta
	if notice != "" {
		meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: notice})
	}
	for i, warn := range in.Result.Warnings {
		if i == maxWarningNotices {
			meta.Notices = append(meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("%d more warnings", len(in.Result.Warnings)-maxWarningNotices)})
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
