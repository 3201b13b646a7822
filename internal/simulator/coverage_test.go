package simulator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/usage"
)

func TestOpenRouterKeys_PerWorkspace(t *testing.T) {
	w := demo(t)
	type keyList struct {
		Data []struct {
			Hash        string `json:"hash"`
			WorkspaceID string `json:"workspace_id"`
			Usage       any    `json:"usage"`
		} `json:"data"`
	}
	research := w.orWorkspaces[0].id
	var def, other keyList
	getOK(t, w, "/openrouter/api/v1/keys?include_disabled=true&offset=100", openrouterAuth, &def)
	getOK(t, w, "/openrouter/api/v1/keys?include_disabled=true&workspace_id="+research, openrouterAuth, &other)
	if len(other.Data) != 1 || other.Data[0].WorkspaceID != research {
		t.Fatalf("research keys %+v, want the one key of the second workspace", other.Data)
	}
	for _, k := range def.Data {
		if k.Hash == other.Data[0].Hash || k.WorkspaceID != w.openrouterWorkspace() {
			t.Errorf("default listing holds %+v", k)
		}
	}
	owner := ""
	for _, s := range w.orKeys {
		if s.id == other.Data[0].Hash {
			owner = w.CustomerOf(s.ref())
			if !strings.Contains(s.name, owner) || owner == "" {
				t.Errorf("the second workspace's key %q is not a key named after its customer %q", s.name, owner)
			}
		}
	}
	if r := get(t, w, "/openrouter/api/v1/keys?workspace_id=00000000-0000-4000-8000-000000000000", openrouterAuth); r.status != http.StatusNotFound {
		t.Errorf("unknown workspace: status %d, want 404", r.status)
	}
	if r := get(t, w, "/openrouter/api/v1/workspaces?limit=101", openrouterAuth); r.status != http.StatusBadRequest {
		t.Errorf("limit 101: status %d, want 400", r.status)
	}
	// The deleted key is listed nowhere and cannot be looked up.
	for _, s := range w.sources {
		if s.deletedFrom == 0 {
			continue
		}
		if r := get(t, w, "/openrouter/api/v1/keys/"+s.id, openrouterAuth); r.status != http.StatusNotFound {
			t.Errorf("deleted key: status %d, want 404", r.status)
		}
	}
	idle := 0
	for _, s := range w.orKeys {
		if w.keySpend(s, w.first) == 0 {
			idle++
		}
	}
	if idle < idleOpenRouterKeys {
		t.Errorf("%d listed keys never spent, want at least %d", idle, idleOpenRouterKeys)
	}
}

func TestOpenAIKeys_OwnerProjectAccess(t *testing.T) {
	w := demo(t)
	var hidden *source
	for _, s := range w.sources {
		if s.ownerInactive {
			hidden = s
		}
	}
	if hidden == nil || w.CustomerOf(hidden.ref()) == "" {
		t.Fatal("the world has no customer key whose owner lost project access")
	}
	list := func(access string) []string {
		var page struct {
			Data []struct {
				ID                 string `json:"id"`
				OwnerProjectAccess string `json:"owner_project_access"`
			} `json:"data"`
		}
		q := "?limit=100"
		if access != "" {
			q += "&owner_project_access=" + access
		}
		getOK(t, w, "/openai/v1/organization/projects/"+hidden.project.id+"/api_keys"+q, openaiAuth, &page)
		var ids []string
		for _, k := range page.Data {
			ids = append(ids, k.ID+"/"+k.OwnerProjectAccess)
		}
		return ids
	}
	has := func(ids []string) bool {
		for _, id := range ids {
			if id == hidden.id+"/inactive" {
				return true
			}
		}
		return false
	}
	if plain, active := list(""), list("active"); has(plain) || has(active) || len(plain) != len(active) {
		t.Errorf("the inactive owner's key is listed without owner_project_access=any")
	}
	anyKeys := list("any")
	if !has(anyKeys) || len(anyKeys) != len(list(""))+1 {
		t.Errorf("owner_project_access=any lists %d keys, want every key and the hidden one", len(anyKeys))
	}
	if inactive := list("inactive"); len(inactive) != 1 || !has(inactive) {
		t.Errorf("owner_project_access=inactive lists %q", inactive)
	}
	if r := get(t, w, "/openai/v1/organization/projects/"+hidden.project.id+"/api_keys?owner_project_access=all", openaiAuth); r.status != http.StatusBadRequest {
		t.Errorf("bad owner_project_access: status %d, want 400", r.status)
	}
}

func TestAnthropicUsage_EndingAtRule(t *testing.T) {
	w := demo(t)
	today := usage.DayOf(testNow)
	type report struct {
		Data []struct {
			StartingAt string `json:"starting_at"`
			EndingAt   string `json:"ending_at"`
			Results    []struct {
				Input int64 `json:"uncached_input_tokens"`
			} `json:"results"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	read := func(end time.Time) report {
		var r report
		getOK(t, w, "/anthropic/v1/organizations/usage_report/messages?starting_at="+(today-2).Time().Format(time.RFC3339)+
			"&ending_at="+end.Format(time.RFC3339)+"&bucket_width=1d&limit=31", anthropicAuth, &r)
		return r
	}
	// ending_at = now: today's bucket ends at the next midnight, after now, so it is not returned.
	if r := read(testNow); len(r.Data) != 2 || r.HasMore || r.Data[1].EndingAt != today.Time().Format(time.RFC3339) {
		t.Errorf("ending_at=now: %d buckets, last %+v; want yesterday's last", len(r.Data), r.Data)
	}
	// ending_at = the next midnight: today's partial bucket arrives, with today's tokens so far.
	r := read((today + 1).Time())
	if len(r.Data) != 3 || r.Data[2].StartingAt != today.Time().Format(time.RFC3339) {
		t.Fatalf("ending_at=next midnight: %+v; want today's bucket last", r.Data)
	}
	var input int64
	for _, res := range r.Data[2].Results {
		input += res.Input
	}
	var want int64
	for _, st := range w.streams {
		if st.api == apiMessages {
			want += w.usageIn(st, today, 0, secondsPerDay).input
		}
	}
	if input != want || want == 0 {
		t.Errorf("today's bucket has %d uncached input tokens, the world %d", input, want)
	}
	// A bucket that ends after ending_at is not returned, whatever the width.
	var hours report
	getOK(t, w, "/anthropic/v1/organizations/usage_report/messages?starting_at="+today.Time().Format(time.RFC3339)+
		"&ending_at="+today.Time().Add(150*time.Minute).Format(time.RFC3339)+"&bucket_width=1h&limit=24", anthropicAuth, &hours)
	if len(hours.Data) != 2 {
		t.Errorf("1h buckets to 02:30: %d, want 2", len(hours.Data))
	}
}

func TestWorld_HistoryBeyond31Days(t *testing.T) {
	w := demo(t)
	if w.today-w.FirstDay() <= 31 {
		t.Fatalf("the world's history starts %d days back, want more than 31", w.today-w.FirstDay())
	}
	for _, p := range []usage.Provider{usage.OpenAI, usage.Anthropic} {
		if w.BilledTotal(p, w.FirstDay()) == 0 || w.BilledTotal(p, w.FirstDay()-1) != 0 {
			t.Errorf("%s: billed %s on the first day, %s the day before", p, w.BilledTotal(p, w.FirstDay()), w.BilledTotal(p, w.FirstDay()-1))
		}
	}
}

func TestOpenRouterActivity_ByWorkspace(t *testing.T) {
	w := demo(t)
	research := w.orWorkspaces[0].id
	type rows struct {
		Data []struct {
			Date        string `json:"date"`
			Model       string `json:"model"`
			Requests    int64  `json:"requests"`
			WorkspaceID string `json:"workspace_id"`
		} `json:"data"`
	}
	var grouped, filtered, all rows
	getOK(t, w, "/openrouter/api/v1/activity?group_by=workspace", openrouterAuth, &grouped)
	getOK(t, w, "/openrouter/api/v1/activity?workspace_id="+research, openrouterAuth, &filtered)
	getOK(t, w, "/openrouter/api/v1/activity", openrouterAuth, &all)
	perWS := map[string]int64{}
	for _, r := range grouped.Data {
		perWS[r.WorkspaceID] += r.Requests
	}
	var researchReqs, allReqs int64
	for _, r := range filtered.Data {
		if r.WorkspaceID != "" {
			t.Fatalf("workspace_id without group_by: %+v", r)
		}
		researchReqs += r.Requests
	}
	for _, r := range all.Data {
		allReqs += r.Requests
	}
	if len(perWS) != 2 || perWS[research] != researchReqs || researchReqs == 0 ||
		perWS[research]+perWS[w.openrouterWorkspace()] != allReqs {
		t.Errorf("requests per workspace %v, research filter %d, all %d", perWS, researchReqs, allReqs)
	}
	if r := get(t, w, "/openrouter/api/v1/activity?workspace_id=nope", openrouterAuth); r.status != http.StatusNotFound {
		t.Errorf("unknown workspace: status %d, want 404", r.status)
	}
}
