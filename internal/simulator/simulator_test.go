package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// testNow is mid-afternoon, so today's partial day and unaligned buckets are exercised.
var testNow = time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)

var (
	worldOnce sync.Once
	sharedW   *World
)

// demo returns one shared demo world; it is read-only except for SetFailing, which only
// TestSetFailing uses, on its own world.
func demo(t testing.TB) *World {
	t.Helper()
	worldOnce.Do(func() { sharedW = New(Config{Now: testNow}) })
	return sharedW
}

var (
	openaiAuth     = map[string]string{"Authorization": "Bearer " + OpenAIAdminKey}
	anthropicAuth  = map[string]string{"x-api-key": AnthropicAdminKey, "anthropic-version": "2023-06-01"}
	openrouterAuth = map[string]string{"Authorization": "Bearer " + OpenRouterManagementKey}
	stripeAuth     = map[string]string{"Authorization": "Bearer " + StripeAPIKey}
)

type response struct {
	status int
	header http.Header
	body   []byte
}

// get serves one request in process through the world's Transport.
func get(t testing.TB, w *World, path string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://sim.invalid"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: w.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func getOK(t testing.TB, w *World, path string, hdr map[string]string, out any) {
	t.Helper()
	r := get(t, w, path, hdr)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, r.status, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
}

func unix(d usage.Day) string { return strconv.FormatInt(d.Time().Unix(), 10) }

func TestNew_SameConfigServesIdenticalBytes(t *testing.T) {
	a, b := New(Config{Now: testNow, Seed: 7}), New(Config{Now: testNow, Seed: 7})
	today := usage.DayOf(testNow)
	paths := []struct {
		path string
		hdr  map[string]string
	}{
		{"/openai/v1/organization/usage/completions?start_time=" + unix(today-10) + "&group_by=project_id,api_key_id,model,batch&limit=31", openaiAuth},
		{"/openai/v1/organization/costs?start_time=" + unix(today-10) + "&group_by[]=api_key_id&group_by[]=line_item&limit=31", openaiAuth},
		{"/openai/v1/organization/projects", openaiAuth},
		{"/anthropic/v1/organizations/usage_report/messages?starting_at=" + (today - 3).Time().Format(time.RFC3339) + "&bucket_width=1h&group_by[]=api_key_id&group_by[]=model&limit=100", anthropicAuth},
		{"/anthropic/v1/organizations/cost_report?starting_at=" + (today - 9).Time().Format(time.RFC3339) + "&group_by[]=workspace_id&group_by[]=description&limit=31", anthropicAuth},
		{"/anthropic/v1/organizations/api_keys?limit=1000", anthropicAuth},
		{"/openrouter/api/v1/activity", openrouterAuth},
		{"/openrouter/api/v1/keys", openrouterAuth},
		{"/stripe/v1/invoices?limit=100", stripeAuth},
		{"/stripe/v1/customers?limit=100", stripeAuth},
	}
	for _, p := range paths {
		ra, rb := get(t, a, p.path, p.hdr), get(t, b, p.path, p.hdr)
		if ra.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", p.path, ra.status, ra.body)
		}
		if !bytes.Equal(ra.body, rb.body) {
			t.Errorf("%s: two worlds with the same config served different bodies", p.path)
		}
	}
	// A different seed is a different company.
	c := New(Config{Now: testNow, Seed: 8})
	if a.Customers()[0] == c.Customers()[0] {
		t.Errorf("seeds 7 and 8 gave the same first customer id %s", a.Customers()[0])
	}
}

func TestHandler_RejectsOtherCredentials(t *testing.T) {
	w := demo(t)
	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		want   string // a fragment of the provider's own error envelope
	}{
		{"openai no key", "/openai/v1/organization/projects", nil, 401, `"type":"invalid_request_error"`},
		{"openai project key", "/openai/v1/organization/projects", map[string]string{"Authorization": "Bearer sk-proj-abcdefabcdef"}, 401, `"code":"invalid_api_key"`},
		{"anthropic wrong key", "/anthropic/v1/organizations/workspaces", map[string]string{"x-api-key": "sk-ant-api03-nope", "anthropic-version": "2023-06-01"}, 401, `"type":"authentication_error"`},
		{"anthropic no version", "/anthropic/v1/organizations/workspaces", map[string]string{"x-api-key": AnthropicAdminKey}, 400, `"anthropic-version: header is required"`},
		{"openrouter inference key", "/openrouter/api/v1/keys", map[string]string{"Authorization": "Bearer sk-or-v1-inference0000"}, 403, `{"error":{"code":403,"message":"Only management keys can perform this operation"}}`},
		{"openrouter garbage", "/openrouter/api/v1/credits", map[string]string{"Authorization": "Bearer nope"}, 401, `"code":401`},
		{"stripe wrong key", "/stripe/v1/customers", map[string]string{"Authorization": "Bearer rk_test_wrongwrongwrong"}, 401, `"type":"invalid_request_error"`},
		{"stripe no key", "/stripe/v1/customers", nil, 401, `You did not provide an API key`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, w, tc.path, tc.hdr)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("got %d %s; want %d containing %s", r.status, r.body, tc.status, tc.want)
			}
			for _, secret := range []string{"sk-proj-abcdefabcdef", "sk-ant-api03-nope", "wrongwrongwrong", "inference0000"} {
				if strings.Contains(string(r.body), secret) {
					t.Errorf("error body echoes the rejected key: %s", r.body)
				}
			}
		})
	}

	// What does work: the inference key may read /key, and Stripe accepts basic auth like stripe-go.
	var key struct {
		Data struct {
			IsManagementKey bool `json:"is_management_key"`
		} `json:"data"`
	}
	getOK(t, w, "/openrouter/api/v1/key", map[string]string{"Authorization": "Bearer sk-or-v1-inference0000"}, &key)
	if key.Data.IsManagementKey {
		t.Error("an inference key reported itself as a management key")
	}
	req, _ := http.NewRequest(http.MethodGet, "http://sim.invalid/stripe/v1/products", nil)
	req.SetBasicAuth(StripeAPIKey, "")
	resp, err := w.Transport().RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stripe basic auth: %v %v", resp, err)
	}
}

type openaiPage struct {
	Data []struct {
		StartTime int64             `json:"start_time"`
		EndTime   int64             `json:"end_time"`
		Results   []json.RawMessage `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

func TestOpenAIUsage_PagingCoversEveryBucketOnce(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	for _, width := range []struct {
		name    string
		seconds int64
		limit   int
	}{{"1d", 86400, 4}, {"1h", 3600, 50}} {
		t.Run(width.name, func(t *testing.T) {
			start := (today - 12).Time().Unix() + 5400 // unaligned on purpose (trap 6)
			q := url.Values{"start_time": {strconv.FormatInt(start, 10)}, "bucket_width": {width.name},
				"limit": {strconv.Itoa(width.limit)}, "group_by[]": {"model"}}
			var buckets [][2]int64
			var tokens int64
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging did not terminate")
				}
				var p openaiPage
				getOK(t, w, "/openai/v1/organization/usage/completions?"+q.Encode(), openaiAuth, &p)
				if len(p.Data) > width.limit {
					t.Fatalf("page has %d buckets, limit %d", len(p.Data), width.limit)
				}
				for _, b := range p.Data {
					buckets = append(buckets, [2]int64{b.StartTime, b.EndTime})
					for _, r := range b.Results {
						var row struct {
							InputTokens int64 `json:"input_tokens"`
						}
						if err := json.Unmarshal(r, &row); err != nil {
							t.Fatal(err)
						}
						tokens += row.InputTokens
					}
				}
				if !p.HasMore {
					if p.NextPage != nil {
						t.Fatalf("has_more false but next_page %q", *p.NextPage)
					}
					break
				}
				if p.NextPage == nil || !strings.HasPrefix(*p.NextPage, "page_") {
					t.Fatalf("has_more true but next_page %v", p.NextPage)
				}
				q.Set("page", *p.NextPage)
			}
			if buckets[0][0] != start || buckets[0][1]%width.seconds != 0 {
				t.Errorf("first bucket %v: want it to start at %d and end on a boundary", buckets[0], start)
			}
			for i := 1; i < len(buckets); i++ {
				if buckets[i][0] != buckets[i-1][1] || buckets[i][1]-buckets[i][0] != width.seconds {
					t.Fatalf("bucket %d %v does not follow %v", i, buckets[i], buckets[i-1])
				}
			}
			if last := buckets[len(buckets)-1]; last[0] > testNow.Unix() || last[1] <= testNow.Unix() {
				t.Errorf("last bucket %v does not contain now", last)
			}
			// Every bucketing sees the same tokens: compare with one unpaged daily query.
			var whole openaiPage
			getOK(t, w, "/openai/v1/organization/usage/completions?start_time="+strconv.FormatInt(start, 10)+"&limit=31", openaiAuth, &whole)
			var want int64
			for _, b := range whole.Data {
				for _, r := range b.Results {
					var row struct {
						InputTokens int64 `json:"input_tokens"`
					}
					_ = json.Unmarshal(r, &row)
					want += row.InputTokens
				}
			}
			if tokens != want || want == 0 {
				t.Errorf("paged %s buckets hold %d input tokens, one daily page %d", width.name, tokens, want)
			}
		})
	}
}

func TestOpenAI_ValidatesParameters(t *testing.T) {
	w := demo(t)
	start := unix(usage.DayOf(testNow) - 3)
	cases := []struct {
		query  string
		status int
	}{
		{"usage/completions?start_time=" + start + "&limit=31", 200},
		{"usage/completions?start_time=" + start + "&limit=32", 400},
		{"usage/completions?start_time=" + start + "&bucket_width=1h&limit=169", 400},
		{"usage/completions?start_time=" + start + "&bucket_width=1m&limit=1440", 200},
		{"usage/completions?limit=3", 400},
		{"usage/completions?start_time=" + start + "&group_by=line_item", 400},
		{"costs?start_time=" + start + "&limit=180", 200},
		{"costs?start_time=" + start + "&limit=181", 400},
		{"costs?start_time=" + start + "&bucket_width=1h", 400},
		{"usage/audio_transcriptions?start_time=" + start, 200},
	}
	for _, tc := range cases {
		if r := get(t, w, "/openai/v1/organization/"+tc.query, openaiAuth); r.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.query, r.status, tc.status, r.body)
		}
	}
	// The three group_by encodings are the same request.
	base := "/openai/v1/organization/usage/completions?start_time=" + start + "&"
	forms := []string{"group_by[]=project_id&group_by[]=model", "group_by=project_id&group_by=model", "group_by=project_id,model"}
	first := get(t, w, base+forms[0], openaiAuth)
	for _, f := range forms[1:] {
		if r := get(t, w, base+f, openaiAuth); !bytes.Equal(r.body, first.body) {
			t.Errorf("group_by as %q differs from %q", f, forms[0])
		}
	}
	var empty openaiPage
	getOK(t, w, "/openai/v1/organization/usage/images?start_time="+start, openaiAuth, &empty)
	if len(empty.Data) == 0 || empty.Data[0].Results == nil || len(empty.Data[0].Results) != 0 {
		t.Errorf("images: want buckets with results: [], got %+v", empty)
	}
}

// amountValue decodes amount.value, a JSON number or (trap 3) a string, without floats.
func amountValue(t *testing.T, raw json.RawMessage) (ledger.Money, bool) {
	t.Helper()
	s, isString := string(raw), false
	if strings.HasPrefix(s, `"`) {
		isString = true
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ledger.ParseDollars(s)
	if err != nil {
		t.Fatalf("amount %s: %v", raw, err)
	}
	return m, isString
}

func TestOpenAICosts_DailySumEqualsBilledTotal(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	for _, groups := range []string{"group_by=project_id,api_key_id,line_item", "group_by[]=line_item", ""} {
		var p struct {
			Data []struct {
				StartTime int64 `json:"start_time"`
				Results   []struct {
					Object string `json:"object"`
					Amount struct {
						Value    json.RawMessage `json:"value"`
						Currency string          `json:"currency"`
					} `json:"amount"`
					LineItem *string `json:"line_item"`
				} `json:"results"`
			} `json:"data"`
		}
		getOK(t, w, "/openai/v1/organization/costs?start_time="+unix(today-31)+"&limit=180&"+groups, openaiAuth, &p)
		if len(p.Data) != 32 {
			t.Fatalf("%s: %d buckets, want 31 complete days and today", groups, len(p.Data))
		}
		strings_, webSearch := 0, false
		for _, b := range p.Data {
			d := usage.DayOf(time.Unix(b.StartTime, 0))
			var sum ledger.Money
			for _, r := range b.Results {
				m, isString := amountValue(t, r.Amount.Value)
				sum += m
				if isString {
					strings_++
				}
				if r.Amount.Currency != "usd" || r.Object != "organization.costs.result" {
					t.Fatalf("row %+v", r)
				}
				if r.LineItem != nil && *r.LineItem == "web search tool calls" {
					webSearch = true
				}
			}
			if want := w.BilledTotal(usage.OpenAI, d); sum != want || want == 0 {
				t.Errorf("%s: %s costs sum to %s, BilledTotal %s", groups, d, sum, want)
			}
		}
		if strings.Contains(groups, "project_id") && (strings_ == 0 || !webSearch) {
			t.Errorf("%s: want some string amounts (trap 3, got %d) and a web search line item (%v)", groups, strings_, webSearch)
		}
	}
}

func TestAnthropicCost_CentStringsSumToBilledTotal(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	var p struct {
		Data []struct {
			StartingAt string `json:"starting_at"`
			Results    []struct {
				Amount      json.RawMessage `json:"amount"`
				Currency    string          `json:"currency"`
				Description *string         `json:"description"`
				TokenType   *string         `json:"token_type"`
				WorkspaceID *string         `json:"workspace_id"`
			} `json:"results"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	getOK(t, w, "/anthropic/v1/organizations/cost_report?starting_at="+(today-31).Time().Format(time.RFC3339)+
		"&ending_at="+testNow.Format(time.RFC3339)+"&group_by[]=workspace_id&group_by[]=description&limit=31", anthropicAuth, &p)
	if len(p.Data) != 31 || p.HasMore {
		t.Fatalf("%d buckets (has_more %v), want the 31 complete days only", len(p.Data), p.HasMore)
	}
	seen := map[string]bool{}
	for _, b := range p.Data {
		st, _ := time.Parse(time.RFC3339, b.StartingAt)
		var sum ledger.Money
		for _, r := range b.Results {
			var s string
			if err := json.Unmarshal(r.Amount, &s); err != nil {
				t.Fatalf("amount %s is not a string", r.Amount)
			}
			m, err := ledger.ParseCents(s)
			if err != nil {
				t.Fatal(err)
			}
			sum += m
			if r.Currency != "USD" {
				t.Fatalf("currency %q", r.Currency)
			}
			if r.Description != nil {
				seen[*r.Description] = true
			}
			if r.TokenType != nil {
				seen[*r.TokenType] = true
			}
			seen["workspace:"+fmt.Sprint(r.WorkspaceID != nil)] = true
		}
		if want := w.BilledTotal(usage.Anthropic, usage.DayOf(st)); sum != want || want == 0 {
			t.Errorf("%s: cost report sums to %s, BilledTotal %s", b.StartingAt, sum, want)
		}
	}
	for _, want := range []string{"Claude Sonnet 4.5 Usage - Input Tokens", "Web Search Usage", "cache_creation.ephemeral_1h_input_tokens",
		"Claude Sonnet 4.5 Long Context Usage - Input Tokens", "workspace:true", "workspace:false"} {
		if !seen[want] {
			t.Errorf("cost report never shows %q", want)
		}
	}
	// A window without a complete day is rejected (trap 10).
	r := get(t, w, "/anthropic/v1/organizations/cost_report?starting_at="+testNow.Add(-20*time.Hour).Format(time.RFC3339), anthropicAuth)
	if r.status != 400 || !strings.Contains(string(r.body), "Invalid date range") || r.header.Get("request-id") == "" {
		t.Errorf("window without a complete day: %d %s", r.status, r.body)
	}
}

func TestAnthropicUsage_ReportsNullsForDefaultWorkspaceAndWorkbench(t *testing.T) {
	w := demo(t)
	var p struct {
		Data []struct {
			Results []struct {
				APIKeyID      *string `json:"api_key_id"`
				WorkspaceID   *string `json:"workspace_id"`
				ContextWindow *string `json:"context_window"`
				CacheCreation struct {
					H1 int64 `json:"ephemeral_1h_input_tokens"`
				} `json:"cache_creation"`
			} `json:"results"`
		} `json:"data"`
	}
	getOK(t, w, "/anthropic/v1/organizations/usage_report/messages?starting_at="+(usage.DayOf(testNow)-2).Time().Format(time.RFC3339)+
		"&group_by[]=api_key_id&group_by[]=workspace_id&group_by[]=context_window", anthropicAuth, &p)
	var workbench, defaultWS, long, h1 bool
	for _, b := range p.Data {
		for _, r := range b.Results {
			workbench = workbench || r.APIKeyID == nil
			defaultWS = defaultWS || (r.APIKeyID != nil && r.WorkspaceID == nil)
			long = long || (r.ContextWindow != nil && *r.ContextWindow == "200k-1M")
			h1 = h1 || r.CacheCreation.H1 > 0
		}
	}
	if !workbench || !defaultWS || !long || !h1 {
		t.Errorf("workbench %v, default-workspace keys %v, long context %v, 1h cache writes %v: want all", workbench, defaultWS, long, h1)
	}
	var ws struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	getOK(t, w, "/anthropic/v1/organizations/workspaces?limit=1000", anthropicAuth, &ws)
	for _, x := range ws.Data {
		if x.ID == w.defaultWorkspaceRealID() {
			t.Error("the default workspace is listed")
		}
	}
}

// activityPerDay sums the usage of an /activity response per date.
func activityPerDay(t *testing.T, w *World, query string, perDay map[string]ledger.Money) {
	t.Helper()
	var act struct {
		Data []struct {
			Date  string      `json:"date"`
			Usage json.Number `json:"usage"`
		} `json:"data"`
	}
	getOK(t, w, "/openrouter/api/v1/activity"+query, openrouterAuth, &act)
	for _, row := range act.Data {
		m, err := ledger.ParseDollars(row.Usage.String())
		if err != nil {
			t.Fatal(err)
		}
		perDay[row.Date] += m
	}
}

func TestOpenRouterActivity_SumsToBilledTotalAndStopsYesterday(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	// Every listed key of every workspace, one /activity call each.
	var workspaces struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		TotalCount int `json:"total_count"`
	}
	getOK(t, w, "/openrouter/api/v1/workspaces", openrouterAuth, &workspaces)
	if len(workspaces.Data) != 2 || workspaces.TotalCount != 2 {
		t.Fatalf("workspaces %+v, want the default one and Research", workspaces)
	}
	listed := map[string]ledger.Money{}
	for _, ws := range workspaces.Data {
		var keys struct {
			Data []struct {
				Hash string `json:"hash"`
			} `json:"data"`
		}
		for offset := 0; ; offset += 100 {
			getOK(t, w, "/openrouter/api/v1/keys?include_disabled=true&workspace_id="+ws.ID+"&offset="+strconv.Itoa(offset), openrouterAuth, &keys)
			for _, k := range keys.Data {
				activityPerDay(t, w, "?api_key_hash="+k.Hash, listed)
			}
			if len(keys.Data) < 100 {
				break
			}
		}
	}
	account := map[string]ledger.Money{}
	activityPerDay(t, w, "", account)
	if len(account) != 30 {
		t.Errorf("activity covers %d days, want 30", len(account))
	}
	var deleted *source
	for _, s := range w.sources {
		if s.deletedFrom != 0 {
			deleted = s
		}
	}
	if deleted == nil {
		t.Fatal("the world has no deleted OpenRouter key")
	}
	var deletedSpend ledger.Money
	for d := today - 30; d < today; d++ {
		want := w.BilledTotal(usage.OpenRouter, d)
		if got := account[d.String()]; got != want || want == 0 {
			t.Errorf("%s: account activity %s, BilledTotal %s", d, got, want)
		}
		// The listed keys miss exactly the deleted key's spend, which stops on its deletion.
		gone := w.SourceBilled(deleted.ref(), d)
		if got := listed[d.String()]; got != want-gone {
			t.Errorf("%s: listed keys %s, want %s - the deleted key's %s", d, got, want, gone)
		}
		if (d >= deleted.deletedFrom) != (gone == 0) {
			t.Errorf("%s: deleted key (gone from %s) spent %s", d, deleted.deletedFrom, gone)
		}
		deletedSpend += gone
	}
	if deletedSpend == 0 {
		t.Error("the deleted key never spent")
	}
	for _, d := range []usage.Day{today, today - 31} {
		if r := get(t, w, "/openrouter/api/v1/activity?date="+d.String(), openrouterAuth); r.status != 400 {
			t.Errorf("date %s: status %d, want 400", d, r.status)
		}
	}
}

func TestOpenRouterKeys_PagesByHundred(t *testing.T) {
	w := New(Config{Now: testNow, Customers: 400})
	var total int
	for offset := 0; ; offset += 100 {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		getOK(t, w, "/openrouter/api/v1/keys?offset="+strconv.Itoa(offset), openrouterAuth, &page)
		if len(page.Data) > 100 {
			t.Fatalf("page of %d keys", len(page.Data))
		}
		total += len(page.Data)
		if len(page.Data) < 100 {
			break
		}
	}
	enabled := 0
	for _, k := range w.orKeys {
		if !k.disabled && k.orWorkspace == nil {
			enabled++
		}
	}
	if total != enabled || total <= 100 {
		t.Errorf("paged %d keys, want the default workspace's %d (> 100)", total, enabled)
	}
}

// customerCost sums what the providers billed for a customer's sources over days [from, to).
func customerCost(w *World, id string, from, to usage.Day) ledger.Money {
	var total ledger.Money
	for _, ref := range w.Sources() {
		if w.CustomerOf(ref) == id {
			for d := from; d < to; d++ {
				total += w.SourceBilled(ref, d)
			}
		}
	}
	return total
}

func TestWorld_SpikeAndUnderwaterCustomers(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	spike := w.SpikeCustomer()
	recent := customerCost(w, spike, today-2, today) / 2
	before := customerCost(w, spike, today-16, today-2) / 14
	if before == 0 || recent < 4*before || recent > 12*before {
		t.Errorf("spike customer %s: last two days %s a day against %s before: want a jump of several times", spike, recent, before)
	}
	under := w.UnderwaterCustomer()
	cost := customerCost(w, under, today-31, today)
	var c struct {
		Metadata map[string]string `json:"metadata"`
		Currency string            `json:"currency"`
	}
	getOK(t, w, "/stripe/v1/customers/"+under, stripeAuth, &c)
	var subs struct {
		Data []struct {
			Items struct {
				Data []struct {
					Price struct {
						UnitAmount int64 `json:"unit_amount"`
					} `json:"price"`
				} `json:"data"`
			} `json:"items"`
		} `json:"data"`
	}
	getOK(t, w, "/stripe/v1/subscriptions?customer="+under, stripeAuth, &subs)
	if c.Currency != "usd" || len(subs.Data) != 1 || subs.Data[0].Items.Data[0].Price.UnitAmount != 4900 {
		t.Fatalf("underwater customer is not a USD starter: %+v %+v", c, subs)
	}
	// 31 days of a $49 monthly plan is at most $49 × 31/28.
	if revenue := ledger.Dollars(49) * 31 / 28; cost <= revenue {
		t.Errorf("underwater customer %s costs %s over 31 days, not more than its revenue %s", under, cost, revenue)
	}
}

func TestWorld_UnattributedShareIsAboutOneFifth(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	var total, unattributed, billed ledger.Money
	perProvider := map[usage.Provider]ledger.Money{}
	for _, ref := range w.Sources() {
		for d := today - 31; d < today; d++ {
			c := w.SourceBilled(ref, d)
			total += c
			if w.CustomerOf(ref) == "" {
				unattributed += c
				perProvider[ref.Provider()] += c
			}
		}
	}
	for _, p := range usage.Providers {
		for d := today - 31; d < today; d++ {
			billed += w.BilledTotal(p, d)
		}
		if perProvider[p] == 0 {
			t.Errorf("no unattributed spend on %s", p)
		}
	}
	if total != billed {
		t.Fatalf("sources sum to %s, BilledTotal to %s", total, billed)
	}
	share := ledger.MustMulDiv(int64(unattributed), 1000, int64(total))
	if share < 150 || share > 250 {
		t.Errorf("unattributed share %d‰ (%s of %s), want 150-250‰", share, unattributed, total)
	}
}

func TestWorld_EveryOwnedSourceIsDiscoverable(t *testing.T) {
	w := demo(t)
	mapped := map[usage.SourceRef]string{}
	for id, refs := range w.ConfigCustomers() {
		for _, r := range refs {
			mapped[r] = id
		}
	}
	var customers struct {
		Data []struct {
			ID       string            `json:"id"`
			Metadata map[string]string `json:"metadata"`
		} `json:"data"`
	}
	getOK(t, w, "/stripe/v1/customers?limit=100", stripeAuth, &customers)
	if len(customers.Data) != 40 {
		t.Fatalf("%d customers, want 40", len(customers.Data))
	}
	paths := map[string]int{}
	for _, c := range customers.Data {
		for _, r := range strings.Split(c.Metadata["margin_sources"], ",") {
			if r != "" {
				if _, ok := mapped[usage.SourceRef(r)]; ok {
					t.Errorf("%s is both in config and metadata", r)
				}
				mapped[usage.SourceRef(r)] = c.ID
			}
		}
	}
	for _, s := range w.sources {
		ref, want := s.ref(), w.CustomerOf(s.ref())
		got, how := mapped[ref], "config/metadata"
		if got == "" && s.project != nil {
			got, how = mapped[usage.Ref(usage.OpenAI, usage.KindProject, s.project.id)], "project"
		}
		if got == "" && s.provider == usage.Anthropic {
			got, how = mapped[workspaceRef(s.workspace)], "workspace"
		}
		if got == "" && want != "" && strings.Contains(s.name, want) {
			got, how = want, "name"
		}
		if got != want {
			t.Errorf("%s (%q): discoverable owner %q, true owner %q", ref, s.name, got, want)
		}
		if want != "" {
			paths[how]++
		}
	}
	for _, how := range []string{"config/metadata", "project", "workspace", "name"} {
		if paths[how] == 0 {
			t.Errorf("no source is attributed by %s (%v)", how, paths)
		}
	}
	if fx := FXRates(); fx["eur"].String() != "1.08" {
		t.Errorf("fx rates %v, want eur 1.08", fx)
	}
}

type stripeInvoice struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Lines  struct {
		Data    []struct{ ID string } `json:"data"`
		HasMore bool                  `json:"has_more"`
		URL     string                `json:"url"`
	} `json:"lines"`
	Currency string `json:"currency"`
}

func TestStripe_InvoicesCoverEveryCase(t *testing.T) {
	w := demo(t)
	var all []stripeInvoice
	q := url.Values{"limit": {"100"}, "created[gte]": {strconv.FormatInt(testNow.AddDate(0, -5, 0).Unix(), 10)}}
	for pages := 0; ; pages++ {
		var page struct {
			Data    []stripeInvoice `json:"data"`
			HasMore bool            `json:"has_more"`
		}
		getOK(t, w, "/stripe/v1/invoices?"+q.Encode(), stripeAuth, &page)
		all = append(all, page.Data...)
		if !page.HasMore || pages > 20 {
			break
		}
		q.Set("starting_after", page.Data[len(page.Data)-1].ID)
	}
	statuses, currencies := map[string]int{}, map[string]bool{}
	seen := map[string]bool{}
	var long *stripeInvoice
	for i, inv := range all {
		if seen[inv.ID] {
			t.Fatalf("invoice %s listed twice", inv.ID)
		}
		seen[inv.ID] = true
		statuses[inv.Status]++
		currencies[inv.Currency] = true
		if inv.Lines.HasMore {
			long = &all[i]
		}
	}
	for _, s := range []string{"paid", "open", "void", "draft", "uncollectible"} {
		if statuses[s] == 0 {
			t.Errorf("no %s invoice (%v)", s, statuses)
		}
	}
	if !currencies["eur"] || !currencies["gbp"] || !currencies["usd"] {
		t.Errorf("currencies %v", currencies)
	}
	if long == nil {
		t.Fatal("no invoice needs its lines paged")
	}
	var lines []string
	lq := url.Values{"limit": {"5"}}
	for {
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		getOK(t, w, "/stripe"+long.Lines.URL+"?"+lq.Encode(), stripeAuth, &page)
		for _, l := range page.Data {
			lines = append(lines, l.ID)
		}
		if !page.HasMore {
			break
		}
		lq.Set("starting_after", page.Data[len(page.Data)-1].ID)
	}
	if len(lines) <= 10 || lines[0] != long.Lines.Data[0].ID || len(long.Lines.Data) != 10 {
		t.Errorf("long invoice: %d embedded lines, %d paged", len(long.Lines.Data), len(lines))
	}
	var notes struct {
		Data []struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	getOK(t, w, "/stripe/v1/credit_notes?limit=100", stripeAuth, &notes)
	if len(notes.Data) != 2 || notes.Data[0].Status == notes.Data[1].Status {
		t.Errorf("credit notes %+v: want one issued and one void", notes.Data)
	}
	// Proration (negative and positive), a discount, exclusive and inclusive tax all appear on lines.
	var full struct {
		Data []struct {
			Lines struct {
				Data []struct {
					Amount             int64 `json:"amount"`
					AmountExcludingTax int64 `json:"amount_excluding_tax"`
					Proration          bool  `json:"proration"`
					DiscountAmounts    []struct {
						Amount int64 `json:"amount"`
					} `json:"discount_amounts"`
					TaxAmounts []struct {
						Amount    int64 `json:"amount"`
						Inclusive bool  `json:"inclusive"`
					} `json:"tax_amounts"`
				} `json:"data"`
			} `json:"lines"`
		} `json:"data"`
	}
	getOK(t, w, "/stripe/v1/invoices?limit=100", stripeAuth, &full)
	found := map[string]bool{}
	for _, inv := range full.Data {
		for _, l := range inv.Lines.Data {
			found["credit proration"] = found["credit proration"] || (l.Proration && l.Amount < 0)
			found["debit proration"] = found["debit proration"] || (l.Proration && l.Amount > 0)
			found["discount"] = found["discount"] || len(l.DiscountAmounts) > 0
			for _, tx := range l.TaxAmounts {
				if tx.Inclusive && l.AmountExcludingTax == l.Amount-tx.Amount {
					found["inclusive tax"] = true
				}
				if !tx.Inclusive && l.AmountExcludingTax == l.Amount && tx.Amount > 0 {
					found["exclusive tax"] = true
				}
			}
		}
	}
	for _, k := range []string{"credit proration", "debit proration", "discount", "inclusive tax", "exclusive tax"} {
		if !found[k] {
			t.Errorf("no invoice line with %s", k)
		}
	}
	if r := get(t, w, "/stripe/v1/invoices?limit=101", stripeAuth); r.status != 400 {
		t.Errorf("limit 101: status %d", r.status)
	}
	var products struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	getOK(t, w, "/stripe/v1/products", stripeAuth, &products)
	names := fmt.Sprint(products.Data)
	for _, n := range []string{"Starter", "Growth", "Enterprise"} {
		if !strings.Contains(names, n) {
			t.Errorf("products %s lack %s", names, n)
		}
	}
}

func TestSetFailing_AnswersWithStatusUntilCleared(t *testing.T) {
	w := New(Config{Now: testNow, Customers: 3})
	w.SetFailing("openai", http.StatusTooManyRequests)
	w.SetFailing("stripe", http.StatusServiceUnavailable)
	r := get(t, w, "/openai/v1/organization/projects", openaiAuth)
	if r.status != 429 || r.header.Get("Retry-After") != "1" || !strings.Contains(string(r.body), `"error"`) {
		t.Errorf("openai: %d %v %s", r.status, r.header, r.body)
	}
	if r := get(t, w, "/stripe/v1/customers", stripeAuth); r.status != 503 {
		t.Errorf("stripe: %d", r.status)
	}
	if r := get(t, w, "/anthropic/v1/organizations/workspaces", anthropicAuth); r.status != 200 {
		t.Errorf("anthropic was not made to fail but answered %d", r.status)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.SetFailing("openrouter", 500)
			_ = get(t, w, "/openrouter/api/v1/credits", openrouterAuth)
			w.SetFailing("openrouter", 0)
		}()
	}
	wg.Wait()
	w.SetFailing("openai", 0)
	w.SetFailing("stripe", 0)
	for _, c := range []struct {
		path string
		auth map[string]string
	}{
		{"/openai/v1/organization/projects", openaiAuth},
		{"/stripe/v1/customers", stripeAuth},
		{"/openrouter/api/v1/credits", openrouterAuth},
	} {
		if r := get(t, w, c.path, c.auth); r.status != 200 {
			t.Errorf("%s after clearing: %d", c.path, r.status)
		}
	}
}

// serveAndDiscard measures serving, not the benchmark's own buffering of a large body.
func serveAndDiscard(b *testing.B, w *World, path string, hdr map[string]string) {
	req, _ := http.NewRequest(http.MethodGet, "http://sim.invalid"+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.Transport().RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatal(resp, err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	b.ReportMetric(float64(n)/1e6, "MB/op")
}

func BenchmarkOpenAIUsage_1000Keys10Models31Days(b *testing.B) {
	w := New(Config{Now: testNow, ExtraOpenAIKeys: 1000, ModelsPerKey: 10})
	path := "/openai/v1/organization/usage/completions?start_time=" + unix(usage.DayOf(testNow)-31) +
		"&group_by=project_id,api_key_id,model&limit=31"
	for b.Loop() {
		serveAndDiscard(b, w, path, openaiAuth)
	}
}

func BenchmarkOpenAICosts_1000Keys10Models31Days(b *testing.B) {
	w := New(Config{Now: testNow, ExtraOpenAIKeys: 1000, ModelsPerKey: 10})
	path := "/openai/v1/organization/costs?start_time=" + unix(usage.DayOf(testNow)-31) +
		"&group_by=project_id,api_key_id,line_item&limit=31"
	for b.Loop() {
		serveAndDiscard(b, w, path, openaiAuth)
	}
}

func TestScaledText_MatchesMoneyString(t *testing.T) {
	for _, m := range []ledger.Money{0, 1, -1, 30_000_000_000, 1_842_300_000, -500_000_000, 123_456_789_012, 10} {
		if got, want := dollarText(m), m.String(); got != want {
			t.Errorf("dollarText(%d) = %s, want %s", m, got, want)
		}
	}
	for _, c := range []struct {
		m    ledger.Money
		want string
	}{{273_702_000, "27.3702"}, {30_000_000, "3.00"}, {1, "0.0000001"}, {-10_000_000, "-1.00"}} {
		if got := centText(c.m); got != c.want {
			t.Errorf("centText(%d) = %s, want %s", c.m, got, c.want)
		}
	}
}

// The indenting option serves the same JSON as json.Indent would, page for page.
func TestIndent_ServesTheSameJSONIndented(t *testing.T) {
	get := func(indent bool) []byte {
		w := New(Config{Now: testNow, Indent: indent})
		c := &http.Client{Transport: w.Transport()}
		start := testNow.Add(-3 * 24 * time.Hour).Truncate(24 * time.Hour).Unix()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://sim.invalid/openai/v1/organization/costs?start_time=%d&limit=3&group_by=line_item&group_by=api_key_id", start), nil)
		req.Header.Set("Authorization", "Bearer "+OpenAIAdminKey)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	compact, indented := get(false), get(true)
	var want bytes.Buffer
	if err := json.Indent(&want, compact, "", "  "); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), indented) {
		t.Fatalf("indented body differs from json.Indent:\n%.400s\nwant\n%.400s", indented, want.Bytes())
	}
	if len(indented) < len(compact)*5/4 {
		t.Fatalf("indented %d bytes, compact %d", len(indented), len(compact))
	}
}
