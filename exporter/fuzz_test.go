package exporter

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// seedState is a small state of every kind of bucket, as Save writes it.
func seedState(t testing.TB) []byte {
	s := newState()
	s.Since["openai"], s.Since[sourceStripe] = 20000, 19999
	route := router(nil)
	s.applyCost(&costValues{Provider: "openai", Window: usage.Window{From: 19990, To: 20002},
		Cost: map[costKey]costBucket{
			{Day: 20000, Provider: "openai", Model: "gpt-4o", Customer: "cus_A", Feature: "chat"}: {Cost: 1_500_000_000, Requests: 3, Tokens: tokenCounts{100, 20, 5, 40, 10}},
			{Day: 20001, Provider: "openai", Model: "o3"}:                                         {Cost: 7, Requests: 1},
		},
		Unpriced: map[unpricedKey]tokenCounts{{Day: 20001, Provider: "openai", Model: "new"}: {1, 2, 3, 4, 5}},
	}, route)
	s.applyRevenue(usage.Window{From: 19999, To: 20002}, 20001, map[revenueKey]ledger.Money{{Day: 20000, Customer: "cus_A"}: 99_000_000_000}, route)
	b, err := json.Marshal(s.file())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadState never panics on a file's content; a content it accepts is written back by Save to a
// file that loads to the same state.
func FuzzLoadState(f *testing.F) {
	f.Add(seedState(f))
	for _, u := range unusable {
		f.Add([]byte(u.content))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeState(data)
		if err != nil {
			return
		}
		once, err := json.Marshal(s.file())
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeState(once)
		if err != nil {
			t.Fatalf("a state written from an accepted file does not load: %v\n%s", err, once)
		}
		twice, _ := json.Marshal(again.file())
		if !bytes.Equal(once, twice) {
			t.Fatalf("the state changed across a save and a load:\n%s\n%s", once, twice)
		}
	})
}
