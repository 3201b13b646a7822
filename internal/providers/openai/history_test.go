package openai

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

// historyRoutes serves completions usage with one row per day from firstData on, 31 daily buckets
// a page (the documented maximum, enforced), paging by next_page; every other endpoint is empty.
func historyRoutes(t *testing.T, firstData usage.Day) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !strings.HasSuffix(r.URL.Path, "/organization/usage/completions") {
			emptyRoutes(w, r)
			return
		}
		start, _ := strconv.ParseInt(q.Get("start_time"), 10, 64)
		end, _ := strconv.ParseInt(q.Get("end_time"), 10, 64)
		if q.Get("limit") != "31" {
			t.Errorf("limit = %q, want 31 (the most 1d buckets a page may hold)", q.Get("limit"))
		}
		if p := q.Get("page"); p != "" {
			start, _ = strconv.ParseInt(strings.TrimPrefix(p, "page_"), 10, 64)
		}
		var b strings.Builder
		b.WriteString(`{"object":"page","data":[`)
		n := 0
		for t0 := start; t0 < end && n < 31; t0 += 86400 {
			if n > 0 {
				b.WriteByte(',')
			}
			results := ""
			if usage.DayOf(timeUnix(t0)) >= firstData {
				results = `{"object":"organization.usage.completions.result","input_tokens":100,"output_tokens":10,"num_model_requests":1,"project_id":"proj_1","api_key_id":"key_1","model":"gpt-4.1","batch":false}`
			}
			fmt.Fprintf(&b, `{"object":"bucket","start_time":%d,"end_time":%d,"results":[%s]}`, t0, t0+86400, results)
			n++
		}
		next := start + int64(n)*86400
		if next < end {
			fmt.Fprintf(&b, `],"has_more":true,"next_page":"page_%d"}`, next)
		} else {
			b.WriteString(`],"has_more":false,"next_page":null}`)
		}
		writeJSON(w, http.StatusOK, b.String())
	}
}

func TestFetch_HistoryBeyond31Days(t *testing.T) {
	today := usage.DayOf(fixtureNow)
	tests := []struct {
		name       string
		from       usage.Day
		firstData  usage.Day
		wantPages  int
		wantDays   int
		wantNotice string // "" for none
	}{
		{"data from the window's first day", today - 90, today - 120, 3, 90, ""},
		{"data begins inside the window", today - 90, today - 40, 3, 40,
			"openai: the first day with data is " + (today - 40).String() + ", not " + (today - 90).String() +
				" (openai documents no retention limit; observed: nothing served before " + (today - 40).String() + ")"},
		{"a month-long window says nothing of history", today - 31, today - 10, 1, 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f, _ := setup(t, historyRoutes(t, tt.firstData))
			b, err := c.Fetch(context.Background(), usage.Window{From: tt.from, To: today})
			if err != nil {
				t.Fatal(err)
			}
			pages := 0
			for _, r := range f.requests() {
				if r.Path == "/organization/usage/completions" {
					pages++
				}
			}
			if pages != tt.wantPages {
				t.Errorf("%d completions pages, want %d", pages, tt.wantPages)
			}
			if len(b.Usage) != tt.wantDays || b.Usage[0].Day != max(tt.from, tt.firstData) {
				t.Errorf("%d usage days from %s, want %d from %s", len(b.Usage), b.Usage[0].Day, tt.wantDays, max(tt.from, tt.firstData))
			}
			var notices []string
			for _, w := range b.Warnings {
				if strings.Contains(w, "first day with data") {
					notices = append(notices, w)
				}
			}
			switch {
			case tt.wantNotice == "" && len(notices) != 0:
				t.Errorf("notices %q, want none", notices)
			case tt.wantNotice != "" && (len(notices) != 1 || notices[0] != tt.wantNotice):
				t.Errorf("notices %q, want %q", notices, tt.wantNotice)
			}
		})
	}
}

func TestListProjectAPIKeys_AsksForEveryOwnersKeys(t *testing.T) {
	c, f, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		// Like the real endpoint: without owner_project_access=any, keys whose owner lost access
		// to the project are not listed.
		inactive := `{"object":"organization.project.api_key","id":"key_gone","name":"ex-employee cus_X","redacted_value":"sk-proj-****gone","created_at":1780000000,"last_used_at":null,"owner_project_access":"inactive"}`
		active := `{"object":"organization.project.api_key","id":"key_here","name":"prod","redacted_value":"sk-proj-****here","created_at":1780000000,"last_used_at":null,"owner_project_access":"active"}`
		data := active
		if r.URL.Query().Get("owner_project_access") == "any" {
			data += "," + inactive
		}
		writeJSON(w, http.StatusOK, `{"object":"list","data":[`+data+`],"first_id":"key_here","last_id":"key_gone","has_more":false}`)
	})
	var got []string
	for k, err := range c.ListProjectAPIKeys(context.Background(), "proj_1") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k.ID+"/"+k.OwnerProjectAccess)
	}
	if strings.Join(got, ",") != "key_here/active,key_gone/inactive" {
		t.Errorf("keys %q, want the inactive owner's key too", got)
	}
	if q := f.requests()[0].Query; q.Get("owner_project_access") != "any" || q.Get("limit") != "100" {
		t.Errorf("query %v", q)
	}
}

func timeUnix(s int64) time.Time { return time.Unix(s, 0) }
