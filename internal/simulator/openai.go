package simulator

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The OpenAI admin API fake (provider-apis.md §1.2-1.5).

func (w *World) openaiHandler() http.Handler {
	mux := http.NewServeMux()
	for _, ep := range []string{"completions", "embeddings", "moderations", "images", "audio_speeches",
		"audio_transcriptions", "vector_stores", "code_interpreter_sessions", "file_search_calls", "web_search_calls"} {
		mux.HandleFunc("GET /organization/usage/"+ep, w.openaiUsage(ep))
	}
	mux.HandleFunc("GET /organization/costs", w.openaiCosts)
	mux.HandleFunc("GET /organization/projects", w.openaiProjectList)
	mux.HandleFunc("GET /organization/projects/{id}/api_keys", w.openaiKeyList)
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		openaiError(rw, http.StatusNotFound, "invalid_request_error", "Invalid URL ("+r.Method+" "+r.URL.Path+")", "")
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || key == "":
			openaiErrorCode(rw, http.StatusUnauthorized, "invalid_request_error",
				"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "", "")
			return
		case key != OpenAIAdminKey:
			// Never echo the key back, not even redacted.
			openaiErrorCode(rw, http.StatusUnauthorized, "invalid_request_error",
				"Incorrect API key provided. Admin endpoints require an admin key (sk-admin-...).", "", "invalid_api_key")
			return
		}
		mux.ServeHTTP(rw, r)
	})
}

func openaiError(rw http.ResponseWriter, status int, typ, msg, param string) {
	openaiErrorCode(rw, status, typ, msg, param, "")
}

func openaiErrorCode(rw http.ResponseWriter, status int, typ, msg, param, code string) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	writeValue(rw, status, struct {
		Error body `json:"error"`
	}{body{Message: msg, Type: typ, Param: strOrNil(param), Code: strOrNil(code)}})
}

// strOrNil is nil (JSON null) for "".
func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// openaiBuckets is the parsed time window of a usage or costs request.
type openaiBuckets struct {
	start, end, width int64
	limit             int
}

// parseOpenAIWindow reads start_time, end_time, bucket_width, limit and page. costs allows only
// 1d buckets and up to 180 of them per page.
func (w *World) parseOpenAIWindow(q url.Values, costs bool) (openaiBuckets, string, string) {
	var b openaiBuckets
	st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
	if err != nil {
		return b, "start_time", "Missing or invalid required parameter: 'start_time' (Unix seconds)."
	}
	b.start = st
	b.end = w.now.Unix()
	if v := q.Get("end_time"); v != "" {
		if b.end, err = strconv.ParseInt(v, 10, 64); err != nil {
			return b, "end_time", "Invalid value for 'end_time': expected Unix seconds."
		}
	}
	if b.end <= b.start {
		return b, "end_time", "Invalid value for 'end_time': must be after 'start_time'."
	}
	width, def, max, ok := bucketWidth(q.Get("bucket_width"))
	if !ok || (costs && width != secondsPerDay) {
		allowed := "'1m', '1h' or '1d'"
		if costs {
			allowed = "'1d'"
		}
		return b, "bucket_width", "Invalid value for 'bucket_width': expected " + allowed + "."
	}
	if costs {
		def, max = 7, 180
	}
	b.width = width
	limit, msg := parseLimit(q, def, max)
	if msg != "" {
		return b, "limit", msg
	}
	b.limit = limit
	if tok := q.Get("page"); tok != "" {
		s, ok := parsePageToken(tok)
		cur, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || cur < b.start || cur >= b.end {
			return b, "page", "Invalid value for 'page': unknown cursor."
		}
		b.start = cur
	}
	return b, "", ""
}

// each calls fn for the buckets of one page and returns the start of the next page (0 if none).
// The first bucket runs from start to the next aligned boundary, unaligned (trap 6).
func (b openaiBuckets) each(fn func(t0, t1 int64)) (next int64) {
	cur := b.start
	for n := 0; n < b.limit && cur < b.end; n++ {
		t1 := (floorDiv(cur, b.width) + 1) * b.width
		fn(cur, t1)
		cur = t1
	}
	if cur < b.end {
		return cur
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// dayOffsets splits a bucket that lies within one UTC day into the day and second offsets.
func dayOffsets(t0, t1 int64) (usage.Day, int64, int64) {
	d := floorDiv(t0, secondsPerDay)
	return usage.Day(d), t0 - d*secondsPerDay, t1 - d*secondsPerDay // #nosec G115 -- simulated Unix days, far within int32
}

var openaiGroupings = map[string][]string{
	"completions": {"project_id", "user_id", "api_key_id", "model", "batch", "service_tier"},
	"embeddings":  {"project_id", "user_id", "api_key_id", "model"},
	"moderations": {"project_id", "user_id", "api_key_id", "model"},
	"images":      {"project_id", "user_id", "api_key_id", "model", "size", "source"},
	"costs":       {"project_id", "line_item", "api_key_id"},
}

// parseGroupBy validates group_by against the endpoint's accepted dimensions.
func parseGroupBy(q url.Values, accepted []string) (map[string]bool, string) {
	g := map[string]bool{}
	for _, v := range listParam(q, "group_by") {
		ok := false
		for _, a := range accepted {
			ok = ok || a == v
		}
		if accepted != nil && !ok {
			return nil, "Invalid value for 'group_by': '" + v + "' is not one of " + strings.Join(accepted, ", ") + "."
		}
		g[v] = true
	}
	return g, ""
}

type openaiUsageKey struct {
	project, key, model string // quoted JSON (stream.quoted), "" for none
	batch               int8   // 0 not grouped, 1 false, 2 true
	tier                int8   // 0 not grouped, 1 default, 2 priority
}

// usageIDKey is an openaiUsageKey by its texts' numbers (costIDs, packed by idKey) and its batch
// and tier: equal exactly when the keys are.
type usageIDKey struct {
	texts       uint64
	batch, tier int8
}

// scratch is a page's row index and rows, kept between requests: a large page's index would
// otherwise grow from empty, rehashing as it goes, on every request.
type scratch[K comparable, R any] struct {
	index map[K]int
	rows  []R
}

// scratches is a free list of scratch (a sync.Pool would drop them at every garbage collection,
// which a large page's allocations bring about several times a request). At 10,000 keys the
// scratch is tens of megabytes, so a large one is kept only while a listing is being paged
// through: once a last page is served with no other page being served, it is let go, and a
// client's work after its fetch does not carry the world's scratch. A small one (1,000 keys'
// pages) stays for the next listing, which would otherwise grow it again.
type scratches[K comparable, R any] struct {
	mu   sync.Mutex
	free []*scratch[K, R]
	busy int
}

func (f *scratches[K, R]) get() *scratch[K, R] {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy++
	if n := len(f.free); n > 0 {
		s := f.free[n-1]
		f.free = f.free[:n-1]
		return s
	}
	return &scratch[K, R]{index: map[K]int{}}
}

// put returns s; more says whether the page it served has a next page.
func (f *scratches[K, R]) put(s *scratch[K, R], more bool) {
	clear(s.index)
	clear(s.rows) // drop the strings the rows point to
	s.rows = s.rows[:0]
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy--
	f.free = append(f.free, s)
	if more || f.busy > 0 {
		return
	}
	kept := f.free[:0]
	for _, sc := range f.free {
		if cap(sc.rows) <= keptScratchRows {
			kept = append(kept, sc)
		}
	}
	clear(f.free[len(kept):])
	f.free = kept
}

// keptScratchRows is the largest scratch kept between listings, in rows.
const keptScratchRows = 1 << 16

type openaiUsageRow struct {
	k openaiUsageKey
	u dayUsage
}

func (w *World) openaiUsage(endpoint string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		win, param, msg := w.parseOpenAIWindow(q, false)
		if msg != "" {
			openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, param)
			return
		}
		accepted, ok := openaiGroupings[endpoint]
		if !ok {
			accepted = []string{"project_id", "user_id", "api_key_id", "model"}
		}
		groups, msg := parseGroupBy(q, accepted)
		if msg != "" {
			openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, "group_by")
			return
		}
		want := apiCompletions
		switch endpoint {
		case "completions":
		case "embeddings":
			want = apiEmbeddings
		default:
			want = -1 // no simulated traffic: every bucket is empty
		}
		projects, keys, models := set(listParam(q, "project_ids")), set(listParam(q, "api_key_ids")), set(listParam(q, "models"))
		users := listParam(q, "user_ids")
		batch := q.Get("batch")
		var streams []*stream
		for _, st := range w.streams {
			s := st.src
			if st.api != want || s.provider != usage.OpenAI || len(users) > 0 ||
				!allowed(projects, s.project.id) || !allowed(keys, s.id) || !allowed(models, st.oa.id) ||
				(batch == "true" && !st.batch) || (batch == "false" && st.batch) {
				continue
			}
			streams = append(streams, st)
		}

		j := jw{b: make([]byte, 0, 2*flushBytes)}
		j.streaming(rw)
		j.open('{')
		j.str("object", "page")
		j.arr("data")
		sc := w.usageScratch.get()
		index, rows := sc.index, sc.rows
		var next int64 // the page's next bucket; 0 on the last page
		defer func() { sc.rows = rows; w.usageScratch.put(sc, next != 0) }()
		byProject, byKey, byModel := groups["project_id"], groups["api_key_id"], groups["model"]
		next = win.each(func(t0, t1 int64) {
			clear(index)
			rows = rows[:0]
			d, o0, o1 := dayOffsets(t0, t1)
			for _, st := range streams {
				u := w.usageIn(st, d, o0, o1)
				if u.requests == 0 && u.input == 0 {
					continue
				}
				var k openaiUsageKey
				var project, key, model int32
				if byProject {
					k.project, project = st.quoted.project, st.ids.project
				}
				if byKey {
					k.key, key = st.quoted.key, st.ids.key
				}
				if byModel {
					k.model, model = st.quoted.model, st.ids.model
				}
				if groups["batch"] {
					k.batch = 1
					if st.batch {
						k.batch = 2
					}
				}
				if groups["service_tier"] {
					k.tier = 1
					if st.priority {
						k.tier = 2
					}
				}
				ik := usageIDKey{texts: idKey(project, key, model), batch: k.batch, tier: k.tier}
				i, ok := index[ik]
				if !ok {
					i = len(rows)
					index[ik] = i
					rows = append(rows, openaiUsageRow{k: k})
				}
				addUsage(&rows[i].u, u)
			}
			j.open('{')
			j.str("object", "bucket")
			j.int("start_time", t0)
			j.int("end_time", t1)
			j.arr("results")
			for _, row := range rows {
				writeOpenAIUsageRow(&j, endpoint, row, groups)
			}
			j.close(']')
			j.close('}')
		})
		j.close(']')
		writePageEnd(&j, next)
		j.close('}')
		j.finish(rw)
	}
}

func writePageEnd(j *jw, next int64) {
	j.bool("has_more", next != 0)
	if next != 0 {
		j.str("next_page", pageToken(strconv.FormatInt(next, 10)))
	} else {
		j.null("next_page")
	}
}

func addUsage(a *dayUsage, u dayUsage) {
	a.input += u.input
	a.cached += u.cached
	a.write5m += u.write5m
	a.write1h += u.write1h
	a.output += u.output
	a.reasoning += u.reasoning
	a.requests += u.requests
	a.tools += u.tools
}

func writeOpenAIUsageRow(j *jw, endpoint string, row openaiUsageRow, groups map[string]bool) {
	u := row.u
	// The keys and punctuation go out as constant runs: these rows are most of a large page.
	j.sep()
	if endpoint == "embeddings" {
		j.lit(`{"object":"organization.usage.embeddings.result","input_tokens":`)
		j.b = strconv.AppendInt(j.b, u.input, 10)
		j.lit(`,"num_model_requests":`)
		j.b = strconv.AppendInt(j.b, u.requests, 10)
	} else {
		j.lit(`{"object":"organization.usage.completions.result","input_tokens":`)
		j.b = strconv.AppendInt(j.b, u.input+u.cached, 10)
		j.lit(`,"input_cached_tokens":`)
		j.b = strconv.AppendInt(j.b, u.cached, 10)
		j.lit(`,"input_cache_write_tokens":0,"input_uncached_tokens":`)
		j.b = strconv.AppendInt(j.b, u.input, 10)
		j.lit(`,"output_tokens":`)
		j.b = strconv.AppendInt(j.b, u.output, 10)
		j.lit(`,"input_text_tokens":`)
		j.b = strconv.AppendInt(j.b, u.input, 10)
		j.lit(`,"output_text_tokens":`)
		j.b = strconv.AppendInt(j.b, u.output, 10)
		j.lit(`,"input_cached_text_tokens":`)
		j.b = strconv.AppendInt(j.b, u.cached, 10)
		j.lit(`,"input_audio_tokens":0,"input_cached_audio_tokens":0,"output_audio_tokens":0,"input_image_tokens":0,"input_cached_image_tokens":0,"output_image_tokens":0,"num_model_requests":`)
		j.b = strconv.AppendInt(j.b, u.requests, 10)
	}
	j.lit(`,"project_id":`)
	j.quotedOrNull(row.k.project)
	j.lit(`,"user_id":null,"api_key_id":`)
	j.quotedOrNull(row.k.key)
	j.lit(`,"model":`)
	j.quotedOrNull(row.k.model)
	if endpoint != "embeddings" {
		switch row.k.batch {
		case 0:
			j.lit(`,"batch":null`)
		case 2:
			j.lit(`,"batch":true`)
		default:
			j.lit(`,"batch":false`)
		}
		switch row.k.tier {
		case 0:
			j.lit(`,"service_tier":null`)
		case 1:
			j.lit(`,"service_tier":"default"`)
		default:
			j.lit(`,"service_tier":"priority"`)
		}
	}
	j.close('}')
}

type openaiCostKey struct {
	project, key, line string // quoted JSON (stream.quoted), "" for none
}

// costIDKey is an openaiCostKey by the texts' numbers (costIDs, packed by idKey): equal exactly
// when the texts are.
type costIDKey uint64

type openaiCostRow struct {
	k         openaiCostKey
	amount    ledger.Money
	qty       int64
	unit      string
	stringAmt bool
}

// GET /organization/costs
func (w *World) openaiCosts(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, param, msg := w.parseOpenAIWindow(q, true)
	if msg == "" {
		var groups map[string]bool
		groups, msg = parseGroupBy(q, openaiGroupings["costs"])
		if msg != "" {
			param = "group_by"
		} else {
			w.serveOpenAICosts(rw, q, win, groups)
			return
		}
	}
	openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, param)
}

func (w *World) serveOpenAICosts(rw http.ResponseWriter, q url.Values, win openaiBuckets, groups map[string]bool) {
	projects, keys := set(listParam(q, "project_ids")), set(listParam(q, "api_key_ids"))
	var streams []*stream
	for _, st := range w.streams {
		s := st.src
		if s.provider == usage.OpenAI && allowed(projects, s.project.id) && allowed(keys, s.id) {
			streams = append(streams, st)
		}
	}
	j := jw{b: make([]byte, 0, 2*flushBytes)}
	j.streaming(rw)
	j.open('{')
	j.str("object", "page")
	j.arr("data")
	byProject, byKey, byLine := groups["project_id"], groups["api_key_id"], groups["line_item"]
	sc := w.costScratch.get()
	index, rows := sc.index, sc.rows
	var next int64 // the page's next bucket; 0 on the last page
	defer func() { sc.rows = rows; w.costScratch.put(sc, next != 0) }()
	next = win.each(func(t0, t1 int64) {
		clear(index)
		rows = rows[:0]
		d, o0, o1 := dayOffsets(t0, t1)
		for _, st := range streams {
			u := w.usageIn(st, d, o0, o1)
			st.costItems(u, func(ci costItem) {
				var k openaiCostKey
				var project, key, line int32
				if byProject {
					k.project, project = st.quoted.project, st.ids.project
				}
				if byKey {
					k.key, key = st.quoted.key, st.ids.key
				}
				if byLine {
					k.line, line = st.quoted.lines[ci.class], st.ids.lines[ci.class]
				}
				ik := costIDKey(idKey(project, key, line))
				i, ok := index[ik]
				if !ok {
					i = len(rows)
					index[ik] = i
					rows = append(rows, openaiCostRow{k: k, unit: ci.unit, stringAmt: k.project != "" && st.src.project.stringAmt})
				}
				rows[i].amount += ci.amount
				rows[i].qty += ci.qty
			})
		}
		j.open('{')
		j.str("object", "bucket")
		j.int("start_time", t0)
		j.int("end_time", t1)
		j.arr("results")
		for _, row := range rows {
			// Constant runs of keys and punctuation, as in writeOpenAIUsageRow.
			j.sep()
			j.lit(`{"object":"organization.costs.result","amount":{"value":`)
			if row.stringAmt {
				j.b = appendString(j.b, longDecimal(row.amount))
			} else {
				j.b = appendScaled(j.b, row.amount, 9)
			}
			j.lit(`,"currency":"usd"},"line_item":`)
			j.quotedOrNull(row.k.line)
			j.lit(`,"project_id":`)
			j.quotedOrNull(row.k.project)
			j.lit(`,"api_key_id":`)
			j.quotedOrNull(row.k.key)
			if row.k.line != "" {
				j.lit(`,"quantity":`)
				j.b = strconv.AppendInt(j.b, row.qty, 10)
				j.lit(`,"quantity_unit":`)
				j.strOrNullValue(row.unit)
			} else {
				j.lit(`,"quantity":null,"quantity_unit":null`)
			}
			j.close('}')
		}
		j.close(']')
		j.close('}')
	})
	j.close(']')
	writePageEnd(&j, next)
	j.close('}')
	j.finish(rw)
}

// longDecimal writes dollars with 28 decimals, as the costs API sometimes does inside a JSON string
// ("0.1739150000000000000000000000", trap 3).
func longDecimal(m ledger.Money) string {
	s := m.String()
	i := strings.IndexByte(s, '.')
	return s + strings.Repeat("0", 28-(len(s)-i-1))
}

// GET /organization/projects
func (w *World) openaiProjectList(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, msg := parseLimit(q, 20, 100)
	if msg != "" {
		openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, "limit")
		return
	}
	archived := q.Get("include_archived") == "true"
	var list []*project
	for _, p := range w.openaiProjects {
		if !p.archived || archived {
			list = append(list, p)
		}
	}
	page, more, ok := afterPage(list, func(p *project) string { return p.id }, q.Get("after"), limit)
	if !ok {
		openaiError(rw, http.StatusBadRequest, "invalid_request_error", "Invalid value for 'after': unknown project id.", "after")
		return
	}
	type projectJSON struct {
		ID            string  `json:"id"`
		Object        string  `json:"object"`
		Name          string  `json:"name"`
		CreatedAt     int64   `json:"created_at"`
		ArchivedAt    *int64  `json:"archived_at"`
		Status        string  `json:"status"`
		ExternalKeyID *string `json:"external_key_id"`
	}
	data := make([]projectJSON, 0, len(page))
	for _, p := range page {
		pj := projectJSON{ID: p.id, Object: "organization.project", Name: p.name, CreatedAt: p.created.Unix(), Status: "active"}
		if p.archived {
			at := p.created.AddDate(0, 6, 0).Unix()
			pj.ArchivedAt, pj.Status = &at, "archived"
		}
		data = append(data, pj)
	}
	writeValue(rw, http.StatusOK, newOpenAIList(data, page, func(p *project) string { return p.id }, more))
}

// GET /organization/projects/{project_id}/api_keys
func (w *World) openaiKeyList(rw http.ResponseWriter, r *http.Request) {
	var proj *project
	for _, p := range w.openaiProjects {
		if p.id == r.PathValue("id") {
			proj = p
		}
	}
	if proj == nil {
		openaiError(rw, http.StatusNotFound, "invalid_request_error", "No such project: "+r.PathValue("id"), "project_id")
		return
	}
	q := r.URL.Query()
	limit, msg := parseLimit(q, 20, 100)
	if msg != "" {
		openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, "limit")
		return
	}
	keys, msg := keysByOwnerAccess(proj.keys, q.Get("owner_project_access"))
	if msg != "" {
		openaiError(rw, http.StatusBadRequest, "invalid_request_error", msg, "owner_project_access")
		return
	}
	id := func(s *source) string { return s.id }
	page, more, ok := afterPage(keys, id, q.Get("after"), limit)
	if !ok {
		openaiError(rw, http.StatusBadRequest, "invalid_request_error", "Invalid value for 'after': unknown key id.", "after")
		return
	}
	j := jw{}
	j.open('{')
	j.str("object", "list")
	j.arr("data")
	for _, s := range page {
		j.open('{')
		j.str("object", "organization.project.api_key")
		j.str("id", s.id)
		j.str("name", s.name)
		j.str("redacted_value", "sk-proj-****"+s.id[len(s.id)-4:])
		j.int("created_at", s.created.Unix())
		j.int("last_used_at", w.now.Unix()-int64(w.hash("last-used", s.id)%3600))
		j.str("owner_project_access", ownerAccess(s))
		j.obj("owner")
		if s.owner < 0 {
			j.str("type", "user")
			j.obj("user")
			j.str("id", w.id("user-", 24, "user", s.name))
			j.str("email", "dev@margin-demo.example")
			j.str("name", "Demo Developer")
			j.int("created_at", s.created.Unix())
			j.str("role", "owner")
			j.close('}')
		} else {
			j.str("type", "service_account")
			j.obj("service_account")
			j.str("id", w.id("svc_acct_", 12, "svc", s.id))
			j.str("name", s.name)
			j.int("created_at", s.created.Unix())
			j.str("role", "member")
			j.close('}')
		}
		j.close('}')
		j.close('}')
	}
	j.close(']')
	writeListEnd(&j, page, id, more)
	j.close('}')
	writeJSON(rw, http.StatusOK, j.b)
}

// afterPage returns up to limit items following the one whose id is after ("" = from the start).
func afterPage[T any](all []T, id func(T) string, after string, limit int) ([]T, bool, bool) {
	start := 0
	if after != "" {
		start = -1
		for i, x := range all {
			if id(x) == after {
				start = i + 1
			}
		}
		if start < 0 {
			return nil, false, false
		}
	}
	end := min(start+limit, len(all))
	return all[start:end], end < len(all), true
}

// openaiList is the {object, data, first_id, last_id, has_more} envelope of OpenAI's lists.
type openaiList[D any] struct {
	Object  string  `json:"object"`
	Data    []D     `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// newOpenAIList is the list of data, the JSON of page's elements; ids are null on an empty page.
func newOpenAIList[D, T any](data []D, page []T, id func(T) string, more bool) openaiList[D] {
	l := openaiList[D]{Object: "list", Data: data, HasMore: more}
	if len(page) > 0 {
		first, last := id(page[0]), id(page[len(page)-1])
		l.FirstID, l.LastID = &first, &last
	}
	return l
}

func writeListEnd[T any](j *jw, page []T, id func(T) string, more bool) {
	if len(page) > 0 {
		j.str("first_id", id(page[0]))
		j.str("last_id", id(page[len(page)-1]))
	} else {
		j.null("first_id")
		j.null("last_id")
	}
	j.bool("has_more", more)
}

// keysByOwnerAccess filters a project's keys by owner_project_access (active, inactive or any).
// Without it only keys whose owner still has project access are listed: the membership-based
// visibility that "may exclude some enabled keys" (provider-apis.md, correction 3).
func keysByOwnerAccess(keys []*source, access string) ([]*source, string) {
	switch access {
	case "any":
		return keys, ""
	case "", "active", "inactive":
	default:
		return nil, "Invalid value for 'owner_project_access': expected 'active', 'inactive' or 'any'."
	}
	want := "active"
	if access == "inactive" {
		want = "inactive"
	}
	var out []*source
	for _, s := range keys {
		if ownerAccess(s) == want {
			out = append(out, s)
		}
	}
	return out, ""
}

func ownerAccess(s *source) string {
	if s.ownerInactive {
		return "inactive"
	}
	return "active"
}
