package exporter

import (
	"context"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// TestPoller_ProjectedRevenueGaugeIsTheForecasts checks margin_customer_revenue_projected_month_end_usd
// on the simulated world against `margin report`'s forecast (Engine.Report): the same projected
// revenue per customer, to the nano-dollar, so the Prometheus alert and the report agree. It also
// checks that the run-rate is really in it: some customer's projection exceeds what its invoices
// recognise this month.
func TestPoller_ProjectedRevenueGaugeIsTheForecasts(t *testing.T) {
	_, eng := simWorld(t)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Report(context.Background(), usage.Window{From: eng.Today() - 1, To: eng.Today()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ledger.Money{}
	var runRate bool
	for _, l := range rep.Forecast.Customers {
		want[l.CustomerID] = l.ProjectedRevenue
		runRate = runRate || l.RunRateRevenue > 0
	}
	if !runRate {
		t.Fatal("no customer in the world has a subscription run-rate this month")
	}
	var got map[string]ledger.Money
	for _, s := range p.collector.snap.Load().business {
		if s.fam.name != "margin_customer_revenue_projected_month_end_usd" {
			continue
		}
		got = map[string]ledger.Money{}
		for _, smp := range s.samples {
			got[smp.labels[0]] = ledger.Money(smp.n)
		}
	}
	if got == nil {
		t.Fatal("no margin_customer_revenue_projected_month_end_usd family")
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: gauge %s, the forecast projects %s", id, got[id], w)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok && g != 0 {
			t.Errorf("%s: gauge %s for a customer the forecast does not list", id, g)
		}
	}
}
