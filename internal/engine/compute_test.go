package engine

import (
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// flatPricer prices every input or output token at a fixed amount per model; unknown models are unpriced.
type flatPricer map[string]ledger.Money

func (p flatPricer) Cost(r *usage.UsageRecord) (ledger.Money, bool) {
	per, ok := p[r.Model.String()]
	if !ok {
		return 0, false
	}
	return per * ledger.Money(r.Tokens.Total()), true
}

const (
	day0 usage.Day       = 20400
	ws   usage.SourceRef = "anthropic:workspace:wrkspc_1"
	kA   usage.SourceRef = "anthropic:api_key:apikey_A"
	kB   usage.SourceRef = "anthropic:api_key:apikey_B"
	proj usage.SourceRef = "openai:project:proj_1"
	oK1  usage.SourceRef = "openai:api_key:key_1"
	oK2  usage.SourceRef = "openai:api_key:key_2"
	orK  usage.SourceRef = "openrouter:key:abc"
)

func rec(p usage.Provider, key, scope usage.SourceRef, model string, tokens int64) usage.UsageRecord {
	return usage.UsageRecord{Provider: p.ID(), Day: day0, Key: usage.InternRef(key), Scope: usage.InternRef(scope), Model: usage.Intern(model), Tokens: usage.Tokens{Input: tokens}, Requests: 1}
}

func costOf(rows []CostRow, source usage.SourceRef, model string) (ledger.Money, bool) {
	var sum ledger.Money
	found := false
	for _, r := range rows {
		if r.Source.Ref() == source && r.Model.String() == model {
			sum += r.Cost
			found = true
		}
	}
	return sum, found
}

func TestCompute_SplitsWorkspaceBillByPricedUsage(t *testing.T) {
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.Anthropic,
			Usage: []usage.UsageRecord{
				rec(usage.Anthropic, kA, ws, "sonnet", 300),
				rec(usage.Anthropic, kB, ws, "sonnet", 100),
				rec(usage.Anthropic, "", ws, "sonnet", 100), // Workbench: no key
			},
			Costs: []usage.CostRecord{
				{Provider: usage.Anthropic.ID(), Day: day0, Source: usage.InternRef(ws), Item: usage.LineItemOf(usage.Intern("sonnet"), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(10)},
				{Provider: usage.Anthropic.ID(), Day: day0, Source: usage.InternRef(ws), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("Web Search Usage"), usage.NoSym), Amount: ledger.Cent},
			},
		}},
	}
	res := Compute(f, flatPricer{"sonnet": ledger.Micro}, Mapping{Customers: map[string][]usage.SourceRef{"cus_A": {kA}}})
	want := map[usage.SourceRef]ledger.Money{
		// $10 split 3:1:1, plus the 1-cent web search bill split the same way (0.6/0.2/0.2 cent).
		kA: 6*ledger.Dollar + 6_000_000,
		kB: 2*ledger.Dollar + 2_000_000,
		ws: 2*ledger.Dollar + 2_000_000,
	}
	for src, w := range want {
		if got, _ := costOf(res.Rows, src, "sonnet"); got != w {
			t.Errorf("cost of %s = %s, want %s", src, got, w)
		}
	}
	if len(res.Reconciliation) != 1 {
		t.Fatalf("reconciliation = %+v", res.Reconciliation)
	}
	rc := res.Reconciliation[0]
	if rc.Billed != 10*ledger.Dollar+ledger.Cent || rc.Attributed != want[kA] || rc.Unattributed != want[kB]+want[ws] || rc.Estimated != 0 {
		t.Errorf("reconciliation = %+v", rc)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

func TestCompute_SplitIsExactWithUnevenShares(t *testing.T) {
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.Anthropic,
			Usage: []usage.UsageRecord{
				rec(usage.Anthropic, kA, ws, "m", 1), rec(usage.Anthropic, kB, ws, "m", 1), rec(usage.Anthropic, "anthropic:api_key:apikey_C", ws, "m", 1),
			},
			Costs: []usage.CostRecord{{Provider: usage.Anthropic.ID(), Day: day0, Source: usage.InternRef(ws), Item: usage.LineItemOf(usage.Intern("m"), usage.NoSym, usage.NoSym), Amount: ledger.Nano * 100}},
		}},
	}
	res := Compute(f, flatPricer{"m": 1}, Mapping{})
	var sum ledger.Money
	for _, r := range res.Rows {
		sum += r.Cost
		if r.Cost != 33 && r.Cost != 34 {
			t.Errorf("share %s of 100 nano split three ways", r.Cost)
		}
	}
	if sum != 100 {
		t.Fatalf("parts add up to %d, want 100", sum)
	}
}

func TestCompute_KeyLevelBillsWinOverProjectBills(t *testing.T) {
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.OpenAI,
			Usage: []usage.UsageRecord{
				rec(usage.OpenAI, oK1, proj, "gpt", 1000),
				rec(usage.OpenAI, oK2, proj, "gpt", 1000),
			},
			Costs: []usage.CostRecord{
				// key 1 is billed per key; key 2 only through the project's bill.
				{Provider: usage.OpenAI.ID(), Day: day0, Source: usage.InternRef(oK1), Item: usage.LineItemOf(usage.Intern("gpt"), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(3)},
				{Provider: usage.OpenAI.ID(), Day: day0, Source: usage.InternRef(proj), Item: usage.LineItemOf(usage.Intern("gpt"), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(5)},
				// an image model nobody's token usage shows: spread over the project's uncovered usage
				{Provider: usage.OpenAI.ID(), Day: day0, Source: usage.InternRef(proj), Item: usage.LineItemOf(usage.Intern("dall-e-3"), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(1)},
			},
			Sources: []usage.SourceInfo{{Ref: oK1, Name: "k1", Scope: proj}, {Ref: oK2, Name: "k2", Scope: proj}},
		}},
	}
	res := Compute(f, flatPricer{"gpt": ledger.Micro}, Mapping{Customers: map[string][]usage.SourceRef{"cus_1": {oK1}, "cus_2": {oK2}}})
	for _, tc := range []struct {
		src   usage.SourceRef
		model string
		want  ledger.Money
	}{
		{oK1, "gpt", ledger.Dollars(3)},
		{oK2, "gpt", ledger.Dollars(5)},
		{oK2, "dall-e-3", ledger.Dollars(1)},
		{oK1, "dall-e-3", 0},
	} {
		if got, _ := costOf(res.Rows, tc.src, tc.model); got != tc.want {
			t.Errorf("%s %s = %s, want %s", tc.src, tc.model, got, tc.want)
		}
	}
	rep := SummarizeFor(res, "usd", DefaultTargetMargin)
	if rep.Totals.Attributed != ledger.Dollars(9) || rep.Totals.Unattributed != 0 {
		t.Errorf("totals = %+v", rep.Totals)
	}
}

func TestCompute_BillWithoutUsageStaysOnBilledSource(t *testing.T) {
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{
			Provider: usage.OpenAI,
			Costs:    []usage.CostRecord{{Provider: usage.OpenAI.ID(), Day: day0, Source: usage.InternRef(proj), Item: usage.LineItemOf(usage.Intern(""), usage.Intern("vector store storage"), usage.NoSym), Amount: ledger.Dollars(2)}},
			Sources:  []usage.SourceInfo{{Ref: proj, Name: "Internal tools"}},
		}},
	}
	rep := SummarizeFor(Compute(f, flatPricer{}, Mapping{}), "usd", DefaultTargetMargin)
	if len(rep.Unattributed) != 1 || rep.Unattributed[0].Source != proj || rep.Unattributed[0].Name != "Internal tools" || rep.Unattributed[0].Cost != ledger.Dollars(2) {
		t.Fatalf("unattributed = %+v", rep.Unattributed)
	}
	if rep.Models[0].Model != OtherModel {
		t.Errorf("model label = %q, want %q", rep.Models[0].Model, OtherModel)
	}
}

func TestCompute_TodayIsEstimatedAndUnpricedIsNotFree(t *testing.T) {
	today := day0 + 1
	usageToday := rec(usage.OpenAI, oK1, proj, "gpt", 500)
	usageToday.Day = today
	mystery := rec(usage.OpenAI, oK1, proj, "mystery-model", 700)
	mystery.Day = today
	f := &Facts{
		Window: usage.Window{From: day0, To: today + 1}, Today: today,
		Batches: []*usage.Batch{{
			Provider: usage.OpenAI,
			Usage:    []usage.UsageRecord{usageToday, mystery},
			// A partial bill for today must be ignored: today is not settled.
			Costs: []usage.CostRecord{{Provider: usage.OpenAI.ID(), Day: today, Source: usage.InternRef(oK1), Item: usage.LineItemOf(usage.Intern("gpt"), usage.NoSym, usage.NoSym), Amount: ledger.Dollars(100)}},
		}},
	}
	res := Compute(f, flatPricer{"gpt": ledger.Micro}, Mapping{})
	rep := SummarizeFor(res, "usd", DefaultTargetMargin)
	if rep.Totals.Estimated != 500*ledger.Micro || rep.Totals.Cost != 500*ledger.Micro {
		t.Errorf("totals = %+v, want 500 µ$ estimated", rep.Totals)
	}
	var unpriced int64
	for _, m := range rep.Models {
		unpriced += m.UnpricedTokens
	}
	if unpriced != 700 {
		t.Errorf("unpriced tokens = %d, want 700", unpriced)
	}
}

func TestCompute_OpenRouterRowsCarryTheirOwnBill(t *testing.T) {
	r := rec(usage.OpenRouter, orK, "", "openai/gpt-4.1", 10)
	r.Billed, r.HasBilled = 4217500000, true
	f := &Facts{
		Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{Provider: usage.OpenRouter, Usage: []usage.UsageRecord{r},
			Sources: []usage.SourceInfo{{Ref: orK, Name: "acme cus_X"}}}},
		Revenue: &RevenueFacts{
			Customers: []CustomerInfo{{ID: "cus_X", Name: "Acme", Plan: "growth"}},
			Daily:     []DailyRevenue{{Customer: "cus_X", Day: day0, Amount: ledger.Dollars(10)}, {Customer: "cus_X", Day: day0 - 1, Amount: ledger.Dollars(99)}},
		},
	}
	rep := SummarizeFor(Compute(f, flatPricer{}, Mapping{}), "usd", DefaultTargetMargin)
	if len(rep.Customers) != 1 {
		t.Fatalf("customers = %+v", rep.Customers)
	}
	c := rep.Customers[0]
	if c.Cost != 4217500000 || c.Revenue != ledger.Dollars(10) || c.GrossMargin != 5782500000 || c.Name != "Acme" || c.Plan != "growth" {
		t.Errorf("customer = %+v", c)
	}
	if c.GrossMarginRatio == nil || *c.GrossMarginRatio != 0.57825 {
		t.Errorf("ratio = %v, want 0.57825", c.GrossMarginRatio)
	}
	if rep.Reconciliation[0].Billed != 4217500000 || rep.Reconciliation[0].Attributed != 4217500000 {
		t.Errorf("reconciliation = %+v", rep.Reconciliation)
	}
}

func TestSummarize_ZeroRevenueHasNoRatio(t *testing.T) {
	r := rec(usage.OpenRouter, orK, "", "m", 10)
	r.Billed, r.HasBilled = ledger.Dollars(1), true
	f := &Facts{Window: usage.Window{From: day0, To: day0 + 1}, Today: day0 + 1,
		Batches: []*usage.Batch{{Provider: usage.OpenRouter, Usage: []usage.UsageRecord{r}}}}
	rep := SummarizeFor(Compute(f, flatPricer{}, Mapping{Customers: map[string][]usage.SourceRef{"cus_free": {orK}}}), "usd", DefaultTargetMargin)
	if rep.Customers[0].GrossMarginRatio != nil || rep.Totals.GrossMarginRatio != nil {
		t.Fatalf("ratio with zero revenue must be undefined, got %+v", rep.Customers[0])
	}
	if rep.Customers[0].GrossMargin != -ledger.Dollars(1) {
		t.Errorf("margin = %s", rep.Customers[0].GrossMargin)
	}
}
