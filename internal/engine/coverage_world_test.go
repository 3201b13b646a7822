package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The simulated world holds the spend a per-key listing misses (an OpenRouter key in a second
// workspace, a deleted key, a key hidden without owner_project_access=any), Anthropic's ending_at
// rule and more than 31 days of OpenAI and Anthropic history. These tests read it through the
// real clients.

func TestSimulatedWorld_UnlistedSpendIsShownNotLost(t *testing.T) {
	w, eng := demoWorld(t)
	win, _ := eng.Window(31)
	f, err := eng.Fetch(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	var or *usage.Batch
	for _, b := range f.Batches {
		if b.Provider == usage.OpenRouter {
			or = b
		}
	}
	unlisted := map[usage.Day]ledger.Money{}
	for _, r := range or.Usage {
		if r.Key.Ref() == usage.OpenRouterUnlisted {
			unlisted[r.Day] += r.Billed
		}
	}
	deleted := w.UnlistedSources()
	if len(deleted) == 0 {
		t.Fatal("the world has no unlisted source")
	}
	var sawDeleted bool
	for d := or.Window.From; d < or.Window.To; d++ {
		var want ledger.Money
		for _, ref := range deleted {
			want += w.SourceBilled(ref, d)
		}
		if unlisted[d] != want {
			t.Errorf("%s: unlisted %s, the deleted key billed %s", d, unlisted[d], want)
		}
		sawDeleted = sawDeleted || want > 0
	}
	if !sawDeleted {
		t.Fatal("the deleted key billed nothing in the window")
	}
	rep := engine.SummarizeFor(eng.Compute(f), "usd", engine.DefaultTargetMargin)
	var shown bool
	for _, u := range rep.Unattributed {
		if u.Source == usage.OpenRouterUnlisted {
			shown = u.Cost > 0 && u.Name != ""
		}
	}
	if !shown {
		t.Errorf("unattributed lines %+v lack the named unlisted OpenRouter spend", rep.Unattributed)
	}
}

func TestSimulatedWorld_TodaysAnthropicTokensArrive(t *testing.T) {
	w, eng := demoWorld(t)
	today := eng.Today()
	f, err := eng.Fetch(context.Background(), usage.Window{From: today, To: today + 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tokens int64
	for _, b := range f.Batches {
		if b.Provider != usage.Anthropic {
			continue
		}
		for _, r := range b.Usage {
			if r.Day == today {
				tokens += r.Tokens.Total()
			}
		}
	}
	if want := w.Tokens(usage.Anthropic, today); tokens != want || want == 0 {
		t.Errorf("today's Anthropic tokens %d, the world recorded %d so far", tokens, want)
	}
}

func TestSimulatedWorld_HistoryAsFarAsServed(t *testing.T) {
	w, eng := demoWorld(t)
	const days = 45 // past the world's 35 days of history and past one page of daily buckets
	win, note := eng.Window(days)
	if win.Days() != days || !strings.Contains(note, "openrouter documents only its last 30 completed days") {
		t.Fatalf("window %s, note %q", win, note)
	}
	f, err := eng.Fetch(context.Background(), win, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := w.FirstDay()
	for _, b := range f.Batches {
		var notice string
		for _, warn := range b.Warnings {
			if strings.Contains(warn, "first day with data") || strings.Contains(warn, "30 completed UTC days") {
				notice = warn
			}
		}
		switch b.Provider {
		case usage.OpenAI, usage.Anthropic:
			want := string(b.Provider) + ": the first day with data is " + first.String() + ", not " + win.From.String() +
				" (" + string(b.Provider) + " documents no retention limit; observed: nothing served before " + first.String() + ")"
			if b.Window.From != win.From || notice != want {
				t.Errorf("%s: window %s, notice %q; want the whole window and %q", b.Provider, b.Window, notice, want)
			}
		case usage.OpenRouter:
			if b.Window.From != eng.Today()-30 || !strings.Contains(notice, "openrouter documents the last 30 completed UTC days: reading from "+(eng.Today()-30).String()) {
				t.Errorf("openrouter: window %s, notice %q; want its documented 30 days", b.Window, notice)
			}
		}
	}
	res := eng.Compute(f)
	seen := map[usage.Provider]int{}
	for _, rc := range res.Reconciliation {
		if want := w.BilledTotal(rc.Provider, rc.Day); rc.Billed != want || rc.Attributed+rc.Unattributed != want {
			t.Errorf("%s %s: billed %s (attributed %s + unattributed %s), the world billed %s", rc.Provider, rc.Day, rc.Billed, rc.Attributed, rc.Unattributed, want)
		}
		if rc.Day < eng.Today()-31 && rc.Billed > 0 {
			seen[rc.Provider]++
		}
	}
	// The days past 31 that the world has: today-35 .. today-32.
	for _, p := range []usage.Provider{usage.OpenAI, usage.Anthropic} {
		if want := int(eng.Today() - 31 - first); seen[p] != want {
			t.Errorf("%s: %d billed days older than 31, want %d", p, seen[p], want)
		}
	}
	if seen[usage.OpenRouter] != 0 {
		t.Errorf("openrouter billed %d days older than its 30", seen[usage.OpenRouter])
	}
}
