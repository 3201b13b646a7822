// Package simulator is a deterministic fake AI-SaaS company served through faithful fakes of the four
// APIs Margin reads: the OpenAI admin usage/cost API, the Anthropic Admin API, the OpenRouter
// management API and Stripe. It backs demo mode, `margin simulate` and end-to-end tests, and exposes
// the ground truth (billed totals, true owners) those tests compare against.
//
// Everything is derived from (Seed, Now) by hashing, never from global randomness or map order, so
// two worlds built from the same Config serve byte-identical responses. Money is ledger.Money
// throughout; amounts are written to JSON from their exact decimal text.
package simulator

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// The only credentials the fakes accept. Each fake rejects anything else with its provider's own
// 401 envelope.
const (
	OpenAIAdminKey          = "sk-admin-demo-0000000000000000margin"
	AnthropicAdminKey       = "sk-ant-admin01-demo-000000000000margin"
	OpenRouterManagementKey = "sk-or-v1-demo-management-0000margin"
	StripeAPIKey            = "rk_test_demo0000000000000000margin"
)

// Config shapes the world. Zero values give the demo company.
type Config struct {
	Now  time.Time // the world's clock: usage exists up to Now; zero means time.Now() at New
	Seed uint64    // default 1

	Customers       int // default 40
	ExtraOpenAIKeys int // additional OpenAI keys spread over customers, for benchmarks
	ModelsPerKey    int // default 1-3 depending on the key; benchmarks use 10
	// Indent makes every fake answer with indented JSON (two spaces, as the real OpenAI and
	// Anthropic APIs send it): pages grow by about half, which is what a client must stream.
	Indent bool
}

// World is the simulated company. It is immutable after New except for the failure switches.
type World struct {
	cfg   Config
	now   time.Time
	today usage.Day
	first usage.Day // first day with usage

	customers []*customer
	sources   []*source
	streams   []*stream

	// Indexes by provider, in creation order.
	openaiProjects []*project
	workspaces     []*workspace   // Anthropic, default workspace excluded
	orKeys         []*source      // listed keys, every workspace; deleted keys are not
	orWorkspaces   []*orWorkspace // OpenRouter, default workspace excluded

	configMap map[string][]usage.SourceRef
	owner     map[usage.SourceRef]int // true owner (customer index) of every source reference

	spike, underwater int // customer indexes, -1 when the world is too small to have them

	stripe *stripeData

	mu      sync.Mutex
	failing map[string]int
}

// New builds the world for cfg.
func New(cfg Config) *World {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Now = cfg.Now.UTC().Truncate(time.Second)
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Customers <= 0 {
		cfg.Customers = 40
	}
	w := &World{
		cfg:     cfg,
		now:     cfg.Now,
		today:   usage.DayOf(cfg.Now),
		failing: map[string]int{},
	}
	w.first = w.today - historyDays
	w.buildCompany()
	w.buildStripe()
	return w
}

// Now returns the world's clock.
func (w *World) Now() time.Time { return w.now }

// BaseURLs returns the base URL of each fake when the Handler is served at root.
func BaseURLs(root string) (openai, anthropic, openrouter, stripe string) {
	return root + "/openai/v1", root + "/anthropic", root + "/openrouter/api/v1", root + "/stripe"
}

// EngineOptions returns complete engine options for the world served at root: the four sources
// with the demo keys, the demo FX rates, the config-mapped customers and the world's clock.
func (w *World) EngineOptions(root string, client *http.Client) engine.Options {
	oa, an, or, st := BaseURLs(root)
	customers := make(map[string][]usage.SourceRef, len(w.configMap))
	for id, refs := range w.configMap {
		customers[id] = append([]usage.SourceRef(nil), refs...)
	}
	now := w.now
	return engine.Options{
		ReportingCurrency: "usd",
		BackfillDays:      31,
		OpenAI:            &engine.SourceOptions{Key: secret.String(OpenAIAdminKey), BaseURL: oa},
		Anthropic:         &engine.SourceOptions{Key: secret.String(AnthropicAdminKey), BaseURL: an},
		OpenRouter:        &engine.SourceOptions{Key: secret.String(OpenRouterManagementKey), BaseURL: or},
		Stripe:            &engine.SourceOptions{Key: secret.String(StripeAPIKey), BaseURL: st},
		FXRates:           map[string]ledger.Rate{"eur": 1_080_000_000, "gbp": 1_270_000_000},
		Customers:         customers,
		Features:          w.Features(),
		HTTPClient:        client,
		Now:               func() time.Time { return now },
	}
}

// CustomerOf returns the Stripe customer that truly owns the source ("" for internal or unmapped
// sources). Workspace and project references resolve to the customer that owns the whole container.
func (w *World) CustomerOf(ref usage.SourceRef) string {
	if i, ok := w.owner[ref]; ok && i >= 0 {
		return w.customers[i].id
	}
	return ""
}

// SpikeCustomer returns the customer whose usage jumps over the last days ("" if none).
func (w *World) SpikeCustomer() string { return w.customerID(w.spike) }

// UnderwaterCustomer returns the starter customer whose LLM cost exceeds its revenue ("" if none).
func (w *World) UnderwaterCustomer() string { return w.customerID(w.underwater) }

func (w *World) customerID(i int) string {
	if i < 0 {
		return ""
	}
	return w.customers[i].id
}

// Customers lists the Stripe customer ids in creation order.
func (w *World) Customers() []string {
	ids := make([]string, len(w.customers))
	for i, c := range w.customers {
		ids[i] = c.id
	}
	return ids
}

// The product features of the demo company. Agent runs are the expensive one: the internal evals
// and the underwater customer run on it, so it loses money.
const (
	FeatureChat       = "chat"
	FeatureSummarizer = "summarizer"
	FeatureSearch     = "search"
	FeatureAgent      = "agent"
)

// Features maps each source to the product feature it serves, as a founder would write it in the
// config's features block: OpenAI keys serve chat, Anthropic keys the summarizer, OpenRouter keys
// search; internal keys and the underwater customer's keys run the agent. Workspace-level Workbench
// usage stays unassigned.
func (w *World) Features() map[usage.SourceRef]string {
	m := map[usage.SourceRef]string{}
	under := w.UnderwaterCustomer()
	unlisted := map[usage.SourceRef]bool{}
	for _, ref := range w.UnlistedSources() {
		unlisted[ref] = true // a deleted key: nobody can see it to map it
	}
	for _, ref := range w.Sources() {
		if strings.Contains(string(ref), ":workspace:") || strings.Contains(string(ref), ":project:") || unlisted[ref] {
			continue
		}
		owner := w.CustomerOf(ref)
		switch {
		case owner == "" || owner == under:
			m[ref] = FeatureAgent
		case ref.Provider() == usage.OpenAI:
			m[ref] = FeatureChat
		case ref.Provider() == usage.Anthropic:
			m[ref] = FeatureSummarizer
		default:
			m[ref] = FeatureSearch
		}
	}
	return m
}

// Sources lists every source reference that carries usage, in creation order.
func (w *World) Sources() []usage.SourceRef {
	var refs []usage.SourceRef
	seen := map[usage.SourceRef]bool{}
	for _, s := range w.sources {
		if r := s.ref(); !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs
}

// BilledTotal returns what the provider's cost API bills for day d: OpenAI costs (today's partial
// day included), Anthropic cost_report and OpenRouter activity (complete days only; zero for today).
func (w *World) BilledTotal(p usage.Provider, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.provider == p {
			total += w.billedStream(st, d)
		}
	}
	return total
}

// SourceBilled returns what the provider bills for one source's usage on day d, at the source's
// own grain; the sum over every source of a provider equals BilledTotal.
func (w *World) SourceBilled(ref usage.SourceRef, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.ref() == ref {
			total += w.billedStream(st, d)
		}
	}
	return total
}

// BilledModelTotal is BilledTotal without the charges that name no model (tool calls): what
// token usage alone can be priced at.
func (w *World) BilledModelTotal(p usage.Provider, d usage.Day) ledger.Money {
	var total ledger.Money
	for _, st := range w.streams {
		if st.src.provider == p {
			total += w.billedStreamWhere(st, d, func(ci costItem) bool { return ci.hasModel })
		}
	}
	return total
}

func (w *World) billedStream(st *stream, d usage.Day) ledger.Money {
	return w.billedStreamWhere(st, d, func(costItem) bool { return true })
}

func (w *World) billedStreamWhere(st *stream, d usage.Day, keep func(costItem) bool) ledger.Money {
	if st.src.provider != usage.OpenAI && d >= w.today || st.src.provider == usage.Anthropic && st.priority {
		return 0 // Anthropic Priority Tier is billed outside the cost report
	}
	end := int64(secondsPerDay)
	if d == w.today {
		end = w.nowOffset()
	}
	u := w.usageIn(st, d, 0, end)
	var total ledger.Money
	st.costItems(u, func(ci costItem) {
		if keep(ci) {
			total += ci.amount
		}
	})
	return total
}

// SetFailing makes one API ("openai", "anthropic", "openrouter" or "stripe") answer every request
// with status (a 429 carries Retry-After: 1) until SetFailing(p, 0). Safe for concurrent use.
func (w *World) SetFailing(p string, status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if status == 0 {
		delete(w.failing, p)
		return
	}
	w.failing[p] = status
}

func (w *World) failure(p string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failing[p]
}

// nowOffset is the number of seconds of today that have elapsed.
func (w *World) nowOffset() int64 { return w.now.Unix() - int64(w.today)*secondsPerDay }
