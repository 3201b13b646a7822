package models

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		queryType string // the request's own queryType
		json      string
		want      Query
		err       string
	}{
		{name: "costs default grouping", json: `{"queryType":"costs"}`,
			want: Query{QueryType: QueryCosts, GroupBy: GroupProvider, Interval: IntervalDay}},
		{name: "query type from the request", queryType: "margin", json: `{}`,
			want: Query{QueryType: QueryMargin, GroupBy: GroupNone, Interval: IntervalDay}},
		{name: "margin by plan", json: `{"queryType":"margin","groupBy":"plan","interval":"1d"}`,
			want: Query{QueryType: QueryMargin, GroupBy: GroupPlan, Interval: IntervalDay}},
		{name: "tables drop a stale groupBy", json: `{"queryType":"customers","groupBy":"model"}`,
			want: Query{QueryType: QueryCustomers, Interval: IntervalDay}},
		{name: "template variable shapes", json: `{"queryType":"customers","customerIds":["{cus_A,cus_B}","cus_C, cus_A",""],"providers":"openai,anthropic"}`,
			want: Query{QueryType: QueryCustomers, Interval: IntervalDay, CustomerIDs: StringList{"cus_A", "cus_B", "cus_C"}, Providers: StringList{"openai", "anthropic"}}},
		{name: "All means no filter", json: `{"queryType":"costs","customerIds":["$__all"],"providers":["*"]}`,
			want: Query{QueryType: QueryCosts, GroupBy: GroupProvider, Interval: IntervalDay}},
		{name: "costs by feature", json: `{"queryType":"costs","groupBy":"feature"}`,
			want: Query{QueryType: QueryCosts, GroupBy: GroupFeature, Interval: IntervalDay}},
		{name: "feature grouping is for costs only", json: `{"queryType":"margin","groupBy":"feature"}`,
			err: `groupBy "feature" does not apply to margin: want "" (overall), customer, plan`},
		{name: "features and forecast tables", json: `{"queryType":"forecast","groupBy":"feature"}`,
			want: Query{QueryType: QueryForecast, Interval: IntervalDay}},
		{name: "target margin", json: `{"queryType":"plans","targetMargin":0.8}`,
			want: Query{QueryType: QueryPlans, Interval: IntervalDay, TargetMargin: json.RawMessage(`0.8`), Target: 800_000_000}},
		{name: "target margin from a variable as text", json: `{"queryType":"plans","targetMargin":"0.55"}`,
			want: Query{QueryType: QueryPlans, Interval: IntervalDay, TargetMargin: json.RawMessage(`"0.55"`), Target: 550_000_000}},
		{name: "empty target margin means the default", json: `{"queryType":"plans","targetMargin":""}`,
			want: Query{QueryType: QueryPlans, Interval: IntervalDay, TargetMargin: json.RawMessage(`""`)}},
		{name: "target margin above one", json: `{"queryType":"plans","targetMargin":1.5}`,
			err: "targetMargin: want a gross margin between 0 and 1 such as 0.65, got 1.5"},
		{name: "target margin negative", json: `{"queryType":"plans","targetMargin":-0.2}`,
			err: "targetMargin: want a gross margin between 0 and 1 such as 0.65, got -0.2"},
		{name: "target margin unreplaced variable", json: `{"queryType":"plans","targetMargin":"$target"}`,
			err: `targetMargin: want a gross margin between 0 and 1 such as 0.65, got "$target"`},
		{name: "unknown type", json: `{"queryType":"profit"}`,
			err: `unknown queryType "profit": want one of customers, costs, margin, unattributed, reconciliation, plans, features, forecast`},
		{name: "no type", json: `{}`, err: `unknown queryType "": want one of customers, costs, margin, unattributed, reconciliation, plans, features, forecast`},
		{name: "bad JSON", json: `{"queryType":`, err: "the query is not valid JSON for this datasource: unexpected end of JSON input"},
		{name: "customerIds not text", json: `{"queryType":"customers","customerIds":[1]}`,
			err: "the query is not valid JSON for this datasource: want a list of text values"},
		{name: "hourly", json: `{"queryType":"costs","interval":"1h"}`,
			err: "interval 1h is not available: the providers' usage and cost APIs are read in daily UTC buckets; use 1d"},
		{name: "odd interval", json: `{"queryType":"costs","interval":"5m"}`, err: `interval "5m" is not supported: use 1d`},
		{name: "group for margin", json: `{"queryType":"margin","groupBy":"model"}`,
			err: `groupBy "model" does not apply to margin: want "" (overall), customer, plan`},
		{name: "unknown provider", json: `{"queryType":"costs","providers":["openai","azure"]}`,
			err: `providers: unknown provider "azure": want openai, anthropic or openrouter`},
		{name: "unreplaced variable", json: `{"queryType":"plans","customerIds":"$customer"}`,
			err: `customerIds: "$customer" looks like a template variable that was not replaced`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseQuery(backend.DataQuery{QueryType: tc.queryType, JSON: json.RawMessage(tc.json)})
			if tc.err != "" {
				var qe *QueryError
				if err == nil || err.Error() != tc.err || !errors.As(err, &qe) {
					t.Fatalf("error %v, want *QueryError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*q, tc.want) {
				t.Fatalf("got %+v\nwant %+v", *q, tc.want)
			}
		})
	}
}

func TestQuery_Filters(t *testing.T) {
	q := Query{CustomerIDs: StringList{"cus_A", UnattributedID}, Providers: StringList{"openai"}}
	if !q.HasCustomer("cus_A") || q.HasCustomer("cus_B") || !q.HasCustomer("") {
		t.Fatal("customer filter: want cus_A and unattributed spend only")
	}
	if !q.HasProvider("openai") || q.HasProvider("anthropic") {
		t.Fatal("provider filter: want openai only")
	}
	var none Query
	if !none.HasCustomer("cus_B") || !none.HasCustomer("") || !none.HasProvider("openrouter") {
		t.Fatal("no filter must admit everything")
	}
}
