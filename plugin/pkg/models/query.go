package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// QueryType selects the view a query returns; the values are mirrored in src/types.ts.
type QueryType string

const (
	QueryCustomers      QueryType = "customers"      // table: one row per Stripe customer
	QueryCosts          QueryType = "costs"          // time series: cost per provider, model or customer
	QueryMargin         QueryType = "margin"         // time series: revenue, cost and margin
	QueryUnattributed   QueryType = "unattributed"   // table: spend no customer mapping covers, by source
	QueryReconciliation QueryType = "reconciliation" // long time series: billed vs attributed per provider and day
	QueryPlans          QueryType = "plans"          // table: one row per plan, priced for a target margin
	QueryFeatures       QueryType = "features"       // table: one row per product feature
	QueryForecast       QueryType = "forecast"       // table: month-end projection per customer
)

// QueryTypes lists every query type in the editor's order.
var QueryTypes = []QueryType{QueryCustomers, QueryCosts, QueryMargin, QueryUnattributed, QueryReconciliation, QueryPlans, QueryFeatures, QueryForecast}

// GroupBy splits a time series query.
type GroupBy string

const (
	GroupNone     GroupBy = ""
	GroupProvider GroupBy = "provider"
	GroupModel    GroupBy = "model"
	GroupCustomer GroupBy = "customer"
	GroupPlan     GroupBy = "plan"    // margin only
	GroupFeature  GroupBy = "feature" // costs only
)

// groupings lists what each time series accepts; the first entry is the default.
var groupings = map[QueryType][]GroupBy{
	QueryCosts:  {GroupProvider, GroupModel, GroupCustomer, GroupFeature},
	QueryMargin: {GroupNone, GroupCustomer, GroupPlan},
}

// Interval values. Providers report usage and cost in daily UTC buckets, so only daily is served.
const (
	IntervalDay  = "1d"
	IntervalHour = "1h"
)

// UnattributedID stands for spend no customer mapping covers, in customerIds and in frame labels
// (the exporter's customer_id label uses the same value).
const UnattributedID = engine.CustomerUnattributed

// Query is one panel query.
type Query struct {
	QueryType   QueryType  `json:"queryType"`
	GroupBy     GroupBy    `json:"groupBy,omitempty"`
	CustomerIDs StringList `json:"customerIds,omitempty"`
	Providers   StringList `json:"providers,omitempty"`
	Interval    string     `json:"interval,omitempty"`
	// TargetMargin is the gross margin the plans query prices for: a number (or decimal text)
	// between 0 and 1; absent, the settings' targetMargin or 0.65. Parsed into Target.
	TargetMargin json.RawMessage `json:"targetMargin,omitempty"`
	// Target is TargetMargin parsed; 0 when the query sets none.
	Target ledger.Rate `json:"-"`
}

// StringList is a list of strings that also accepts a single string, and splits entries on commas
// and strips the braces of Grafana's {a,b} multi-value format, so template variables can arrive
// interpolated in any of Grafana's usual shapes.
type StringList []string

// UnmarshalJSON accepts "a", "a,b", "{a,b}" and ["a", "b,c"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	var items []string
	if err := json.Unmarshal(b, &items); err != nil {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("want a list of text values")
		}
		items = []string{one}
	}
	var out StringList
	for _, it := range items {
		it = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(it), "{"), "}")
		for part := range strings.SplitSeq(it, ",") {
			if part = strings.TrimSpace(part); part != "" && !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	*l = out
	return nil
}

// allValues are what Grafana sends for a variable's "All" option when it has no custom value;
// they mean no filter.
var allValues = []string{"$__all", "*", "All"}

// QueryError is a problem with the query itself: the user's input, never a fault of the plugin.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

func queryErrorf(format string, args ...any) error {
	return &QueryError{Msg: fmt.Sprintf(format, args...)}
}

// ParseQuery decodes and validates a query. The query type comes from the query JSON or, when
// absent there, from the request's own queryType. Errors are *QueryError.
func ParseQuery(q backend.DataQuery) (*Query, error) {
	var m Query
	if len(q.JSON) > 0 {
		if err := json.Unmarshal(q.JSON, &m); err != nil {
			return nil, queryErrorf("the query is not valid JSON for this datasource: %v", err)
		}
	}
	if m.QueryType == "" {
		m.QueryType = QueryType(q.QueryType)
	}
	if !slices.Contains(QueryTypes, m.QueryType) {
		return nil, queryErrorf("unknown queryType %q: want one of %s", m.QueryType, joinTypes(QueryTypes))
	}
	if allowed, ok := groupings[m.QueryType]; ok {
		if m.GroupBy == GroupNone {
			m.GroupBy = allowed[0]
		}
		if !slices.Contains(allowed, m.GroupBy) {
			return nil, queryErrorf("groupBy %q does not apply to %s: want %s", m.GroupBy, m.QueryType, joinGroups(allowed))
		}
	} else {
		m.GroupBy = GroupNone // tables have a fixed grain; an editor may leave a stale groupBy behind
	}
	switch m.Interval {
	case "", IntervalDay, "24h", "day":
		m.Interval = IntervalDay
	case IntervalHour:
		return nil, queryErrorf("interval 1h is not available: the providers' usage and cost APIs are read in daily UTC buckets; use 1d")
	default:
		return nil, queryErrorf("interval %q is not supported: use 1d", m.Interval)
	}
	var err error
	if len(m.TargetMargin) > 0 && string(m.TargetMargin) != "null" && string(m.TargetMargin) != `""` {
		if m.Target, err = parseTargetMargin(m.TargetMargin); err != nil {
			return nil, queryErrorf("targetMargin: %v", err)
		}
	}
	if m.Providers, err = filterValues("providers", m.Providers); err != nil {
		return nil, err
	}
	for _, p := range m.Providers {
		if !slices.Contains(usage.Providers, usage.Provider(p)) {
			return nil, queryErrorf("providers: unknown provider %q: want openai, anthropic or openrouter", p)
		}
	}
	if m.CustomerIDs, err = filterValues("customerIds", m.CustomerIDs); err != nil {
		return nil, err
	}
	return &m, nil
}

// filterValues drops the "All" markers (no filter) and rejects variables left uninterpolated.
func filterValues(field string, vals StringList) (StringList, error) {
	var out StringList
	for _, v := range vals {
		if slices.Contains(allValues, v) {
			return nil, nil
		}
		if strings.HasPrefix(v, "$") {
			return nil, queryErrorf("%s: %q looks like a template variable that was not replaced", field, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// HasProvider reports whether the query's provider filter admits p.
func (q *Query) HasProvider(p usage.Provider) bool {
	return len(q.Providers) == 0 || slices.Contains(q.Providers, string(p))
}

// HasCustomer reports whether the query's customer filter admits id ("" is unattributed spend).
func (q *Query) HasCustomer(id string) bool {
	if len(q.CustomerIDs) == 0 {
		return true
	}
	if id == "" {
		id = UnattributedID
	}
	return slices.Contains(q.CustomerIDs, id)
}

func joinTypes(ts []QueryType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func joinGroups(gs []GroupBy) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		if g == GroupNone {
			s[i] = `"" (overall)`
			continue
		}
		s[i] = string(g)
	}
	return strings.Join(s, ", ")
}
