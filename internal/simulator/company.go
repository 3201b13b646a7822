package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

const (
	historyDays   = 35 // days of usage before today (today's partial day comes on top)
	secondsPerDay = 86400
	reportDays    = 31 // the window the unattributed share is calibrated over
)

type plan int

const (
	starter plan = iota
	growth
	enterprise
)

func (p plan) name() string { return [...]string{"Starter", "Growth", "Enterprise"}[p] }

// attrPath is how Margin is meant to discover a customer's sources.
type attrPath int

const (
	byConfig   attrPath = iota // the config's customers block (ConfigCustomers)
	byMetadata                 // the Stripe customer's margin_sources metadata
	byName                     // the provider-side key name contains the customer id
)

type customer struct {
	idx                  int
	id, name, email      string
	currency             string
	plan                 plan
	path                 attrPath
	created              time.Time
	anchorDay            int // billing anchor day of month, 1-28
	taxBps               int64
	taxInclusive         bool
	discountPct          int64
	marginPlan           string
	refs                 []usage.SourceRef // what the config or metadata lists for it
	upgrades, bigInvoice bool
	// Subscription shapes the month-end forecast must handle (stripe.go).
	yearly                   bool      // billed once a year
	trialEnd                 time.Time // a trial that ends on the 15th of now's month; zero: no trial
	cancelAtPeriodEnd        bool      // set to cancel when the current period ends
	metered                  bool      // a second, metered price billed in arrears
	spendMicros              int64     // weekday LLM spend target in micro-dollars
	sources                  []*source
	ownProject, ownWorkspace bool
}

type project struct {
	id, name  string
	created   time.Time
	archived  bool
	owner     int  // customer owning the whole project, -1 when shared or internal
	stringAmt bool // the costs API returns amount.value as a string for this project (trap 3)
	keys      []*source
}

type workspace struct {
	id, name string
	created  time.Time
	owner    int
}

type source struct {
	provider  usage.Provider
	id        string // key_…, apikey_…, 64-hex hash; "" for Anthropic Workbench traffic
	name      string
	project   *project   // OpenAI
	workspace *workspace // Anthropic; nil is the default workspace
	owner     int        // customer index, -1 internal or unmapped
	created   time.Time
	disabled  bool
	// orWorkspace is the OpenRouter workspace of a key; nil is the default workspace.
	orWorkspace *orWorkspace
	// deletedFrom is the first day an OpenRouter key no longer exists (0: never deleted): it has
	// no usage from then on, and no key listing shows it.
	deletedFrom usage.Day
	// ownerInactive marks an OpenAI key whose owner lost access to its project: the key list
	// shows it only when asked with owner_project_access=any (or inactive).
	ownerInactive bool
}

func (s *source) ref() usage.SourceRef {
	switch s.provider {
	case usage.OpenAI:
		return usage.Ref(usage.OpenAI, usage.KindAPIKey, s.id)
	case usage.Anthropic:
		if s.id == "" {
			return workspaceRef(s.workspace)
		}
		return usage.Ref(usage.Anthropic, usage.KindAPIKey, s.id)
	default:
		return usage.Ref(usage.OpenRouter, usage.KindKey, s.id)
	}
}

func workspaceRef(ws *workspace) usage.SourceRef {
	if ws == nil {
		return usage.Ref(usage.Anthropic, usage.KindWorkspace, usage.DefaultWorkspaceID)
	}
	return usage.Ref(usage.Anthropic, usage.KindWorkspace, ws.id)
}

// workspaceID is the id the reports carry: "" (null) for the default workspace.
func (s *source) workspaceID() string {
	if s.workspace == nil {
		return ""
	}
	return s.workspace.id
}

type api int

const (
	apiCompletions api = iota
	apiEmbeddings
	apiMessages
	apiActivity
)

// tokenMix derives the other token classes from uncached input, per mille.
type tokenMix struct {
	cached, write5m, write1h, output int64
	reasoning                        int64 // per mille of output
	tokensPerRequest                 int64
	toolsPerKiloRequest              int64 // web search calls per 1,000 requests
}

type stream struct {
	src       *source
	api       api
	oa        *openaiModel
	an        *anthropicModel
	or        *openrouterModel
	batch     bool
	longCtx   bool
	priority  bool  // OpenAI priority processing (2× price) or Anthropic Priority Tier (never in the cost report)
	baseInput int64 // uncached input tokens on a plain weekday
	mix       tokenMix
	spike     bool
	hash      uint64
	lineItems [3]string // OpenAI line_item texts of input, cached input and output
	// ids number the OpenAI cost page's grouping texts (the project id, the key id, and the
	// line_item of each cost class), so a page indexes its rows by integers, not strings.
	ids costIDs
	// quoted are the same texts as JSON strings, quoted once ("" for none): a page writes them
	// on every row.
	quoted struct {
		project, key, model string
		lines               [4]string
	}
}

// costIDs are a stream's texts numbered by World.numberCostTexts: equal numbers, equal texts.
type costIDs struct {
	project, key int32
	lines        [4]int32 // by costItem class
	model        int32
}

// textIDBits bounds the numbers of costIDs, so three of them pack into one map key (idKey).
const textIDBits = 21

// idKey packs three text numbers (each below 1<<textIDBits) into a key that hashes as one
// integer: a large page looks one up per row.
func idKey(a, b, c int32) uint64 {
	return uint64(a)<<(2*textIDBits) | uint64(b)<<textIDBits | uint64(c) // #nosec G115 -- non-negative
}

// openaiWebSearchLine is the line_item of OpenAI's web search tool calls.
const openaiWebSearchLine = "web search tool calls"

// setLineItems precomputes the OpenAI line_item texts so billing allocates nothing per row.
func (st *stream) setLineItems() {
	if st.oa == nil {
		return
	}
	prefix, suffix := "", ""
	if st.priority {
		prefix = "priority | "
	}
	if st.longCtx {
		suffix = ", long context"
	}
	if st.batch {
		suffix += " (batch)"
	}
	st.lineItems = [3]string{prefix + st.oa.id + ", input" + suffix, prefix + st.oa.id + ", cached input" + suffix, prefix + st.oa.id + ", output" + suffix}
}

// anthropicTier is the service_tier the usage report gives the stream's rows.
func (st *stream) anthropicTier() string { return tierName(st.priority) }

func tierName(priority bool) string {
	if priority {
		return "priority"
	}
	return "standard"
}

func (st *stream) model() string {
	switch {
	case st.oa != nil:
		return st.oa.id
	case st.an != nil:
		return st.an.id
	default:
		return st.or.slug
	}
}

type dayUsage struct {
	input, cached, write5m, write1h, output, reasoning, requests, tools int64
}

// --- deterministic randomness ---

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (w *World) hash(parts ...string) uint64 {
	h := fnv.New64a()
	// hash.Hash writes never fail.
	_, _ = h.Write([]byte(strconv.FormatUint(w.cfg.Seed, 10)))
	for _, p := range parts {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(p))
	}
	return splitmix(h.Sum64())
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (w *World) id(prefix string, n int, parts ...string) string {
	h := w.hash(append([]string{prefix}, parts...)...)
	var b strings.Builder
	b.WriteString(prefix)
	var x uint64
	for i := 0; i < n; i++ {
		if i%10 == 0 { // a 64-bit value yields ten base62 digits; take fresh bits for the next ten
			x = splitmix(h + uint64(i))
		}
		b.WriteByte(base62[x%62])
		x /= 62
	}
	return b.String()
}

func (w *World) between(lo, hi int64, parts ...string) int64 {
	return lo + int64(w.hash(parts...)%uint64(hi-lo+1)) // #nosec G115 -- hi >= lo and the remainder is below hi-lo+1, so the sum stays within [lo, hi]
}

var companyNames = []string{
	"Acme Robotics", "Globex Analytics", "Initech Cloud", "Umbrella Health", "Hooli Search",
	"Stark Logistics", "Wayne Legal", "Wonka Foods", "Tyrell Bio", "Cyberdyne Systems",
	"Soylent Labs", "Vandelay Imports", "Pied Piper", "Aperture Research", "Black Mesa Data",
	"Oscorp Media", "Massive Dynamic", "Gringotts Finance", "Dunder Mifflin", "Prestige Worldwide",
	"Monarch Travel", "Nakatomi Trading", "Sterling Cooper", "Bluth Homes", "Wernham Hogg",
	"Los Pollos Tech", "Planet Express", "Krusty Kloud", "Duff Insights", "Ollivander Studio",
	"Frobozz Magic", "Zorg Industries", "Virtucon", "Spacely Sprockets", "Cogswell Cogs",
	"Rekall Memories", "Weyland Yutani", "Buy n Large", "Sirius Cybernetics", "Yoyodyne Propulsion",
}

func slug(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", "-"))
}

// --- the company ---

func (w *World) buildCompany() {
	n := w.cfg.Customers
	w.spike, w.underwater = -1, -1
	w.owner = map[usage.SourceRef]int{}
	w.configMap = map[string][]usage.SourceRef{}
	created := w.now.AddDate(0, -6, 0)

	for i := 0; i < n; i++ {
		name := companyNames[i%len(companyNames)]
		if i >= len(companyNames) {
			name += " " + strconv.Itoa(i/len(companyNames)+1)
		}
		c := &customer{
			idx:       i,
			id:        w.id("cus_", 14, "customer", strconv.Itoa(i)),
			name:      name,
			email:     "billing@" + strings.ReplaceAll(slug(name), "-", "") + ".example",
			currency:  "usd",
			path:      attrPath(i % 3),
			created:   created.Add(-time.Duration(w.between(0, 200*24, "created", strconv.Itoa(i))) * time.Hour),
			anchorDay: int(w.between(1, 28, "anchor", strconv.Itoa(i))),
		}
		switch i % 10 {
		case 6, 7, 8:
			c.plan = growth
			c.spendMicros = w.between(1_500_000, 4_000_000, "spend", c.id)
		case 9:
			c.plan = enterprise
			c.spendMicros = w.between(12_000_000, 25_000_000, "spend", c.id)
		default:
			c.plan = starter
			c.spendMicros = w.between(150_000, 500_000, "spend", c.id)
		}
		if i%5 == 1 {
			c.taxBps = 825 // US sales tax, exclusive
		}
		switch i {
		case 3:
			c.upgrades = true
		case 4:
			w.underwater = i
			c.spendMicros = 4_500_000 // ≈ $120 a month against $49 of revenue
		case 7:
			c.currency, c.taxBps = "eur", 2000
		case 8:
			w.spike = i
		case 12:
			c.currency, c.taxBps, c.taxInclusive = "eur", 1900, true
		case 16:
			c.currency, c.taxBps = "gbp", 2000
		case 18:
			c.discountPct = 20
		// The forecast's cases: renewals right after today, a yearly plan, a trial ending mid-month,
		// a subscription that cancels at period end (late in the month, so its month stays
		// profitable) and a metered price.
		case 2, 21:
			c.anchorDay = w.now.Day()%28 + 1
		case 10:
			c.yearly = true
			c.created = w.now.AddDate(-1, -2, 0)
		case 20:
			c.trialEnd = time.Date(w.now.Year(), w.now.Month(), 15, int(w.hash("anchor-hour", c.id)%24), 0, 0, 0, time.UTC)
			c.created, c.anchorDay = c.trialEnd.AddDate(0, 0, -30), 15
		case 26:
			c.cancelAtPeriodEnd, c.anchorDay = true, 28
		case 19:
			c.metered = true
		}
		w.customers = append(w.customers, c)
	}
	if w.spike >= 0 && w.customers[w.spike].plan != growth {
		w.spike = -1
	}

	production := &project{id: w.id("proj_", 24, "project", "production"), name: "production", created: created.AddDate(0, -3, 0), owner: -1}
	sandbox := &project{id: w.id("proj_", 24, "project", "sandbox"), name: "sandbox", created: created.AddDate(0, -3, 0), owner: -1}
	legacy := &project{id: w.id("proj_", 24, "project", "legacy"), name: "legacy-2024", created: created.AddDate(-1, 0, 0), archived: true, owner: -1}
	w.openaiProjects = []*project{production, sandbox, legacy}
	prodWS := &workspace{id: w.id("wrkspc_01", 22, "workspace", "production"), name: "Production", created: created.AddDate(0, -2, 0), owner: -1}
	internalWS := &workspace{id: w.id("wrkspc_01", 22, "workspace", "internal"), name: "Internal", created: created.AddDate(0, -2, 0), owner: -1}
	w.workspaces = []*workspace{prodWS, internalWS}

	// Enterprise A owns an OpenAI project mapped as a whole in the config; enterprise B owns an
	// Anthropic workspace listed in its Stripe metadata.
	entA, entB := -1, -1
	for _, c := range w.customers {
		if c.plan == enterprise && c.path == byConfig && entA < 0 {
			entA, c.ownProject = c.idx, true
		}
		if c.plan == enterprise && c.path == byMetadata && entB < 0 {
			entB, c.ownWorkspace, c.marginPlan = c.idx, true, "Enterprise"
		}
	}
	if entA >= 0 {
		w.customers[entA].bigInvoice = true // its latest invoice has more than 10 lines
	}

	var openaiKeys, anthropicKeys int
	for _, c := range w.customers {
		nsrc := 1 + int(w.hash("nsources", c.id)%3)
		if c.plan == enterprise {
			nsrc = 3
		}
		var entProject *project
		var entWS *workspace
		if c.ownProject {
			entProject = &project{id: w.id("proj_", 24, "project", c.id), name: slug(c.name), created: c.created, owner: c.idx, stringAmt: true}
			w.openaiProjects = append(w.openaiProjects, entProject)
			w.owner[usage.Ref(usage.OpenAI, usage.KindProject, entProject.id)] = c.idx
			w.configMap[c.id] = append(w.configMap[c.id], usage.Ref(usage.OpenAI, usage.KindProject, entProject.id))
		}
		if c.ownWorkspace {
			entWS = &workspace{id: w.id("wrkspc_01", 22, "workspace", c.id), name: c.name, created: c.created, owner: c.idx}
			w.workspaces = append(w.workspaces, entWS)
			w.owner[workspaceRef(entWS)] = c.idx
			c.refs = append(c.refs, workspaceRef(entWS))
		}
		for k := 0; k < nsrc; k++ {
			p := usage.Providers[(c.idx+k)%3]
			if k == 0 && c.ownProject {
				p = usage.OpenAI
			}
			if k == 0 && c.ownWorkspace {
				p = usage.Anthropic
			}
			s := &source{provider: p, owner: c.idx, created: c.created.Add(time.Duration(k) * time.Hour)}
			tag := strconv.Itoa(k)
			s.name = w.keyName(c, k)
			switch p {
			case usage.OpenAI:
				s.id = w.id("key_", 16, "openai-key", c.id, tag)
				s.project = production
				if entProject != nil {
					s.project = entProject
				}
				s.project.keys = append(s.project.keys, s)
			case usage.Anthropic:
				s.id = w.id("apikey_01", 22, "anthropic-key", c.id, tag)
				switch {
				case entWS != nil:
					s.workspace = entWS
				case w.hash("default-ws", c.id, tag)%2 == 0:
					s.workspace = nil
				default:
					s.workspace = prodWS
				}
			case usage.OpenRouter:
				s.id = w.orHash(c.id, tag)
				w.orKeys = append(w.orKeys, s)
			}
			c.sources = append(c.sources, s)
			w.sources = append(w.sources, s)
			w.owner[s.ref()] = c.idx
			// A key inside a container that is mapped as a whole needs no mapping of its own.
			if (s.project != nil && s.project == entProject) || (s.workspace != nil && s.workspace == entWS) {
				continue
			}
			c.refs = append(c.refs, s.ref())
		}
		spend := c.spendMicros / int64(len(c.sources))
		for k, s := range c.sources {
			spike := c.idx == w.spike && k == 0
			w.addStreams(s, spend, spike, &openaiKeys, &anthropicKeys, c.idx == entA && k == 0, c.idx == entB && k == 0)
		}
		switch c.path {
		case byConfig:
			w.configMap[c.id] = append(w.configMap[c.id], c.refs...)
		case byMetadata:
			// listed in Stripe metadata (stripe.go)
		case byName:
			// the key names carry the id (keyName)
		}
	}

	// Benchmark keys: more OpenAI keys in the production project, spread over the customers.
	for k := 0; k < w.cfg.ExtraOpenAIKeys; k++ {
		c := w.customers[k%len(w.customers)]
		tag := "extra-" + strconv.Itoa(k)
		s := &source{provider: usage.OpenAI, owner: c.idx, project: production, created: c.created,
			id: w.id("key_", 16, "openai-key", c.id, tag)}
		s.name = w.keyName(c, 100+k)
		production.keys = append(production.keys, s)
		w.sources = append(w.sources, s)
		w.owner[s.ref()] = c.idx
		c.sources = append(c.sources, s)
		switch c.path {
		case byConfig:
			w.configMap[c.id] = append(w.configMap[c.id], s.ref())
		case byMetadata:
			c.refs = append(c.refs, s.ref())
		}
		w.addStreams(s, w.between(50_000, 200_000, "extra-spend", tag), false, &openaiKeys, &anthropicKeys, false, false)
	}

	// Internal and unmapped traffic on every provider.
	internalStart := len(w.streams)
	for _, name := range []string{"staging", "evals", "internal-tools"} {
		s := &source{provider: usage.OpenAI, id: w.id("key_", 16, "openai-key", "internal", name), name: name, project: sandbox, owner: -1, created: sandbox.created}
		sandbox.keys = append(sandbox.keys, s)
		w.internal(s, 1_000_000, &openaiKeys, &anthropicKeys)
	}
	w.internal(&source{provider: usage.Anthropic, name: "Workbench", owner: -1, created: created}, 1_500_000, &openaiKeys, &anthropicKeys)
	w.internal(&source{provider: usage.Anthropic, id: w.id("apikey_01", 22, "anthropic-key", "internal", "evals"), name: "evals", workspace: internalWS, owner: -1, created: internalWS.created}, 1_000_000, &openaiKeys, &anthropicKeys)
	play := &source{provider: usage.OpenRouter, id: w.orHash("internal", "playground"), name: "internal-playground", owner: -1, created: created}
	w.orKeys = append(w.orKeys, play)
	w.internal(play, 1_000_000, &openaiKeys, &anthropicKeys)
	// A disabled key with no recent usage: listed only with include_disabled=true.
	w.orKeys = append(w.orKeys, &source{provider: usage.OpenRouter, id: w.orHash("internal", "old-prototype"), name: "old-prototype", owner: -1, created: created.AddDate(0, -2, 0), disabled: true})

	w.addCoverageShapes(created, &openaiKeys, &anthropicKeys)

	for _, ref := range []usage.SourceRef{
		usage.Ref(usage.OpenAI, usage.KindProject, production.id), usage.Ref(usage.OpenAI, usage.KindProject, sandbox.id),
		workspaceRef(prodWS), workspaceRef(internalWS), workspaceRef(nil),
	} {
		w.owner[ref] = -1
	}

	w.calibrateInternal(internalStart)
}

// keyName names a customer's k-th key so that only customers attributed by name carry their id.
func (w *World) keyName(c *customer, k int) string {
	suffix := [...]string{"prod", "backend", "worker"}[k%3]
	if k >= 3 {
		suffix += "-" + strconv.Itoa(k)
	}
	if c.path == byName {
		return suffix + "-" + c.id
	}
	return slug(c.name) + "-" + suffix
}

func (w *World) orHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strconv.FormatUint(w.cfg.Seed, 10) + "/openrouter/" + strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

func (w *World) internal(s *source, spendMicros int64, oaKeys, anKeys *int) {
	w.sources = append(w.sources, s)
	w.owner[s.ref()] = -1
	w.addStreams(s, spendMicros, false, oaKeys, anKeys, false, false)
}

// addStreams gives a source its models and splits its daily spend target over them.
func (w *World) addStreams(s *source, spendMicros int64, spike bool, oaKeys, anKeys *int, webSearchOpenAI, webSearchAnthropic bool) {
	tag := s.id + "/" + s.name
	type part struct {
		st     *stream
		weight int64
	}
	var parts []part
	add := func(st *stream, weight int64) {
		st.src, st.spike = s, spike
		st.setLineItems()
		st.hash = w.hash("stream", tag, st.model(), strconv.FormatBool(st.batch), strconv.FormatBool(st.longCtx), strconv.Itoa(int(st.api)))
		parts = append(parts, part{st, weight})
	}
	nmodels := func(available int) int {
		n := 1 + int(w.hash("nmodels", tag)%3)
		if w.cfg.ModelsPerKey > 0 {
			n = w.cfg.ModelsPerKey
		}
		return min(n, available)
	}
	switch s.provider {
	case usage.OpenAI:
		*oaKeys++
		pool := openaiModels[:5]
		if w.cfg.ModelsPerKey > 5 {
			pool = openaiModels
		}
		n := nmodels(len(pool))
		off := int(w.hash("model-offset", tag) % uint64(len(pool))) // #nosec G115 -- a remainder below len(pool)
		for k := 0; k < n; k++ {
			m := &pool[(off+k)%len(pool)]
			mix := tokenMix{cached: 300, output: 150, tokensPerRequest: 1500}
			if k == 0 && webSearchOpenAI {
				mix.toolsPerKiloRequest = 50
			}
			add(&stream{api: apiCompletions, oa: m, mix: mix}, 1000/int64(k+1))
			if k == 0 && *oaKeys%3 == 0 {
				add(&stream{api: apiCompletions, oa: m, batch: true, mix: tokenMix{output: 200, tokensPerRequest: 2500}}, 400)
			}
		}
		if *oaKeys%4 == 0 {
			add(&stream{api: apiEmbeddings, oa: &embeddingModel, mix: tokenMix{tokensPerRequest: 400}}, 60)
		}
		if *oaKeys%5 == 2 {
			// A model newer than the catalog, on priority processing with long prompts: billed as
			// "priority | gpt-5.6-sol, output, long context".
			add(&stream{api: apiCompletions, oa: &unknownModel, priority: true, longCtx: true, mix: tokenMix{cached: 200, output: 100, tokensPerRequest: 4000}}, 200)
		}
	case usage.Anthropic:
		*anKeys++
		n := nmodels(len(anthropicModels))
		off := int(w.hash("model-offset", tag) % uint64(len(anthropicModels))) // #nosec G115 -- a remainder below len(anthropicModels)
		if s.id == "" {
			off, n = 0, 1 // Workbench: people trying prompts on Sonnet
		}
		for k := 0; k < n; k++ {
			m := &anthropicModels[(off+k)%len(anthropicModels)]
			mix := tokenMix{cached: 1500, write5m: 60, output: 120, tokensPerRequest: 6000}
			if *anKeys%2 == 0 {
				mix.write1h = 20
			}
			if k == 0 && webSearchAnthropic {
				mix.toolsPerKiloRequest = 80
			}
			add(&stream{api: apiMessages, an: m, mix: mix}, 1000/int64(k+1))
			if m.longContext != nil && *anKeys%3 == 0 {
				add(&stream{api: apiMessages, an: m, longCtx: true, mix: tokenMix{cached: 500, write5m: 20, output: 30, tokensPerRequest: 300_000}}, 100)
			}
		}
		if s.owner < 0 && s.id != "" {
			// Internal evals run on Priority Tier: in the usage report, never in the cost report.
			add(&stream{api: apiMessages, an: &anthropicModels[0], priority: true, mix: tokenMix{output: 100, tokensPerRequest: 3000}}, 150)
		}
	case usage.OpenRouter:
		n := nmodels(len(openrouterModels))
		off := int(w.hash("model-offset", tag) % uint64(len(openrouterModels))) // #nosec G115 -- a remainder below len(openrouterModels)
		for k := 0; k < n; k++ {
			m := &openrouterModels[(off+k)%len(openrouterModels)]
			add(&stream{api: apiActivity, or: m, mix: tokenMix{output: 180, reasoning: m.reasoningPerMille, tokensPerRequest: 2000}}, 1000/int64(k+1))
		}
	}
	var total int64
	for _, p := range parts {
		total += p.weight
	}
	for _, p := range parts {
		share := spendMicros * p.weight / total
		p.st.baseInput = w.inputForSpend(p.st, share)
		w.streams = append(w.streams, p.st)
	}
}

// inputForSpend returns the daily uncached input that makes the stream cost about spendMicros.
func (w *World) inputForSpend(st *stream, spendMicros int64) int64 {
	const million = 1_000_000
	probe := dayUsage{input: million}
	st.derive(&probe)
	var cost ledger.Money
	st.costItems(probe, func(ci costItem) { cost += ci.amount })
	if cost <= 0 {
		return 0
	}
	return ledger.MustMulDiv(spendMicros*int64(ledger.Micro), million, int64(cost))
}

// derive fills the other token classes from u.input according to the stream's mix.
func (st *stream) derive(u *dayUsage) {
	m := st.mix
	u.cached = u.input * m.cached / 1000
	u.write5m = u.input * m.write5m / 1000
	u.write1h = u.input * m.write1h / 1000
	u.output = u.input * m.output / 1000
	u.reasoning = u.output * m.reasoning / 1000
	if u.input > 0 {
		u.requests = (u.input+u.cached+u.write5m+u.write1h)/m.tokensPerRequest + 1
	}
	u.tools = u.requests * m.toolsPerKiloRequest / 1000
}

// fullDay is the stream's full-day usage on day d: weekday shape, ±15% noise, and the spike.
// It is computed at each call, not kept per stream and day: that table (64 bytes × 36 days a
// stream) was half a megabyte of the demo world and 23 MB at 1,000 extra keys.
func (w *World) fullDay(st *stream, d usage.Day) dayUsage {
	r := splitmix(st.hash ^ uint64(d)*0x9e3779b97f4a7c15) // #nosec G115 -- hash mixing: only the bits matter
	shape := int64(1000)
	switch (int64(d) + 4) % 7 { // 1970-01-01 was a Thursday; 0 is Sunday
	case 6:
		shape = 550
	case 0:
		shape = 500
	}
	noise := 850 + int64(r%301)
	if st.spike && d >= w.today-2 {
		shape, noise = 8000, 950+int64(r%101)
	}
	u := dayUsage{input: ledger.MustMulDiv(st.baseInput, shape*noise, 1_000_000)}
	st.derive(&u)
	return u
}

// calibrateInternal scales the internal and unmapped streams (those from index start on) so that
// they carry about 20% of the spend billed over the report window.
func (w *World) calibrateInternal(start int) {
	var customers, internal ledger.Money
	for i, st := range w.streams {
		var c ledger.Money
		for d := w.today - reportDays; d < w.today; d++ {
			c += w.billedStream(st, d)
		}
		if i >= start {
			internal += c
		} else {
			customers += c
		}
	}
	if internal <= 0 {
		return
	}
	for _, st := range w.streams[start:] {
		st.baseInput = ledger.MustMulDiv(st.baseInput, int64(customers), 4*int64(internal))
	}
}

// numberCostTexts sets every OpenAI stream's ids: one number per distinct text (0 for "").
func (w *World) numberCostTexts() {
	ids := map[string]int32{"": 0}
	id := func(s string) int32 {
		n, ok := ids[s]
		if !ok {
			if len(ids) >= 1<<textIDBits {
				panic("simulator: too many distinct OpenAI texts to number")
			}
			n = int32(len(ids)) // #nosec G115 -- below 1<<textIDBits
			ids[s] = n
		}
		return n
	}
	for _, st := range w.streams {
		if st.src.provider != usage.OpenAI {
			continue
		}
		st.ids.key, st.quoted.key = id(st.src.id), jsonText(st.src.id)
		if st.src.project != nil {
			st.ids.project, st.quoted.project = id(st.src.project.id), jsonText(st.src.project.id)
		}
		if st.oa != nil {
			st.ids.model, st.quoted.model = id(st.oa.id), jsonText(st.oa.id)
		}
		lines := [4]string{3: openaiWebSearchLine} // by costItem class
		copy(lines[:], st.lineItems[:])
		for i, l := range lines {
			st.ids.lines[i], st.quoted.lines[i] = id(l), jsonText(l)
		}
	}
}

// --- usage over intervals ---

// hourWeights shape a day: quiet nights, busy UTC working hours.
var hourWeights = [24]int64{2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 10, 10, 9, 8, 7, 6, 5, 4, 4, 3, 2}

var cumHour = func() (c [25]int64) {
	for h := 0; h < 24; h++ {
		c[h+1] = c[h] + hourWeights[h]*3600
	}
	return c
}()

// cumWeight is the share of a day's weight before second o of the day.
func cumWeight(o int64) int64 {
	if o >= secondsPerDay {
		return cumHour[24]
	}
	if o <= 0 {
		return 0
	}
	h := o / 3600
	return cumHour[h] + hourWeights[h]*(o%3600)
}

// portion returns the part of a full-day amount f that falls in [o0, o1) seconds of the day. Portions
// of adjacent intervals add up to exactly f, whatever the bucketing.
func portion(f, o0, o1 int64) int64 {
	if o0 <= 0 && o1 >= secondsPerDay {
		return f
	}
	tot := cumHour[24]
	return ledger.MustMulDiv(f, cumWeight(o1), tot) - ledger.MustMulDiv(f, cumWeight(o0), tot)
}

// usageIn returns the stream's usage on day d between o0 and o1 seconds, never past the world's now.
func (w *World) usageIn(st *stream, d usage.Day, o0, o1 int64) dayUsage {
	if d < w.first || d > w.today || (st.src.deletedFrom != 0 && d >= st.src.deletedFrom) {
		return dayUsage{}
	}
	if d == w.today {
		o1 = min(o1, w.nowOffset())
	}
	if o1 <= o0 {
		return dayUsage{}
	}
	f := w.fullDay(st, d)
	if o0 <= 0 && o1 >= secondsPerDay {
		return f
	}
	return dayUsage{
		input:     portion(f.input, o0, o1),
		cached:    portion(f.cached, o0, o1),
		write5m:   portion(f.write5m, o0, o1),
		write1h:   portion(f.write1h, o0, o1),
		output:    portion(f.output, o0, o1),
		reasoning: portion(f.reasoning, o0, o1),
		requests:  portion(f.requests, o0, o1),
		tools:     portion(f.tools, o0, o1),
	}
}

// costItem is one billed line of a stream's usage.
type costItem struct {
	class     int    // index into the stream API's class table
	lineItem  string // OpenAI line_item text
	tokenType string // Anthropic token_type ("" for non-token costs)
	costType  string // Anthropic cost_type
	qty       int64
	unit      string // OpenAI quantity_unit ("" = null)
	amount    ledger.Money
	hasModel  bool
}

// costItems calls fn for every non-empty billed line of u.
func (st *stream) costItems(u dayUsage, fn func(costItem)) {
	emit := func(ci costItem) {
		if ci.qty != 0 {
			fn(ci)
		}
	}
	switch st.api {
	case apiCompletions:
		m := st.oa
		in, ca, out := m.input, m.cached, m.output
		if st.batch {
			in, ca, out = in/2, ca/2, out/2
		}
		if st.priority {
			in, ca, out = 2*in, 2*ca, 2*out
		}
		if st.longCtx { // long context: input 2×, output 1.5×
			in, ca, out = 2*in, 2*ca, out*3/2
		}
		emit(costItem{class: 0, lineItem: st.lineItems[0], qty: u.input, unit: "tokens", amount: priceTokens(u.input, in), hasModel: true})
		emit(costItem{class: 1, lineItem: st.lineItems[1], qty: u.cached, unit: "tokens", amount: priceTokens(u.cached, ca), hasModel: true})
		emit(costItem{class: 2, lineItem: st.lineItems[2], qty: u.output, unit: "tokens", amount: priceTokens(u.output, out), hasModel: true})
		emit(costItem{class: 3, lineItem: openaiWebSearchLine, qty: u.tools, amount: ledger.Money(u.tools) * openaiWebSearchPerCall})
	case apiEmbeddings:
		emit(costItem{class: 0, lineItem: st.lineItems[0], qty: u.input, unit: "tokens", amount: priceTokens(u.input, st.oa.input), hasModel: true})
	case apiMessages:
		p := st.an.standard
		if st.longCtx {
			p = *st.an.longContext
		}
		emit(costItem{class: 0, tokenType: "uncached_input_tokens", costType: "tokens", qty: u.input, amount: priceTokens(u.input, p.input), hasModel: true}) // #nosec G101 -- a token type name, not a credential
		emit(costItem{class: 1, tokenType: "output_tokens", costType: "tokens", qty: u.output, amount: priceTokens(u.output, p.output), hasModel: true})
		emit(costItem{class: 2, tokenType: "cache_read_input_tokens", costType: "tokens", qty: u.cached, amount: priceTokens(u.cached, p.cacheRead), hasModel: true})
		emit(costItem{class: 3, tokenType: "cache_creation.ephemeral_5m_input_tokens", costType: "tokens", qty: u.write5m, amount: priceTokens(u.write5m, p.write5m), hasModel: true})
		emit(costItem{class: 4, tokenType: "cache_creation.ephemeral_1h_input_tokens", costType: "tokens", qty: u.write1h, amount: priceTokens(u.write1h, p.write1h), hasModel: true})
		emit(costItem{class: 5, costType: "web_search", qty: u.tools, amount: ledger.Money(u.tools) * anthropicWebSearchPerRequest})
	case apiActivity:
		amt := priceTokens(u.input, st.or.prompt) + priceTokens(u.output, st.or.completion)
		emit(costItem{class: 0, qty: u.input + u.output, amount: amt, hasModel: true})
	}
}
