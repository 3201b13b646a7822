package openrouter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// idleAccount serves n keys in the default workspace over as many /keys pages as needed, of which
// only every 40th has lifetime usage, and no other workspace. Each used key's /activity holds one
// row of $0.01 on 2026-08-10; the account-level /activity holds exactly their sum.
func idleAccount(t *testing.T, f *fakeServer, n int) (used []string) {
	t.Helper()
	hash := func(i int) string {
		s := sha256.Sum256([]byte("key-" + strconv.Itoa(i)))
		return hex.EncodeToString(s[:])
	}
	for i := 0; i < n; i += 40 {
		used = append(used, hash(i))
	}
	f.handle("/keys", func(w http.ResponseWriter, r *http.Request) {
		if ws := r.URL.Query().Get("workspace_id"); ws != "" && ws != wsDefault {
			t.Errorf("keys of unknown workspace %q asked for", ws)
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		var b strings.Builder
		b.WriteString(`{"data":[`)
		for i := offset; i < min(n, offset+100); i++ {
			if i > offset {
				b.WriteByte(',')
			}
			spent := "0"
			if i%40 == 0 {
				spent = "0.01"
			}
			fmt.Fprintf(&b, `{"hash":%q,"name":"key %d","label":"sk-or-v1-000...%04d","disabled":false,"usage":%s,"byok_usage":0,"workspace_id":%q}`, hash(i), i, i, spent, wsDefault)
		}
		b.WriteString(`]}`)
		writeJSON(w, b.String())
	})
	f.handle("/workspaces", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, `{"data":[{"id":"`+wsDefault+`","name":"Default Workspace","slug":"default"}],"total_count":1}`)
	})
	row := `{"date":"2026-08-10","model":"openai/gpt-4.1-mini","model_permaslug":"openai/gpt-4.1-mini-2025-04-14","endpoint_id":"e","provider_name":"OpenAI","usage":%s,"byok_usage_inference":0,"requests":%d,"prompt_tokens":%d,"completion_tokens":%d,"reasoning_tokens":0}`
	f.handle("/activity", func(w http.ResponseWriter, r *http.Request) {
		h := r.URL.Query().Get("api_key_hash")
		if h == "" {
			k := int64(len(used))
			writeJSON(w, `{"data":[`+fmt.Sprintf(row, ledger.Money(k*10_000_000).String(), k, 1000*k, 100*k)+`]}`)
			return
		}
		writeJSON(w, `{"data":[`+fmt.Sprintf(row, "0.01", 1, 1000, 100)+`]}`)
	})
	return used
}

func TestFetch_SkipsKeysThatWereNeverUsed(t *testing.T) {
	f := newFakeServer(t)
	used := idleAccount(t, f, 250)
	c, _ := f.client(t, nil)
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	var perKey, account, keyPages int
	for _, r := range f.seen() {
		switch {
		case strings.HasPrefix(r, "/api/v1/activity?api_key_hash="):
			perKey++
		case r == "/api/v1/activity?":
			account++
		case strings.HasPrefix(r, "/api/v1/keys?"):
			keyPages++
		}
	}
	// 250 keys: 7 with usage, 243 idle. One /activity per used key, one for the account.
	if perKey != len(used) || account != 1 {
		t.Errorf("/activity asked %d times per key and %d for the account, want %d and 1", perKey, account, len(used))
	}
	if keyPages != 6 { // three pages of the default listing, three of the same workspace by id
		t.Errorf("%d /keys pages, want 6", keyPages)
	}
	if len(b.Sources) != 250 {
		t.Errorf("%d sources, want every key named, idle ones too", len(b.Sources))
	}
	if len(b.Usage) != len(used) || len(b.Warnings) != 0 {
		t.Fatalf("usage %+v, warnings %q: want one record per used key and no unlisted rest", b.Usage, b.Warnings)
	}
	for _, r := range b.Usage {
		if r.Key.Ref() == usage.OpenRouterUnlisted || r.Billed != 10_000_000 {
			t.Errorf("record %+v", r)
		}
	}
}

func TestFetch_IdleKeyThatWasUsedAfterAllIsUnlisted(t *testing.T) {
	// A key listed with lifetime usage 0 that has activity after all (counters lag): its spend is
	// not asked per key, but the account-level /activity brings it, so nothing is lost.
	f := newFakeServer(t)
	f.handle("/activity", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("api_key_hash") {
		case hashPilot:
			t.Error("/activity asked for pilot, whose lifetime usage is zero")
		case "":
			writeJSON(w, `{"data":[{"date":"2026-08-05","model":"x-ai/grok-4","model_permaslug":"x-ai/grok-4","endpoint_id":"e","provider_name":"xAI","usage":0.5,"byok_usage_inference":0,"requests":2,"prompt_tokens":30,"completion_tokens":4,"reasoning_tokens":1}]}`)
		default:
			writeJSON(w, `{"data":[]}`)
		}
	})
	c, _ := f.client(t, nil)
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	want := []usage.UsageRecord{{Provider: usage.OpenRouter.ID(), Day: day("2026-08-05"), Key: usage.InternRef(usage.OpenRouterUnlisted), Model: usage.Intern("x-ai/grok-4"),
		Tokens: usage.Tokens{Input: 30, Output: 4, Reasoning: 1}, Requests: 2, Billed: 500_000_000, HasBilled: true}}
	assertRecords(t, b.Usage, want)
}

func TestFetch_ListedKeysAboveTheAccountKeepTheirFigures(t *testing.T) {
	f := newFakeServer(t)
	f.handle("/activity", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("api_key_hash") {
		case hashAcme:
			writeJSON(w, `{"data":[{"date":"2026-08-05","model":"m/a","model_permaslug":"m/a","endpoint_id":"e","provider_name":"P","usage":2,"byok_usage_inference":0,"requests":5,"prompt_tokens":500,"completion_tokens":50,"reasoning_tokens":0}]}`)
		case "":
			writeJSON(w, `{"data":[{"date":"2026-08-05","model":"m/a","model_permaslug":"m/a","endpoint_id":"e","provider_name":"P","usage":1.5,"byok_usage_inference":0,"requests":4,"prompt_tokens":400,"completion_tokens":60,"reasoning_tokens":0}]}`)
		default:
			writeJSON(w, `{"data":[]}`)
		}
	})
	c, _ := f.client(t, nil)
	b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	// The key's $2 stays; the account's extra 10 output tokens are the unlisted rest, at $0.
	want := []usage.UsageRecord{
		{Provider: usage.OpenRouter.ID(), Day: day("2026-08-05"), Key: usage.InternRef(keyRef(hashAcme)), Model: usage.Intern("m/a"), Tokens: usage.Tokens{Input: 500, Output: 50}, Requests: 5, Billed: 2 * ledger.Dollar, HasBilled: true},
		{Provider: usage.OpenRouter.ID(), Day: day("2026-08-05"), Key: usage.InternRef(usage.OpenRouterUnlisted), Model: usage.Intern("m/a"), Tokens: usage.Tokens{Output: 10}, HasBilled: true},
	}
	assertRecords(t, b.Usage, want)
	if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "2026-08-05 m/a: the listed keys spent 2.00, more than the account-level /activity's 1.50") {
		t.Errorf("warnings = %q", b.Warnings)
	}
}

func TestFetch_WorkspacesNotServed(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusForbidden} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			f := newFakeServer(t)
			f.handle("/workspaces", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				writeJSON(w, fmt.Sprintf(`{"error":{"code":%d,"message":"no"}}`, code))
			})
			c, _ := f.client(t, nil)
			b, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "keys of the default workspace only") ||
				!strings.Contains(b.Warnings[0], strconv.Itoa(code)) || !strings.Contains(b.Warnings[0], "openrouter:key:unlisted") {
				t.Errorf("warnings = %q", b.Warnings)
			}
			// research's key is not listed: its $0.75 arrives as unlisted, so the total still holds.
			var total, unlisted ledger.Money
			for _, r := range b.Usage {
				total += r.Billed
				if r.Key.Ref() == usage.OpenRouterUnlisted {
					unlisted += r.Billed
				}
			}
			if total != 6_450_123_457 || unlisted != 2_150_000_000 {
				t.Errorf("total %s, unlisted %s; want 6.450123457 and 2.15", total, unlisted)
			}
		})
	}
}

func TestFetch_WorkspaceListFailureIsAnError(t *testing.T) {
	f := newFakeServer(t)
	f.handle("/workspaces", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, `{"data":[{"name":"no id"}],"total_count":1}`)
	})
	c, _ := f.client(t, nil)
	_, err := c.Fetch(context.Background(), usage.Window{From: day("2026-08-01"), To: day("2026-08-31")})
	if err == nil || !strings.Contains(err.Error(), "/workspaces") || !strings.Contains(err.Error(), "without an id") {
		t.Fatalf("got %v, want an error naming /workspaces and the missing id", err)
	}
}

func TestListWorkspaces_Paging(t *testing.T) {
	page := func(first, n, total int) string {
		var b strings.Builder
		b.WriteString(`{"data":[`)
		for i := first; i < first+n; i++ {
			if i > first {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"00000000-0000-4000-8000-%012d","name":"ws %d","slug":"ws-%d"}`, i, i, i)
		}
		fmt.Fprintf(&b, `],"total_count":%d}`, total)
		return b.String()
	}
	tests := []struct {
		name      string
		serve     func(offset int) string
		wantCount int
		wantPages int
		wantErr   string
	}{
		{"one short page", func(int) string { return page(0, 2, 2) }, 2, 1, ""},
		{"full pages until total_count", func(o int) string { return page(o, 100, 200) }, 200, 2, ""},
		{"a short last page", func(o int) string {
			if o == 0 {
				return page(0, 100, 130)
			}
			return page(100, 30, 130)
		}, 130, 2, ""},
		{"offset ignored", func(int) string { return page(0, 100, 500) }, 100, 2, "repeats workspaces already listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			pages := 0
			f.handle("/workspaces", func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				if q.Get("limit") != "100" || q.Get("offset") != strconv.Itoa(100*pages) {
					t.Errorf("query %s, want limit=100 and offset=%d", r.URL.RawQuery, 100*pages)
				}
				pages++
				o, _ := strconv.Atoi(q.Get("offset"))
				writeJSON(w, tt.serve(o))
			})
			c, _ := f.client(t, nil)
			count := 0
			var err error
			for _, e := range c.ListWorkspaces(context.Background()) {
				if e != nil {
					err = e
					break
				}
				count++
			}
			if count != tt.wantCount || pages != tt.wantPages {
				t.Errorf("%d workspaces over %d pages, want %d over %d", count, pages, tt.wantCount, tt.wantPages)
			}
			var pe *apiclient.PagingError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want a paging error saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestListWorkspaceKeys_SendsWorkspaceID(t *testing.T) {
	f := newFakeServer(t)
	c, _ := f.client(t, nil)
	var names []string
	for k, err := range c.ListWorkspaceKeys(context.Background(), wsResearch) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, k.Name)
	}
	if strings.Join(names, ",") != "research-bot cus_RES002" {
		t.Errorf("keys %q", names)
	}
	want := "/api/v1/keys?include_disabled=true&offset=0&workspace_id=" + wsResearch
	if got := f.seen(); len(got) != 1 || got[0] != want {
		t.Errorf("requests %q, want %q", got, want)
	}
}

// TestUnlistedUsage_Property checks over generated activity that the unlisted rest never goes
// negative and that, per day and model, listed keys plus the unlisted rest bill exactly the account's
// spend, or the keys' own figures where they exceed it (with a warning).
func TestUnlistedUsage_Property(t *testing.T) {
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-31")}
	models := []string{"a/x", "b/y", "c/z"}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		row := func(d usage.Day, model string, usd ledger.Money, tokens int64) ActivityItem {
			return ActivityItem{Date: d.String(), Model: model, Usage: USD(usd), Requests: tokens / 100, PromptTokens: tokens, CompletionTokens: tokens / 10}
		}
		sums := map[usageKey]*usage.UsageRecord{}
		var account []ActivityItem
		type dm struct {
			d usage.Day
			m string
		}
		listed, total := map[dm]ledger.Money{}, map[dm]ledger.Money{}
		for n := rng.IntN(20); n > 0; n-- {
			d := w.From + usage.Day(rng.IntN(w.Days()+2)) - 1 // now and then outside the window
			m := models[rng.IntN(len(models))]
			keySpend := ledger.Money(rng.Int64N(5_000_000_000))
			rest := ledger.Money(rng.Int64N(3_000_000_000))
			if rng.IntN(5) == 0 {
				rest = -keySpend / 2 // the keys' reads ran ahead of the account's
			}
			tokens := rng.Int64N(1_000_000)
			if rng.IntN(4) > 0 { // some spend only the account sees
				key := keyRef(fmt.Sprintf("%064d", rng.IntN(3)))
				if err := addActivity(sums, w, key, []ActivityItem{row(d, m, keySpend, tokens)}); err != nil {
					t.Fatal(err)
				}
				if w.Contains(d) {
					listed[dm{d, m}] += keySpend
				}
			} else {
				keySpend = 0
			}
			account = append(account, row(d, m, keySpend+rest, tokens+rng.Int64N(1000)))
			if w.Contains(d) {
				total[dm{d, m}] += keySpend + rest
			}
		}
		out, warnings, err := unlistedUsage(w, sums, account)
		if err != nil {
			t.Fatal(err)
		}
		unlisted := map[dm]ledger.Money{}
		for _, r := range out {
			if r.Billed < 0 || r.Tokens.Input < 0 || r.Tokens.Output < 0 || r.Requests < 0 || r.Key.Ref() != usage.OpenRouterUnlisted || !w.Contains(r.Day) {
				t.Fatalf("seed %d: unlisted record %+v", seed, r)
			}
			unlisted[dm{r.Day, r.Model.String()}] += r.Billed
		}
		over := false
		for k, acct := range total {
			if got, want := listed[k]+unlisted[k], max(listed[k], acct); got != want {
				t.Errorf("seed %d %s %s: listed %s + unlisted %s = %s, want %s (account %s)", seed, k.d, k.m, listed[k], unlisted[k], got, want, acct)
			}
			over = over || listed[k] > acct
		}
		if over != (len(warnings) > 0) {
			t.Errorf("seed %d: warnings %q, listed keys over the account: %v", seed, warnings, over)
		}
	}
}
