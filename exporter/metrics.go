// Package exporter is Margin's Prometheus front end: a poller that re-reads the providers and
// Stripe through the engine on an interval, persisted counter state that turns recomputed daily
// buckets into counters that never decrease, and a collector that exposes the current snapshot
// (DESIGN.md §4.3). It holds no provider or money logic of its own: that is internal/engine's.
package exporter

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// staleness is appended to every business metric's HELP: the values come from polling, not from
// the scrape, and the providers settle their numbers over days.
const staleness = " Polled from the provider APIs every poll_interval (default 5m), so up to one poll interval old; the last trailing_days days (default 3) are re-read and revised."

var (
	customerLabels = []string{"provider", "model", "customer_id"}
	// Per-customer series without the model label, for drop_model_label: true.
	customerLabelsNoModel = []string{"provider", "customer_id"}

	costDesc = prometheus.NewDesc("margin_llm_cost_usd_total",
		"LLM spend in USD: the providers' billed cost, or the price-catalog estimate where no bill exists yet (today)."+staleness,
		customerLabels, nil)
	costNoModelDesc = prometheus.NewDesc("margin_llm_cost_usd_total",
		"LLM spend in USD: the providers' billed cost, or the price-catalog estimate where no bill exists yet (today)."+staleness,
		customerLabelsNoModel, nil)
	adjustmentsDesc = prometheus.NewDesc("margin_llm_cost_adjustments_usd_total",
		"Downward restatements of LLM spend in USD (an estimate replaced by a lower bill, a provider revision); net cost = margin_llm_cost_usd_total - this."+staleness,
		[]string{"provider", "customer_id"}, nil)
	tokensDesc = prometheus.NewDesc("margin_llm_tokens_total",
		"LLM tokens by class; reasoning tokens are a subset of output. Counts only increases: a downward revision is not subtracted."+staleness,
		[]string{"provider", "model", "customer_id", "token_type"}, nil)
	tokensNoModelDesc = prometheus.NewDesc("margin_llm_tokens_total",
		"LLM tokens by class; reasoning tokens are a subset of output. Counts only increases: a downward revision is not subtracted."+staleness,
		[]string{"provider", "customer_id", "token_type"}, nil)
	requestsDesc = prometheus.NewDesc("margin_llm_requests_total",
		"LLM requests (model calls). Counts only increases."+staleness,
		customerLabels, nil)
	requestsNoModelDesc = prometheus.NewDesc("margin_llm_requests_total",
		"LLM requests (model calls). Counts only increases."+staleness,
		customerLabelsNoModel, nil)
	unpricedDesc = prometheus.NewDesc("margin_llm_unpriced_tokens_total",
		"Tokens the price catalog has no price for and no bill covered: spend the cost counter cannot show. Counts only increases."+staleness,
		[]string{"provider", "model", "token_type"}, nil)
	revenueDesc = prometheus.NewDesc("margin_revenue_usd_total",
		"Recognised revenue in USD from finalized Stripe invoices, net of discounts, excluding tax, spread over each service period and counted as each day begins. Counts only increases: a later credit note shows in the month-to-date gauge."+staleness,
		[]string{"customer_id"}, nil)
	costMTDDesc = prometheus.NewDesc("margin_customer_cost_month_to_date_usd",
		"LLM spend in USD in the current UTC month so far, today's estimate included."+staleness,
		[]string{"customer_id"}, nil)
	revenueMTDDesc = prometheus.NewDesc("margin_customer_revenue_month_to_date_usd",
		"Recognised revenue in USD in the current UTC month so far, through today, net of credit notes."+staleness,
		[]string{"customer_id"}, nil)
	customerInfoDesc = prometheus.NewDesc("margin_customer_info",
		"A Stripe customer's name and plan, always 1; join on customer_id."+staleness,
		[]string{"customer_id", "name", "plan"}, nil)

	sourceUpDesc = prometheus.NewDesc("margin_source_up",
		"Whether the last poll of the source succeeded (1) or failed (0); a failed source keeps its last good data.",
		[]string{"source"}, nil)
	sourceLastSuccessDesc = prometheus.NewDesc("margin_source_last_success_timestamp_seconds",
		"Unix time of the source's last successful poll; 0 before the first.",
		[]string{"source"}, nil)
	sourceDurationDesc = prometheus.NewDesc("margin_source_poll_duration_seconds",
		"How long the source's last poll took, in seconds.",
		[]string{"source"}, nil)
)

// sample is one series of a snapshot: label values in the Desc's order, and the value.
type sample struct {
	labels []string
	value  float64
}

// SourceStatus is one source's health after the last poll.
type SourceStatus struct {
	Source      string
	Up          bool
	LastSuccess float64 // Unix seconds; 0 before the first success
	Duration    float64 // seconds
}

// Snapshot is everything one scrape exposes. It is built by a poll and never changed after.
type Snapshot struct {
	cost       []sample
	adjust     []sample
	tokens     []sample
	requests   []sample
	unpriced   []sample
	revenue    []sample
	costMTD    []sample
	revenueMTD []sample
	info       []sample
	sources    []SourceStatus
}

// Collector exposes the current snapshot as const metrics; it keeps no metric vectors, so a
// scrape never waits for a poll and never sees half of one.
type Collector struct {
	withModel bool
	snap      atomic.Pointer[Snapshot]
}

// NewCollector returns a collector exposing nothing until the first Set. withModel chooses the
// per-customer series' label set once: a registry rejects one name with two label sets.
func NewCollector(withModel bool) *Collector { return &Collector{withModel: withModel} }

// Set makes s the snapshot later scrapes expose.
func (c *Collector) Set(s *Snapshot) { c.snap.Store(s) }

// Describe sends every Desc the collector may emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	cost, tokens, requests := c.customerDescs()
	for _, d := range []*prometheus.Desc{cost, adjustmentsDesc, tokens, requests, unpricedDesc, revenueDesc,
		costMTDDesc, revenueMTDDesc, customerInfoDesc, sourceUpDesc, sourceLastSuccessDesc, sourceDurationDesc} {
		ch <- d
	}
}

func (c *Collector) customerDescs() (cost, tokens, requests *prometheus.Desc) {
	if c.withModel {
		return costDesc, tokensDesc, requestsDesc
	}
	return costNoModelDesc, tokensNoModelDesc, requestsNoModelDesc
}

// Collect emits the snapshot. Samples carry no timestamp: Prometheus stamps them at the scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap.Load()
	if s == nil {
		return
	}
	cost, tokens, requests := c.customerDescs()
	emit := func(d *prometheus.Desc, t prometheus.ValueType, samples []sample) {
		for _, x := range samples {
			ch <- prometheus.MustNewConstMetric(d, t, x.value, x.labels...)
		}
	}
	emit(cost, prometheus.CounterValue, s.cost)
	emit(adjustmentsDesc, prometheus.CounterValue, s.adjust)
	emit(tokens, prometheus.CounterValue, s.tokens)
	emit(requests, prometheus.CounterValue, s.requests)
	emit(unpricedDesc, prometheus.CounterValue, s.unpriced)
	emit(revenueDesc, prometheus.CounterValue, s.revenue)
	emit(costMTDDesc, prometheus.GaugeValue, s.costMTD)
	emit(revenueMTDDesc, prometheus.GaugeValue, s.revenueMTD)
	emit(customerInfoDesc, prometheus.GaugeValue, s.info)
	for _, st := range s.sources {
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, up, st.Source)
		ch <- prometheus.MustNewConstMetric(sourceLastSuccessDesc, prometheus.GaugeValue, st.LastSuccess, st.Source)
		ch <- prometheus.MustNewConstMetric(sourceDurationDesc, prometheus.GaugeValue, st.Duration, st.Source)
	}
}
