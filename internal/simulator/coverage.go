package simulator

import (
	"net/http"
	"strconv"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

// The shapes of a real account that a per-key listing misses (provider-apis.md, corrections 3, 5
// and 8): an OpenRouter key in a second workspace, spend of a deleted OpenRouter key, many keys
// that were never used, and an OpenAI key listed only with owner_project_access=any. Each one
// bills, so a client that misses it fails the world's ground truth.

const (
	// idleOpenRouterKeys are keys created and never used: most keys of a large account. With the
	// others they make the default workspace's listing span two /keys pages.
	idleOpenRouterKeys = 120
	// deletedKeyDays is how many days ago the deleted OpenRouter key was deleted.
	deletedKeyDays = 9
)

// orWorkspace is an OpenRouter workspace other than the default one.
type orWorkspace struct {
	id, name, slug string
	created        time.Time
}

// addCoverageShapes adds the shapes above to the company built so far. It runs after the
// internal streams are added, so the deleted key's spend is calibrated with theirs.
func (w *World) addCoverageShapes(created time.Time, oaKeys, anKeys *int) {
	// A customer attributed by key name keeps one OpenRouter key in a second workspace: only
	// /keys?workspace_id= names it, and without its name its spend is not the customer's.
	research := &orWorkspace{id: w.uuid("workspace", "research"), name: "Research", slug: "research", created: created.AddDate(0, -1, 0)}
	w.orWorkspaces = []*orWorkspace{research}
	if s := w.firstNamedSource(usage.OpenRouter, func(*source) bool { return true }); s != nil {
		s.orWorkspace = research
	}
	// A customer attributed by key name has one OpenAI key whose owner lost project access: the
	// key list hides it unless asked with owner_project_access=any.
	if s := w.firstNamedSource(usage.OpenAI, func(s *source) bool { return s.project != nil && s.project.owner < 0 }); s != nil {
		s.ownerInactive = true
	}
	// A batch job's key, deleted deletedKeyDays ago: its spend before then is in the account's
	// /activity and in no key listing.
	w.internal(&source{provider: usage.OpenRouter, id: w.orHash("internal", "batch-2025"), name: "batch-2025", owner: -1,
		created: created.AddDate(0, -3, 0), deletedFrom: w.today - deletedKeyDays}, 600_000, oaKeys, anKeys)
	for i := 0; i < idleOpenRouterKeys; i++ {
		n := strconv.Itoa(i)
		w.orKeys = append(w.orKeys, &source{provider: usage.OpenRouter, id: w.orHash("idle", n), name: "sandbox-" + n, owner: -1,
			created: created.Add(time.Duration(i) * time.Hour)})
	}
}

// firstNamedSource returns the first source of provider p, of a customer attributed by key name,
// that ok accepts; nil when there is none.
func (w *World) firstNamedSource(p usage.Provider, ok func(*source) bool) *source {
	for _, c := range w.customers {
		if c.path != byName {
			continue
		}
		for _, s := range c.sources {
			if s.provider == p && ok(s) {
				return s
			}
		}
	}
	return nil
}

// uuid derives a version-4-shaped UUID from parts.
func (w *World) uuid(parts ...string) string {
	h := w.orHash(parts...)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// workspaceOf returns the OpenRouter workspace id of a key.
func (w *World) workspaceOf(s *source) string {
	if s.orWorkspace == nil {
		return w.openrouterWorkspace()
	}
	return s.orWorkspace.id
}

// openrouterWorkspaceKnown reports whether id names a workspace of the account.
func (w *World) openrouterWorkspaceKnown(id string) bool {
	if id == w.openrouterWorkspace() {
		return true
	}
	for _, ws := range w.orWorkspaces {
		if ws.id == id {
			return true
		}
	}
	return false
}

// GET /workspaces — offset and limit (1-100, default 50), with total_count.
func (w *World) openrouterWorkspacesList(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit := 0, 50
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			openrouterError(rw, http.StatusBadRequest, "offset must be a non-negative integer")
			return
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			openrouterError(rw, http.StatusBadRequest, "limit must be an integer between 1 and 100")
			return
		}
		limit = n
	}
	all := append([]*orWorkspace{{id: w.openrouterWorkspace(), name: "Default Workspace", slug: "default", created: w.now.AddDate(-1, 0, 0)}}, w.orWorkspaces...)
	j := jw{}
	j.open('{')
	j.arr("data")
	for i := offset; i < len(all) && i < offset+limit; i++ {
		ws := all[i]
		j.open('{')
		j.str("id", ws.id)
		j.str("name", ws.name)
		j.str("slug", ws.slug)
		j.null("description")
		j.str("created_at", ws.created.Format(time.RFC3339))
		j.null("created_by")
		j.str("default_guardrail_id", w.uuid("guardrail", ws.id))
		j.null("default_image_model")
		j.null("default_provider_sort")
		j.null("default_text_model")
		j.bool("include_byok_in_budgets", false)
		j.null("io_logging_api_key_ids")
		j.int("io_logging_sampling_rate", 1)
		j.bool("is_data_discount_logging_enabled", true)
		j.bool("is_observability_broadcast_enabled", false)
		j.bool("is_observability_io_logging_enabled", false)
		j.null("updated_at")
		j.close('}')
	}
	j.close(']')
	j.int("total_count", int64(len(all)))
	j.close('}')
	writeJSON(rw, http.StatusOK, j.b)
}
