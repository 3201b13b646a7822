package simulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The Anthropic Admin API fake (provider-apis.md §2.2-2.4).

func (w *World) anthropicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/organizations/usage_report/messages", w.anthropicUsage)
	mux.HandleFunc("GET /v1/organizations/cost_report", w.anthropicCosts)
	mux.HandleFunc("GET /v1/organizations/api_keys", w.anthropicKeys)
	mux.HandleFunc("GET /v1/organizations/workspaces", w.anthropicWorkspaces)
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		anthropicError(rw, r, http.StatusNotFound, "not_found_error", "Not found")
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("x-api-key")
		switch {
		case key == "":
			anthropicError(rw, r, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		case key != AnthropicAdminKey:
			anthropicError(rw, r, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		case r.Header.Get("anthropic-version") == "":
			anthropicError(rw, r, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		default:
			rw.Header().Set("request-id", w.requestID(r))
			mux.ServeHTTP(rw, r)
		}
	})
}

// requestID is derived from the request so that identical requests get identical answers.
func (w *World) requestID(r *http.Request) string {
	return w.id("req_011C", 22, "request", r.URL.String())
}

func anthropicError(rw http.ResponseWriter, r *http.Request, status int, typ, msg string) {
	id := "req_011C" + strings.Repeat("0", 22)
	if v := rw.Header().Get("request-id"); v != "" {
		id = v
	}
	rw.Header().Set("request-id", id)
	type body struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	writeValue(rw, status, struct {
		Type      string `json:"type"`
		Error     body   `json:"error"`
		RequestID string `json:"request_id"`
	}{"error", body{typ, msg}, id})
}

func badAnthropic(rw http.ResponseWriter, r *http.Request, msg string) {
	anthropicError(rw, r, http.StatusBadRequest, "invalid_request_error", msg)
}

// anthropicWindow reads starting_at (snapped down to the bucket), ending_at (default now),
// bucket_width, limit and page.
type anthropicWindow struct {
	start, end, width int64
	limit             int
}

func (w *World) parseAnthropicWindow(q url.Values, costs bool) (anthropicWindow, string) {
	var win anthropicWindow
	width, def, max, ok := bucketWidth(q.Get("bucket_width"))
	if !ok || (costs && width != secondsPerDay) {
		return win, "bucket_width: invalid value"
	}
	win.width = width
	if costs {
		def, max = 7, 31
	}
	st, err := time.Parse(time.RFC3339, q.Get("starting_at"))
	if err != nil {
		return win, "starting_at: expected an RFC 3339 date-time"
	}
	win.start = floorDiv(st.Unix(), width) * width
	if costs && win.start < st.Unix() {
		// The cost report's buckets start on or after starting_at: a window from now-24h has no
		// complete day and is rejected (langwatch #7177), so a mid-day start rounds up.
		win.start += width
	}
	win.end = w.now.Unix()
	if v := q.Get("ending_at"); v != "" {
		et, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return win, "ending_at: expected an RFC 3339 date-time"
		}
		win.end = et.Unix()
	}
	if win.end <= st.Unix() {
		return win, "Invalid date range: ending date must be after starting date"
	}
	limit, msg := parseLimit(q, def, max)
	if msg != "" {
		return win, "limit: " + msg
	}
	win.limit = limit
	if tok := q.Get("page"); tok != "" {
		s, ok := parsePageToken(tok)
		t, err := time.Parse(time.RFC3339, s)
		if !ok || err != nil || t.Unix() < win.start || t.Unix() >= win.end || t.Unix()%width != 0 {
			return win, "page: invalid page token"
		}
		win.start = t.Unix()
	}
	return win, ""
}

// each calls fn for the buckets of one page and returns the start of the next page (0 if none).
// Only buckets that end before or at ending_at are returned ("Time buckets that end before this
// timestamp will be returned"): ending_at = now leaves out today's 1-day bucket, which ends at
// the next midnight (provider-apis.md, correction 5).
func (win anthropicWindow) each(fn func(t0, t1 int64)) (next int64) {
	cur := win.start
	for n := 0; n < win.limit && cur+win.width <= win.end; n++ {
		fn(cur, cur+win.width)
		cur += win.width
	}
	if cur+win.width <= win.end {
		return cur
	}
	return 0
}

func rfc3339(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

func writeAnthropicPageEnd(j *jw, next int64) {
	j.bool("has_more", next != 0)
	if next != 0 {
		j.str("next_page", pageToken(rfc3339(next)))
	} else {
		j.null("next_page")
	}
}

var anthropicUsageGroups = []string{"api_key_id", "workspace_id", "model", "service_tier", "context_window",
	"inference_geo", "speed", "account_id", "service_account_id"}

type anthropicUsageKey struct {
	key, workspace, model string
	grouped               uint16 // bit i: anthropicUsageGroups[i] requested
	longCtx               bool
	priority              bool // Priority Tier: in the usage report, never in the cost report
}

type anthropicUsageRow struct {
	k anthropicUsageKey
	u dayUsage
}

func (k anthropicUsageKey) has(dim int) bool { return k.grouped&(1<<dim) != 0 }

// GET /v1/organizations/usage_report/messages
func (w *World) anthropicUsage(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, msg := w.parseAnthropicWindow(q, false)
	if msg != "" {
		badAnthropic(rw, r, msg)
		return
	}
	groups, msg := parseGroupBy(q, anthropicUsageGroups)
	if msg != "" {
		badAnthropic(rw, r, "group_by[]: "+msg)
		return
	}
	var grouped uint16
	for i, g := range anthropicUsageGroups {
		if groups[g] {
			grouped |= 1 << i
		}
	}
	keys, wss, models := set(listParam(q, "api_key_ids")), set(listParam(q, "workspace_ids")), set(listParam(q, "models"))
	tiers, windows := set(listParam(q, "service_tiers")), set(listParam(q, "context_window"))
	var streams []*stream
	for _, st := range w.streams {
		s := st.src
		if st.api != apiMessages || (keys != nil && (s.id == "" || !keys[s.id])) ||
			(wss != nil && (s.workspace == nil || !wss[s.workspace.id])) || !allowed(models, st.an.id) ||
			!allowed(tiers, st.anthropicTier()) || !allowed(windows, contextWindow(st.longCtx)) {
			continue
		}
		streams = append(streams, st)
	}
	j := jw{b: make([]byte, 0, 2*flushBytes)}
	j.streaming(rw)
	j.open('{')
	j.arr("data")
	index := map[anthropicUsageKey]int{}
	var rows []anthropicUsageRow
	next := win.each(func(t0, t1 int64) {
		clear(index)
		rows = rows[:0]
		d, o0, o1 := dayOffsets(t0, t1)
		o1 = min(o1, win.end-t0+o0)
		for _, st := range streams {
			u := w.usageIn(st, d, o0, o1)
			if u.input == 0 && u.output == 0 {
				continue
			}
			k := anthropicUsageKey{grouped: grouped}
			if groups["api_key_id"] {
				k.key = st.src.id
			}
			if groups["workspace_id"] {
				k.workspace = st.src.workspaceID()
			}
			if groups["model"] {
				k.model = st.an.id
			}
			if groups["context_window"] {
				k.longCtx = st.longCtx
			}
			if groups["service_tier"] {
				k.priority = st.priority
			}
			i, ok := index[k]
			if !ok {
				i = len(rows)
				index[k] = i
				rows = append(rows, anthropicUsageRow{k: k})
			}
			addUsage(&rows[i].u, u)
		}
		j.open('{')
		j.str("starting_at", rfc3339(t0))
		j.str("ending_at", rfc3339(t1))
		j.arr("results")
		for _, row := range rows {
			u := row.u
			j.open('{')
			j.int("uncached_input_tokens", u.input)
			j.obj("cache_creation")
			j.int("ephemeral_5m_input_tokens", u.write5m)
			j.int("ephemeral_1h_input_tokens", u.write1h)
			j.close('}')
			j.int("cache_read_input_tokens", u.cached)
			j.int("output_tokens", u.output)
			j.obj("server_tool_use")
			j.int("web_search_requests", u.tools)
			j.close('}')
			j.strOrNull("api_key_id", row.k.key)
			j.strOrNull("workspace_id", row.k.workspace)
			j.strOrNull("model", row.k.model)
			j.strOrNull("service_tier", pick(row.k.has(3), tierName(row.k.priority)))
			j.strOrNull("context_window", pick(row.k.has(4), contextWindow(row.k.longCtx)))
			j.strOrNull("inference_geo", pick(row.k.has(5), "not_available"))
			if row.k.has(6) {
				j.str("speed", "standard")
			}
			if row.k.has(7) {
				j.null("account_id")
			}
			if row.k.has(8) {
				j.null("service_account_id")
			}
			j.close('}')
		}
		j.close(']')
		j.close('}')
	})
	j.close(']')
	writeAnthropicPageEnd(&j, next)
	j.close('}')
	j.finish(rw)
}

func pick(ok bool, v string) string {
	if ok {
		return v
	}
	return ""
}

func contextWindow(long bool) string {
	if long {
		return "200k-1M"
	}
	return "0-200k"
}

type anthropicCostKey struct {
	workspace string
	model     *anthropicModel // nil when not grouped by description, or for non-token costs
	longCtx   bool
	class     int
}

type anthropicCostRow struct {
	k      anthropicCostKey
	ci     costItem
	amount ledger.Money
}

var tokenTypeNames = map[string]string{ // #nosec G101 -- token type names, not credentials
	"uncached_input_tokens":                    "Input Tokens",
	"output_tokens":                            "Output Tokens",
	"cache_read_input_tokens":                  "Cache Read Input Tokens",
	"cache_creation.ephemeral_5m_input_tokens": "Cache Write Input Tokens (5m)",
	"cache_creation.ephemeral_1h_input_tokens": "Cache Write Input Tokens (1h)",
}

// GET /v1/organizations/cost_report
func (w *World) anthropicCosts(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, msg := w.parseAnthropicWindow(q, true)
	if msg != "" {
		badAnthropic(rw, r, msg)
		return
	}
	// Daily cost settles a day later: only complete days are served, and a window without one
	// is rejected like the real API does (trap 10).
	win.end = min(win.end, int64(w.today)*secondsPerDay)
	if win.start+secondsPerDay > win.end {
		badAnthropic(rw, r, "Invalid date range: ending date must be after starting date")
		return
	}
	groups, msg := parseGroupBy(q, []string{"workspace_id", "description"})
	if msg != "" {
		badAnthropic(rw, r, "group_by[]: "+msg)
		return
	}
	byDesc := groups["description"]
	j := jw{b: make([]byte, 0, 2*flushBytes)}
	j.streaming(rw)
	j.open('{')
	j.arr("data")
	index := map[anthropicCostKey]int{}
	var rows []anthropicCostRow
	next := win.each(func(t0, t1 int64) {
		clear(index)
		rows = rows[:0]
		d := usage.Day(t0 / secondsPerDay) // #nosec G115 -- simulated Unix days, far within int32
		for _, st := range w.streams {
			if st.api != apiMessages || st.priority {
				continue // Priority Tier "will never appear in the cost endpoint"
			}
			u := w.usageIn(st, d, 0, secondsPerDay)
			st.costItems(u, func(ci costItem) {
				var k anthropicCostKey
				if groups["workspace_id"] {
					k.workspace = st.src.workspaceID()
				}
				if byDesc {
					k.class = ci.class + 1
					if ci.hasModel {
						k.model, k.longCtx = st.an, st.longCtx
					}
				}
				i, ok := index[k]
				if !ok {
					i = len(rows)
					index[k] = i
					rows = append(rows, anthropicCostRow{k: k, ci: ci})
				}
				rows[i].amount += ci.amount
			})
		}
		j.open('{')
		j.str("starting_at", rfc3339(t0))
		j.str("ending_at", rfc3339(t1))
		j.arr("results")
		for _, row := range rows {
			j.open('{')
			j.str("amount", centText(row.amount))
			j.str("currency", "USD")
			if byDesc {
				j.str("cost_type", row.ci.costType)
				if m := row.k.model; m != nil {
					prefix := m.display + " Usage - "
					if row.k.longCtx {
						prefix = m.display + " Long Context Usage - "
					}
					j.str("description", prefix+tokenTypeNames[row.ci.tokenType])
					j.str("model", m.costReportID())
					j.str("token_type", row.ci.tokenType)
					j.str("service_tier", "standard")
					j.str("context_window", contextWindow(row.k.longCtx))
				} else {
					j.str("description", "Web Search Usage")
					j.null("model")
					j.null("token_type")
					j.null("service_tier")
					j.null("context_window")
				}
			} else {
				for _, f := range []string{"cost_type", "description", "model", "token_type", "service_tier", "context_window"} {
					j.null(f)
				}
			}
			j.null("inference_geo")
			j.strOrNull("workspace_id", row.k.workspace)
			j.close('}')
		}
		j.close(']')
		j.close('}')
	})
	j.close(']')
	writeAnthropicPageEnd(&j, next)
	j.close('}')
	j.finish(rw)
}

// defaultWorkspaceRealID is the id API key objects carry under scope for the default workspace,
// which reports (and workspace_id fields) still show as null.
func (w *World) defaultWorkspaceRealID() string { return w.id("wrkspc_01", 22, "workspace", "default") }

// GET /v1/organizations/api_keys
func (w *World) anthropicKeys(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, msg := parseLimit(q, 20, 1000)
	if msg != "" {
		badAnthropic(rw, r, "limit: "+msg)
		return
	}
	status, wsFilter := q.Get("status"), q.Get("workspace_id")
	var keys []*source
	for _, s := range w.sources {
		if s.provider != usage.Anthropic || s.id == "" || (status != "" && status != "active") {
			continue
		}
		wsID := w.defaultWorkspaceRealID()
		if s.workspace != nil {
			wsID = s.workspace.id
		}
		if wsFilter != "" && wsFilter != wsID {
			continue
		}
		keys = append(keys, s)
	}
	id := func(s *source) string { return s.id }
	page, more, ok := idPage(keys, id, q.Get("after_id"), q.Get("before_id"), limit)
	if !ok {
		badAnthropic(rw, r, "after_id/before_id: unknown id")
		return
	}
	j := jw{}
	j.open('{')
	j.arr("data")
	for _, s := range page {
		j.open('{')
		j.str("type", "api_key")
		j.str("id", s.id)
		j.str("name", s.name)
		j.str("created_at", s.created.Format(time.RFC3339))
		j.obj("created_by")
		j.str("id", w.id("user_01", 22, "user", "admin"))
		j.str("type", "user")
		j.close('}')
		j.null("expires_at")
		j.str("partial_key_hint", "sk-ant-api03-"+s.id[9:12]+"..."+s.id[len(s.id)-2:]+"AA")
		j.str("status", "active")
		j.strOrNull("workspace_id", s.workspaceID())
		j.obj("scope")
		j.str("type", "workspace")
		if s.workspace != nil {
			j.str("workspace_id", s.workspace.id)
		} else {
			j.str("workspace_id", w.defaultWorkspaceRealID())
		}
		j.close('}')
		j.null("principal")
		j.close('}')
	}
	j.close(']')
	j.bool("has_more", more)
	writeFirstLast(&j, page, id)
	j.close('}')
	writeJSON(rw, http.StatusOK, j.b)
}

// GET /v1/organizations/workspaces — the default workspace is never listed.
func (w *World) anthropicWorkspaces(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, msg := parseLimit(q, 20, 1000)
	if msg != "" {
		badAnthropic(rw, r, "limit: "+msg)
		return
	}
	id := func(ws *workspace) string { return ws.id }
	page, more, ok := idPage(w.workspaces, id, q.Get("after_id"), q.Get("before_id"), limit)
	if !ok {
		badAnthropic(rw, r, "after_id/before_id: unknown id")
		return
	}
	j := jw{}
	j.open('{')
	j.arr("data")
	for _, ws := range page {
		j.open('{')
		j.str("type", "workspace")
		j.str("id", ws.id)
		j.str("name", ws.name)
		j.str("created_at", ws.created.Format(time.RFC3339))
		j.null("archived_at")
		j.str("display_color", "#6C5BB9")
		j.null("external_key_id")
		j.obj("tags")
		j.close('}')
		j.close('}')
	}
	j.close(']')
	j.bool("has_more", more)
	writeFirstLast(&j, page, id)
	j.close('}')
	writeJSON(rw, http.StatusOK, j.b)
}

// idPage pages by after_id (the items after it) or before_id (the items just before it).
func idPage[T any](all []T, id func(T) string, after, before string, limit int) ([]T, bool, bool) {
	if before == "" {
		return afterPage(all, id, after, limit)
	}
	end := -1
	for i, x := range all {
		if id(x) == before {
			end = i
		}
	}
	if end < 0 {
		return nil, false, false
	}
	start := max(0, end-limit)
	return all[start:end], start > 0, true
}

func writeFirstLast[T any](j *jw, page []T, id func(T) string) {
	if len(page) > 0 {
		j.str("first_id", id(page[0]))
		j.str("last_id", id(page[len(page)-1]))
	} else {
		j.null("first_id")
		j.null("last_id")
	}
}
