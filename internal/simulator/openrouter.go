package simulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The OpenRouter management API fake (provider-apis.md §3.2-3.5).

const openrouterKeysPerPage = 100

func (w *World) openrouterHandler() http.Handler {
	mgmt := http.NewServeMux()
	mgmt.HandleFunc("GET /activity", w.openrouterActivity)
	mgmt.HandleFunc("GET /keys", w.openrouterKeys)
	mgmt.HandleFunc("GET /keys/{hash}", w.openrouterKey)
	mgmt.HandleFunc("GET /key", func(rw http.ResponseWriter, r *http.Request) { w.openrouterCurrentKey(rw, true) })
	mgmt.HandleFunc("GET /credits", w.openrouterCredits)
	mgmt.HandleFunc("GET /workspaces", w.openrouterWorkspacesList)
	mgmt.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		openrouterError(rw, http.StatusNotFound, "Not Found")
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || key == "":
			openrouterError(rw, http.StatusUnauthorized, "No auth credentials found")
		case key == OpenRouterManagementKey:
			mgmt.ServeHTTP(rw, r)
		case strings.HasPrefix(key, "sk-or-v1-"):
			// An inference key: it may describe itself, nothing more.
			if r.URL.Path == "/key" {
				w.openrouterCurrentKey(rw, false)
				return
			}
			openrouterError(rw, http.StatusForbidden, "Only management keys can perform this operation")
		default:
			openrouterError(rw, http.StatusUnauthorized, "User not found.")
		}
	})
}

func openrouterError(rw http.ResponseWriter, status int, msg string) {
	type body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	writeValue(rw, status, struct {
		Error body `json:"error"`
	}{body{status, msg}})
}

// openrouterWorkspace is the UUID of the organisation's default workspace.
func (w *World) openrouterWorkspace() string {
	h := w.orHash("workspace", "default")
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func (w *World) endpointID(m *openrouterModel) string {
	h := w.orHash("endpoint", m.slug)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-9" + h[17:20] + "-" + h[20:32]
}

type activityRow struct {
	m                                   *openrouterModel
	usage                               ledger.Money
	requests, prompt, completion, think int64
}

// GET /activity — the last 30 completed UTC days, optionally one day, one key and one workspace.
// Without a key filter it is the whole account's: every workspace, deleted keys included, rows
// aggregated by day, model and endpoint (per workspace too with group_by=workspace).
func (w *World) openrouterActivity(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to := w.today-30, w.today-1
	if v := q.Get("date"); v != "" {
		d, err := usage.ParseDay(v)
		if err != nil || d < from || d > to {
			openrouterError(rw, http.StatusBadRequest, "date must be a YYYY-MM-DD UTC date within the last 30 completed days")
			return
		}
		from, to = d, d
	}
	hash := q.Get("api_key_hash")
	byWorkspace := q.Get("group_by") == "workspace"
	ws := q.Get("workspace_id")
	if ws != "" && !w.openrouterWorkspaceKnown(ws) {
		openrouterError(rw, http.StatusNotFound, "Workspace not found")
		return
	}
	var streams []*stream
	for _, st := range w.streams {
		if st.api == apiActivity && (hash == "" || st.src.id == hash) && (ws == "" || w.workspaceOf(st.src) == ws) {
			streams = append(streams, st)
		}
	}
	// Rows are per model, and per workspace when grouped by it: workspace k's rows sit at
	// k*len(openrouterModels) (0 is the default workspace).
	slot := func(st *stream) int {
		i := modelIndex(st.or)
		if byWorkspace && st.src.orWorkspace != nil {
			for k, o := range w.orWorkspaces {
				if o == st.src.orWorkspace {
					i += (k + 1) * len(openrouterModels)
				}
			}
		}
		return i
	}
	slots := len(openrouterModels)
	if byWorkspace {
		slots *= len(w.orWorkspaces) + 1
	}
	workspaceAt := func(i int) string {
		if k := i / len(openrouterModels); k > 0 {
			return w.orWorkspaces[k-1].id
		}
		return w.openrouterWorkspace()
	}
	// A key's 30 days are most often a few tens of kilobytes: the buffer grows when they are not
	// (a later poll asks every used key's, so 128 KB each added up).
	j := jw{b: make([]byte, 0, 16<<10)}
	j.streaming(rw)
	j.open('{')
	j.arr("data")
	for d := from; d <= to; d++ {
		rows := make([]activityRow, slots)
		for _, st := range streams {
			u := w.usageIn(st, d, 0, secondsPerDay)
			i := slot(st)
			rows[i].m = st.or
			st.costItems(u, func(ci costItem) { rows[i].usage += ci.amount })
			rows[i].requests += u.requests
			rows[i].prompt += u.input
			rows[i].completion += u.output
			rows[i].think += u.reasoning
		}
		for i, row := range rows {
			if row.m == nil || row.requests == 0 {
				continue
			}
			j.open('{')
			j.str("date", d.String())
			j.str("model", row.m.slug)
			j.str("model_permaslug", row.m.permaslug)
			j.str("endpoint_id", w.endpointID(row.m))
			j.str("provider_name", row.m.provider)
			j.dollars("usage", row.usage)
			j.int("byok_usage_inference", 0)
			j.int("requests", row.requests)
			j.int("prompt_tokens", row.prompt)
			j.int("completion_tokens", row.completion)
			j.int("reasoning_tokens", row.think)
			if byWorkspace {
				j.str("workspace_id", workspaceAt(i))
			}
			j.close('}')
		}
	}
	j.close(']')
	j.close('}')
	j.finish(rw)
}

func modelIndex(m *openrouterModel) int {
	for i := range openrouterModels {
		if &openrouterModels[i] == m {
			return i
		}
	}
	return 0
}

// keySpend is what a key spent from day from through now (today's partial day included).
func (w *World) keySpend(s *source, from usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streamsOf[s] {
		for d := max(from, w.first); d <= w.today; d++ {
			st.costItems(w.usageIn(st, d, 0, secondsPerDay), func(ci costItem) { total += ci.amount })
		}
	}
	return total
}

func (w *World) writeOpenRouterKey(j *jw, s *source) {
	today := w.today
	weekday := (int64(today) + 3) % 7 // days since Monday; 1970-01-01 was a Thursday
	month := usage.DayOf(time.Date(w.now.Year(), w.now.Month(), 1, 0, 0, 0, 0, time.UTC))
	j.open('{')
	j.str("hash", s.id)
	j.str("name", s.name)
	j.str("label", "sk-or-v1-"+s.id[:3]+"..."+s.id[60:])
	j.bool("disabled", s.disabled)
	j.null("limit")
	j.null("limit_remaining")
	j.null("limit_reset")
	j.bool("include_byok_in_limit", false)
	j.dollars("usage", w.keySpend(s, w.first))
	j.dollars("usage_daily", w.keySpend(s, today))
	j.dollars("usage_weekly", w.keySpend(s, today-usage.Day(weekday)))
	j.dollars("usage_monthly", w.keySpend(s, month))
	for _, f := range []string{"byok_usage", "byok_usage_daily", "byok_usage_weekly", "byok_usage_monthly"} {
		j.int(f, 0)
	}
	j.str("created_at", s.created.Format(time.RFC3339))
	j.null("updated_at")
	j.null("expires_at")
	j.null("creator_user_id")
	j.str("workspace_id", w.workspaceOf(s))
	j.close('}')
}

// GET /keys — 100 keys per page, paged by offset.
func (w *World) openrouterKeys(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset := 0
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			openrouterError(rw, http.StatusBadRequest, "offset must be a non-negative integer")
			return
		}
		offset = n
	}
	withDisabled := q.Get("include_disabled") == "true"
	// Without workspace_id, the default workspace's keys (provider-apis.md, correction 8).
	ws := q.Get("workspace_id")
	if ws == "" {
		ws = w.openrouterWorkspace()
	} else if !w.openrouterWorkspaceKnown(ws) {
		openrouterError(rw, http.StatusNotFound, "Workspace not found")
		return
	}
	var keys []*source
	for _, s := range w.orKeys {
		if (!s.disabled || withDisabled) && w.workspaceOf(s) == ws {
			keys = append(keys, s)
		}
	}
	j := jw{}
	j.open('{')
	j.arr("data")
	for i := offset; i < len(keys) && i < offset+openrouterKeysPerPage; i++ {
		w.writeOpenRouterKey(&j, keys[i])
	}
	j.close(']')
	j.close('}')
	writeJSON(rw, http.StatusOK, j.b)
}

// GET /keys/{hash}
func (w *World) openrouterKey(rw http.ResponseWriter, r *http.Request) {
	for _, s := range w.orKeys {
		if s.id == r.PathValue("hash") {
			j := jw{}
			j.open('{')
			j.key("data")
			w.writeOpenRouterKey(&j, s)
			j.close('}')
			writeJSON(rw, http.StatusOK, j.b)
			return
		}
	}
	openrouterError(rw, http.StatusNotFound, "Key not found")
}

// GET /key — the calling key itself.
func (w *World) openrouterCurrentKey(rw http.ResponseWriter, management bool) {
	type rateLimit struct {
		Requests int    `json:"requests"`
		Interval string `json:"interval"`
		Note     string `json:"note"`
	}
	type key struct {
		Label              string    `json:"label"`
		Limit              *int64    `json:"limit"`
		LimitRemaining     *int64    `json:"limit_remaining"`
		LimitReset         *string   `json:"limit_reset"`
		IncludeBYOKInLimit bool      `json:"include_byok_in_limit"`
		Usage              int64     `json:"usage"`
		UsageDaily         int64     `json:"usage_daily"`
		UsageWeekly        int64     `json:"usage_weekly"`
		UsageMonthly       int64     `json:"usage_monthly"`
		BYOKUsage          int64     `json:"byok_usage"`
		BYOKUsageDaily     int64     `json:"byok_usage_daily"`
		BYOKUsageWeekly    int64     `json:"byok_usage_weekly"`
		BYOKUsageMonthly   int64     `json:"byok_usage_monthly"`
		IsFreeTier         bool      `json:"is_free_tier"`
		IsManagementKey    bool      `json:"is_management_key"`
		IsProvisioningKey  bool      `json:"is_provisioning_key"`
		CreatorUserID      *string   `json:"creator_user_id"`
		ExpiresAt          *string   `json:"expires_at"`
		RateLimit          rateLimit `json:"rate_limit"`
	}
	k := key{Label: "sk-or-v1-...", IsManagementKey: management, IsProvisioningKey: management,
		RateLimit: rateLimit{Requests: -1, Interval: "10s", Note: "This field is deprecated and safe to ignore."}}
	if management {
		k.Label = "sk-or-v1-dem...rgin"
	}
	writeValue(rw, http.StatusOK, struct {
		Data key `json:"data"`
	}{k})
}

// GET /credits — the account's spend, deleted keys' included.
func (w *World) openrouterCredits(rw http.ResponseWriter, r *http.Request) {
	var used ledger.Money
	for _, st := range w.streams {
		if st.api != apiActivity {
			continue
		}
		for d := w.first; d <= w.today; d++ {
			st.costItems(w.usageIn(st, d, 0, secondsPerDay), func(ci costItem) { used += ci.amount })
		}
	}
	credits := (used/(1000*ledger.Dollar) + 2) * 1000 * ledger.Dollar
	type data struct {
		TotalCredits json.Number `json:"total_credits"`
		TotalUsage   json.Number `json:"total_usage"`
	}
	writeValue(rw, http.StatusOK, struct {
		Data data `json:"data"`
	}{data{dollarNumber(credits), dollarNumber(used)}})
}
