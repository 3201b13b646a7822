// Package exporter is Margin's Prometheus front end: a poller that re-reads the providers and
// Stripe through the engine on an interval, persisted counter state that turns recomputed daily
// buckets into counters that never decrease, and an exposition that serves the current snapshot
// (DESIGN.md §4.3). It holds no provider or money logic of its own: that is internal/engine's.
package exporter

import (
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marginhq/margin/internal/ledger"
)

// staleness is appended to every business metric's HELP: the values come from polling, not from
// the scrape, and the providers settle their numbers over days.
const staleness = " Polled from the provider APIs every poll_interval (default 5m), so up to one poll interval old; the last trailing_days days (default 3) are re-read and revised."

// Help texts of the business metrics, shared by the exposition and the backfill file.
const (
	costHelp        = "LLM spend in USD: the providers' billed cost, or the price-catalog estimate where no bill exists yet (today)." + staleness
	adjustmentsHelp = "Downward restatements of LLM spend in USD (an estimate replaced by a lower bill, a provider revision); net cost = margin_llm_cost_usd_total - this." + staleness
	tokensHelp      = "LLM tokens by class; reasoning tokens are a subset of output. Counts only increases: a downward revision is not subtracted." + staleness
	requestsHelp    = "LLM requests (model calls). Counts only increases." + staleness
	unpricedHelp    = "Tokens the price catalog has no price for and no bill covered: spend the cost counter cannot show. Counts only increases." + staleness
	revenueHelp     = "Recognised revenue in USD from finalized Stripe invoices, net of discounts, excluding tax, spread over each service period and counted as each day begins. Counts only increases: a later credit note shows in the month-to-date gauge." + staleness
	costMTDHelp     = "LLM spend in USD in the current UTC month so far, today's estimate included." + staleness
	revenueMTDHelp  = "Recognised revenue in USD in the current UTC month so far, through today, net of credit notes." + staleness
	infoHelp        = "A Stripe customer's name and plan, always 1; join on customer_id." + staleness
	projectedHelp   = "Projected revenue in USD for the current UTC month: recognised from invoices already issued (on all of the month's days) plus what the active Stripe subscriptions will still invoice for the month at their recurring price (renewals, discounts, trials, cancellations and paused collection applied; metered prices from the usage reported so far)." + staleness
)

// family is one business metric: its name, HELP, type and label names. Money families hold
// nano-dollars in their samples and become USD only when exposed.
type family struct {
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	money  bool
}

func newFamily(name, help string, typ prometheus.ValueType, money bool, labels ...string) *family {
	return &family{name: name, help: help, typ: typ, labels: labels, money: money}
}

// Labels chooses the label sets of the per-customer cost, token and request series.
type Labels struct {
	// DropModel removes the model label (drop_model_label: true).
	DropModel bool
	// Feature adds the feature label (feature_label: true): the product feature the source
	// serves, engine.UnassignedFeature for sources no feature mapping names.
	Feature bool
}

// families are the business metrics of one label choice, in exposition order.
type families struct {
	labels                                Labels
	cost, adjust, tokens, requests        *family
	unpriced, revenue, costMTD, revenueMT *family
	projected, info                       *family
}

func newFamilies(l Labels) *families {
	perCustomer := []string{"provider"}
	if !l.DropModel {
		perCustomer = append(perCustomer, "model")
	}
	perCustomer = append(perCustomer, "customer_id")
	if l.Feature {
		perCustomer = append(perCustomer, "feature")
	}
	withType := append(slices.Clip(perCustomer), "token_type")
	return &families{
		labels:    l,
		cost:      newFamily("margin_llm_cost_usd_total", costHelp, prometheus.CounterValue, true, perCustomer...),
		adjust:    newFamily("margin_llm_cost_adjustments_usd_total", adjustmentsHelp, prometheus.CounterValue, true, "provider", "customer_id"),
		tokens:    newFamily("margin_llm_tokens_total", tokensHelp, prometheus.CounterValue, false, withType...),
		requests:  newFamily("margin_llm_requests_total", requestsHelp, prometheus.CounterValue, false, perCustomer...),
		unpriced:  newFamily("margin_llm_unpriced_tokens_total", unpricedHelp, prometheus.CounterValue, false, "provider", "model", "token_type"),
		revenue:   newFamily("margin_revenue_usd_total", revenueHelp, prometheus.CounterValue, true, "customer_id"),
		costMTD:   newFamily("margin_customer_cost_month_to_date_usd", costMTDHelp, prometheus.GaugeValue, true, "customer_id"),
		revenueMT: newFamily("margin_customer_revenue_month_to_date_usd", revenueMTDHelp, prometheus.GaugeValue, true, "customer_id"),
		info:      newFamily("margin_customer_info", infoHelp, prometheus.GaugeValue, false, "customer_id", "name", "plan"),
		projected: newFamily("margin_customer_revenue_projected_month_end_usd", projectedHelp, prometheus.GaugeValue, true, "customer_id"),
	}
}

func (f *families) all() []*family {
	return []*family{f.cost, f.adjust, f.tokens, f.requests, f.unpriced, f.revenue, f.costMTD, f.revenueMT, f.projected, f.info}
}

var (
	sourceUpDesc = prometheus.NewDesc("margin_source_up",
		"Whether the last poll of the source succeeded (1) or failed (0); a failed source keeps its last good data.",
		[]string{"source"}, nil)
	sourceLastSuccessDesc = prometheus.NewDesc("margin_source_last_success_timestamp_seconds",
		"Unix time of the source's last successful poll; 0 before the first.",
		[]string{"source"}, nil)
	sourceDurationDesc = prometheus.NewDesc("margin_source_poll_duration_seconds",
		"How long the source's last poll took, in seconds.",
		[]string{"source"}, nil)
	stateRecoveredDesc = prometheus.NewDesc("margin_state_recovered",
		"1 when this process started from the previous generation of the state file because the newest was missing or unusable, else 0.",
		nil, nil)
)

// sample is one series of a snapshot: label values in the family's order, and the exact value:
// nano-dollars for money families, a count otherwise.
type sample struct {
	labels []string
	n      int64
}

func (f *family) value(n int64) float64 {
	if f.money {
		return ledger.Money(n).Float64()
	}
	return float64(n)
}

// SourceStatus is one source's health after the last poll.
type SourceStatus struct {
	Source      string
	Up          bool
	LastSuccess float64 // Unix seconds; 0 before the first success
	Duration    float64 // seconds
}

// series are one family's samples in a snapshot.
type series struct {
	fam     *family
	samples []sample
}

// Snapshot is everything one scrape exposes. It is built by a poll and never changed after.
type Snapshot struct {
	business []series // in exposition order
	sources  []SourceStatus
	// stateRecovered: the state came from the state file's previous generation.
	stateRecovered bool
	rendered       [2]rendering // the business families as text and OpenMetrics, for Exposition
}

// Collector holds the snapshot scrapes expose; a scrape never waits for a poll and never sees
// half of one. The business families are written by Exposition (textformat.go), the operational
// ones by the registry Health is registered with.
type Collector struct {
	fams *families
	snap atomic.Pointer[Snapshot]
	// openMetrics: the last scrape negotiated OpenMetrics, so the next poll prepares that format.
	openMetrics atomic.Bool
	// afterScrape, when set (before the first scrape), is called at the end of every scrape.
	afterScrape func()
}

// newCollector returns a collector exposing nothing until the first Set. The label choice is made
// once: a registry rejects one name with two label sets.
func newCollector(l Labels) *Collector { return &Collector{fams: newFamilies(l)} }

// Set makes s the snapshot later scrapes expose.
func (c *Collector) Set(s *Snapshot) { c.snap.Store(s) }

// scraped records the format a scrape asked for.
func (c *Collector) scraped(tf textFormat) { c.openMetrics.Store(tf.openMetrics) }

// format is the format the scrapers last asked for: the one a poll prepares.
func (c *Collector) format() textFormat {
	if c.openMetrics.Load() {
		return formatOpenMetrics
	}
	return formatText
}

// Health is the collector of the margin_source_* and margin_state_recovered metrics alone, for
// the operational registry of an Exposition.
func (c *Collector) Health() prometheus.Collector { return healthCollector{c} }

type healthCollector struct{ c *Collector }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceUpDesc
	ch <- sourceLastSuccessDesc
	ch <- sourceDurationDesc
	ch <- stateRecoveredDesc
}

// Collect emits the operational metrics of the current snapshot: source health and state
// recovery. Samples carry no timestamp: Prometheus stamps them at the scrape.
func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	s := h.c.snap.Load()
	if s == nil {
		return
	}
	for _, st := range s.sources {
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, up, st.Source)
		ch <- prometheus.MustNewConstMetric(sourceLastSuccessDesc, prometheus.GaugeValue, st.LastSuccess, st.Source)
		ch <- prometheus.MustNewConstMetric(sourceDurationDesc, prometheus.GaugeValue, st.Duration, st.Source)
	}
	recovered := 0.0
	if s.stateRecovered {
		recovered = 1
	}
	ch <- prometheus.MustNewConstMetric(stateRecoveredDesc, prometheus.GaugeValue, recovered)
}
