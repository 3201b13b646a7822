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
	"strings"
	"sync"
	"time"

	"github.com/marginhq/margin/internal/ledger"
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

// World is the simulated company. It is immutable after New except for the failure switches
// (and the pages' scratch space, which holds no state of the world).
type World struct {
	cfg   Config
	now   time.Time
	today usage.Day
	first usage.Day // first day with usage

	customers []*customer
	sources   []*source
	streams   []*stream
	streamsOf map[*source][]*stream // each source's streams, in the order of streams

	// Indexes by provider, in creation order.
	openaiProjects []*project
	workspaces     []*workspace   // Anthropic, default workspace excluded
	orKeys         []*source      // listed keys, every workspace; deleted keys are not
	orWorkspaces   []*orWorkspace // OpenRouter, default workspace excluded

	// Reused between requests by the OpenAI usage and cost pages.
	usageScratch scratches[usageIDKey, openaiUsageRow]
	costScratch  scratches[costIDKey, openaiCostRow]

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
	w.streamsOf = map[*source][]*stream{}
	for _, st := range w.streams {
		w.streamsOf[st.src] = append(w.streamsOf[st.src], st)
	}
	w.numberCostTexts()
	w.buildStripe()
	return w
}

// Now returns the world's clock.
func (w *World) Now() time.Time { return w.now }

// BaseURLs returns the base URL of each fake when the Handler is served at root.
func BaseURLs(root string) (openai, anthropic, openrouter, stripe string) {
	return root + "/openai/v1", root + "/anthropic", root + "/openrouter/api/v1", root + "/stripe"
}

// FXRates returns the demo company's exchange rates into USD, as its config's fx_rates block
// gives them (its Stripe customers pay in eur and gbp too).
func FXRates() map[string]ledger.Rate {
	return map[string]ledger.Rate{"eur": 1_080_000_000, "gbp": 1_270_000_000}
}

// ConfigCustomers returns the world's config customers block: the sources its founder maps to a
// Stripe customer by hand (those no Stripe metadata or naming convention resolves).
func (w *World) ConfigCustomers() map[string][]usage.SourceRef {
	customers := make(map[string][]usage.SourceRef, len(w.configMap))
	for id, refs := range w.configMap {
		customers[id] = append([]usage.SourceRef(nil), refs...)
	}
	return customers
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
	unlisted := map[usage.SourceRef]bool{}
	for _, s := range w.sources {
		if s.deletedFrom != 0 {
			unlisted[s.ref()] = true // a deleted key: nobody can see it to map it
		}
	}
	m := map[usage.SourceRef]string{}
	for _, s := range w.sources {
		ref := s.ref()
		if strings.Contains(string(ref), ":workspace:") || strings.Contains(string(ref), ":project:") || unlisted[ref] {
			continue
		}
		owner, owned := w.owner[ref]
		switch {
		case !owned || owner < 0 || owner == w.underwater:
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
