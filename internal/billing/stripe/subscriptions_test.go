package stripe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/revenue"
)

// TestSubscriptions_Facts reads testdata/subscriptions_forecast.json through the paging fake:
// discounts (legacy single and expanded list, percent and amount off), items beyond the embedded
// page, quantities, yearly EUR and two-weekly prices, trials, cancellation, paused collection,
// metered and tiered prices, and statuses that no longer invoice.
func TestSubscriptions_Facts(t *testing.T) {
	f, srv := newFakeStripe(t)
	var subs, items []json.RawMessage
	loadJSON(t, "subscriptions_forecast.json", &subs)
	loadJSON(t, "subscription_items.json", &items)
	f.fixtures["/v1/subscriptions"] = subs
	f.fixtures["/v1/subscription_items"] = items
	// The metered item's usage this period (newest summary first), then last period's, invoiced.
	f.fixtures["/v1/subscription_items/si_U_metered/usage_record_summaries"] = []json.RawMessage{
		json.RawMessage(`{"id":"sis_now","object":"usage_record_summary","invoice":null,"livemode":false,"period":{"start":1773100800,"end":null},"subscription_item":"si_U_metered","total_usage":5000}`),
		json.RawMessage(`{"id":"sis_old","object":"usage_record_summary","invoice":"in_U_feb","livemode":false,"period":{"start":1770681600,"end":1773100800},"subscription_item":"si_U_metered","total_usage":9000}`),
	}

	got, warnings, err := newTestClient(t, srv.URL, nil).Subscriptions(context.Background())
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	const (
		mar10 = 1773100800
		apr10 = 1775779200
		day   = 86400
	)
	eur := func(cents int64) ledger.Money { return ledger.Money(cents) * ledger.Cent * 108 / 100 }
	want := []revenue.Subscription{
		{ID: "sub_cancel", Customer: "cus_C", Status: "active", PeriodStart: mar10, PeriodEnd: apr10, CancelAt: apr10,
			CancelAtPeriodEnd: true, Paused: true, ResumesAt: apr10 + 30*day,
			Items: []revenue.SubscriptionItem{{ID: "si_C", PriceID: "price_week", Amount: 50 * ledger.Dollar, Interval: "week", IntervalCount: 2}}},
		{ID: "sub_monthly", Customer: "cus_M", Status: "active", PeriodStart: mar10, PeriodEnd: apr10,
			Discounts: []revenue.Discount{{ID: "di_M", PercentOff: 200_000_000}},
			Items: []revenue.SubscriptionItem{
				{ID: "si_M_base", PriceID: "price_base", Amount: ledger.Dollars(300), Interval: "month", IntervalCount: 1},
				{ID: "si_M_seats", PriceID: "price_seat", Amount: ledger.Dollars(30), Interval: "month", IntervalCount: 1},
			},
			Upcoming: ledger.Dollars(264)}, // its draft invoice; cus_Y's latest invoice is paid and counts through recognition
		{ID: "sub_trial", Customer: "cus_T", Status: "trialing", PeriodStart: mar10 - 4*day, PeriodEnd: mar10 + 14*day, TrialEnd: mar10 + 14*day,
			Items: []revenue.SubscriptionItem{{ID: "si_T", PriceID: "price_base", Amount: ledger.Dollars(300), Interval: "month", IntervalCount: 1}}},
		{ID: "sub_metered", Customer: "cus_U", Status: "active", PeriodStart: mar10, PeriodEnd: apr10,
			Items: []revenue.SubscriptionItem{
				{ID: "si_U_metered", PriceID: "price_calls", Interval: "month", IntervalCount: 1, Metered: true,
					UsageSoFar: ledger.Dollars(100), UsageAsOf: fakeNow.Unix()}, // 5000 calls at $0.02
				{ID: "si_U_tiered", PriceID: "price_tiered", Interval: "month", IntervalCount: 1, Unpriced: true},
			}},
		{ID: "sub_yearly", Customer: "cus_Y", Status: "past_due", PeriodStart: 1767225600, PeriodEnd: 1798761600,
			Discounts: []revenue.Discount{{ID: "di_Y", AmountOff: eur(5000), End: 1780272000}},
			Items:     []revenue.SubscriptionItem{{ID: "si_Y", PriceID: "price_year", Amount: eur(120000), Interval: "year", IntervalCount: 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("subscriptions:\n%s", gj)
	}
	for _, r := range f.requested("/v1/subscriptions") {
		for _, e := range []string{"expand[0]=data.discounts", "expand[1]=data.latest_invoice"} {
			if !strings.Contains(r, e) {
				t.Errorf("request %s lacks %s", r, e)
			}
		}
		if strings.Contains(r, "status=") {
			t.Errorf("request %s filters by status: the default list (all but canceled) is wanted", r)
		}
	}
	if r := f.requested("/v1/subscription_items?"); len(r) == 0 || !strings.Contains(r[0], "subscription=sub_monthly") {
		t.Errorf("items beyond the embedded page were not listed: %v", r)
	}
	if r := f.requested("/v1/subscription_items/si_U_metered/usage_record_summaries"); len(r) != 1 || !strings.Contains(r[0], "limit=1") {
		t.Errorf("usage summaries requested as %v, want one page of one", r)
	}
}

func TestSubscriptions_BadInputNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(sub map[string]any)
		want    string
		warning bool // the subscription is skipped with a warning rather than failing the read
	}{
		{"interval", func(s map[string]any) { firstPrice(s)["recurring"].(map[string]any)["interval"] = "fortnight" }, `recurring.interval "fortnight"`, true},
		{"period", func(s map[string]any) { s["current_period_end"] = s["current_period_start"] }, "current_period_end", true},
		{"currency", func(s map[string]any) { s["currency"] = "chf"; firstPrice(s)["currency"] = "chf" }, "fx_rates.chf", false},
		{"percent", func(s map[string]any) { s["discount"].(map[string]any)["coupon"].(map[string]any)["percent_off"] = 120 }, "coupon.percent_off 120", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeStripe(t)
			var subs []map[string]any
			loadJSON(t, "subscriptions_forecast.json", &subs)
			subs[0]["items"].(map[string]any)["has_more"] = false
			tc.edit(subs[0])
			b, _ := json.Marshal(subs[0])
			f.fixtures["/v1/subscriptions"] = []json.RawMessage{b}
			f.fixtures["/v1/subscription_items"] = []json.RawMessage{}
			got, warnings, err := newTestClient(t, srv.URL, nil).Subscriptions(context.Background())
			msg := fmt.Sprint(err)
			if tc.warning {
				if err != nil || len(got) != 0 || len(warnings) != 1 {
					t.Fatalf("got %v, warnings %q, err %v; want the subscription skipped with one warning", got, warnings, err)
				}
				msg = warnings[0]
			} else if err == nil {
				t.Fatalf("no error, want one naming sub_monthly and %q", tc.want)
			}
			if !strings.Contains(msg, "sub_monthly") || !strings.Contains(msg, tc.want) {
				t.Errorf("%q does not name sub_monthly and %q", msg, tc.want)
			}
		})
	}
}

func firstPrice(sub map[string]any) map[string]any {
	return sub["items"].(map[string]any)["data"].([]any)[0].(map[string]any)["price"].(map[string]any)
}

// TestSubscriptions_AgainstStripeMock checks that the subscription and subscription item listings
// are valid 2023-10-16 requests (expand included); stripe-mock answers with its fixture objects.
func TestSubscriptions_AgainstStripeMock(t *testing.T) {
	base := startStripeMock(t)
	c, err := New(Options{APIKey: "sk_test_123", BaseURL: base, HTTPClient: &http.Client{Timeout: 10 * time.Second},
		FXRates: map[string]ledger.Rate{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// stripe-mock's fixture subscription has an empty current period: skipped, with a warning.
	if _, warnings, err := c.Subscriptions(ctx); err != nil || len(warnings) != 1 {
		t.Fatalf("Subscriptions: %v, warnings %q", err, warnings)
	}
	sub := &apiSubscription{ID: "sub_mock", Currency: "usd", Items: &apiList[apiSubscriptionItem]{ListMeta: stripego.ListMeta{HasMore: true}}}
	if err := c.completeItems(ctx, sub); err != nil {
		t.Fatalf("listing subscription items: %v", err)
	}
	facts := &revenue.Subscription{ID: "sub_mock", Items: []revenue.SubscriptionItem{{ID: "si_mock", Metered: true}}}
	if err := c.meteredUsage(ctx, sub, facts, converter{reporting: "usd"}); err != nil {
		t.Fatalf("listing usage record summaries: %v", err)
	}
}

// FuzzSubscriptionFacts feeds arbitrary subscription JSON through Margin's object type and the
// conversion: it may reject, never panic, and what it accepts has a customer and a current period.
func FuzzSubscriptionFacts(f *testing.F) {
	var subs []json.RawMessage
	b, err := os.ReadFile(filepath.Join("testdata", "subscriptions_forecast.json"))
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(b, &subs); err != nil {
		f.Fatal(err)
	}
	for _, s := range subs {
		f.Add([]byte(s))
	}
	conv := converter{reporting: "usd", fx: map[string]ledger.Rate{"eur": 1_080_000_000}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s apiSubscription
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		out, err := subscriptionFacts(&s, conv)
		if err != nil {
			return
		}
		if out.Customer == "" || out.PeriodEnd <= out.PeriodStart {
			t.Fatalf("accepted %+v", out)
		}
	})
}
