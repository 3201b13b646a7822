package anthropic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

// documentedReport serves the messages usage report by its documented rules: buckets start at
// starting_at (snapped to the UTC day), at most limit of them a page, and only buckets that end
// before or at ending_at are returned ("Time buckets that end before this timestamp will be
// returned"). Every day from firstData on has one row of 100 input and 10 output tokens, today's
// partial day too. The cost report has no rows.
func documentedReport(t *testing.T, f *fakeAPI, firstData usage.Day) {
	f.handle(usageEndpoint, f.validateReport(false, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, _ := time.Parse(time.RFC3339, q.Get("starting_at"))
		end, _ := time.Parse(time.RFC3339, q.Get("ending_at"))
		cur := start.Truncate(24 * time.Hour)
		if p := q.Get("page"); p != "" {
			cur, _ = time.Parse(time.RFC3339, strings.TrimPrefix(p, "page_"))
		}
		var b strings.Builder
		b.WriteString(`{"data":[`)
		n := 0
		for ; n < 31 && !cur.Add(24*time.Hour).After(end); n++ {
			if n > 0 {
				b.WriteByte(',')
			}
			results := ""
			if usage.DayOf(cur) >= firstData {
				results = `{"uncached_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"cache_read_input_tokens":0,"output_tokens":10,"server_tool_use":{"web_search_requests":0},"api_key_id":"apikey_01","workspace_id":null,"model":"claude-sonnet-4-5-20250929","service_tier":"standard","context_window":"0-200k"}`
			}
			fmt.Fprintf(&b, `{"starting_at":%q,"ending_at":%q,"results":[%s]}`, cur.Format(time.RFC3339), cur.Add(24*time.Hour).Format(time.RFC3339), results)
			cur = cur.Add(24 * time.Hour)
		}
		if !cur.Add(24 * time.Hour).After(end) {
			fmt.Fprintf(&b, `],"has_more":true,"next_page":"page_%s"}`, cur.Format(time.RFC3339))
		} else {
			b.WriteString(`],"has_more":false,"next_page":null}`)
		}
		w.Write([]byte(b.String()))
	}))
	f.handle(costEndpoint, f.validateReport(true, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[],"has_more":false,"next_page":null}`))
	}))
}

func TestFetch_TodayArrivesUnderTheEndingAtRule(t *testing.T) {
	today := usage.DayOf(fixtureNow)
	f := newFake(t)
	documentedReport(t, f, today-10)
	c, _ := newTestClient(t, f)
	b, err := c.Fetch(context.Background(), usage.Window{From: today - 2, To: today + 1})
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, r := range b.Usage {
		days = append(days, r.Day.String())
	}
	// ending_at = now (10:00) would return neither today's bucket (it ends at midnight) nor,
	// so, today's tokens.
	if strings.Join(days, ",") != "2026-08-01,2026-08-02,2026-08-03" {
		t.Errorf("usage days %q, want today's partial day too", days)
	}
	u := f.requestsTo(usageEndpoint)
	if len(u) != 1 || u[0].Query.Get("ending_at") != "2026-08-04T00:00:00Z" {
		t.Fatalf("usage requests %+v, want one ending at the next UTC midnight", u)
	}
	// The cost report still asks for complete days only.
	if cst := f.requestsTo(costEndpoint); len(cst) != 1 || cst[0].Query.Get("ending_at") != "2026-08-03T00:00:00Z" {
		t.Errorf("cost requests %+v, want one ending at today's midnight", cst)
	}
}

func TestFetch_PastWindowEndsAtItsOwnMidnight(t *testing.T) {
	today := usage.DayOf(fixtureNow)
	f := newFake(t)
	documentedReport(t, f, today-10)
	c, _ := newTestClient(t, f)
	b, err := c.Fetch(context.Background(), usage.Window{From: today - 5, To: today - 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Usage) != 3 || b.Usage[2].Day != today-3 {
		t.Errorf("usage %+v, want the window's three days", b.Usage)
	}
	if u := f.requestsTo(usageEndpoint); u[0].Query.Get("ending_at") != "2026-08-01T00:00:00Z" {
		t.Errorf("ending_at %s, want the window's end", u[0].Query.Get("ending_at"))
	}
}

func TestFetch_HistoryBeyond31Days(t *testing.T) {
	today := usage.DayOf(fixtureNow)
	tests := []struct {
		name       string
		firstData  usage.Day
		wantNotice string
	}{
		{"data on the first day", today - 200, ""},
		{"data begins later", today - 45, "anthropic: the first day with data is 2026-06-19, not 2026-05-05 " +
			"(anthropic documents no retention limit; observed: nothing served before 2026-06-19)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			documentedReport(t, f, tt.firstData)
			c, _ := newTestClient(t, f)
			b, err := c.Fetch(context.Background(), usage.Window{From: today - 90, To: today + 1})
			if err != nil {
				t.Fatal(err)
			}
			// 91 daily buckets at 31 a page: three pages.
			if n := len(f.requestsTo(usageEndpoint)); n != 3 {
				t.Errorf("%d usage pages, want 3", n)
			}
			if want := int(today - max(today-90, tt.firstData) + 1); len(b.Usage) != want {
				t.Errorf("%d usage days, want %d", len(b.Usage), want)
			}
			var notices []string
			for _, w := range b.Warnings {
				if strings.Contains(w, "first day with data") {
					notices = append(notices, w)
				}
			}
			if got := strings.Join(notices, "|"); got != tt.wantNotice {
				t.Errorf("notice %q, want %q", got, tt.wantNotice)
			}
		})
	}
}
