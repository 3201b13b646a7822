package usage

import (
	"context"
	"testing"
	"time"
)

func TestNameCache(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	keyA, keyB, gone := Ref(OpenAI, KindAPIKey, "key_a"), Ref(OpenAI, KindAPIKey, "key_b"), Ref(OpenAI, KindAPIKey, "key_gone")
	listed := []SourceInfo{{Ref: keyA, Name: "a"}}
	calls := 0
	list := func(context.Context) ([]SourceInfo, error) { calls++; return listed, nil }
	batch := func(refs ...SourceRef) *Batch {
		b := &Batch{}
		for _, r := range refs {
			b.Usage = append(b.Usage, UsageRecord{Key: InternRef(r)})
		}
		return b
	}
	c := &NameCache{TTL: time.Hour}
	steps := []struct {
		name  string
		at    time.Time
		batch *Batch
		calls int
	}{
		{"first fetch lists", t0, batch(keyA, gone), 1},
		{"known sources: cached", t0.Add(5 * time.Minute), batch(keyA), 1},
		{"absent from the last listing: cached", t0.Add(10 * time.Minute), batch(keyA, gone), 1},
		{"a new key: listed at once", t0.Add(15 * time.Minute), batch(keyB), 2},
		{"TTL passed: listed", t0.Add(76 * time.Minute), batch(keyA), 3},
		{"clock moved back: listed", t0, batch(keyA), 4},
	}
	for _, s := range steps {
		if _, err := c.Sources(context.Background(), s.at, s.batch, list); err != nil {
			t.Fatal(err)
		}
		if calls != s.calls {
			t.Fatalf("%s: %d listings, want %d", s.name, calls, s.calls)
		}
	}
	got, _ := (&NameCache{}).Sources(context.Background(), t0, nil, list)
	if calls != 5 || len(got) != 1 {
		t.Fatalf("zero TTL must list every time: %d listings", calls)
	}
}
