package engine

import (
	"testing"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/usage"
)

// The cell index finds every cell it made, in the window (dense slots) and outside it (the
// fallback map), and tells apart cells that differ only in class, scope or day.
func TestCellIndex_FindsEveryCellInAndOutsideTheWindow(t *testing.T) {
	w := usage.Window{From: 100, To: 103}
	f := &Facts{Window: w, Today: w.To}
	b := &usage.Batch{Provider: usage.OpenAI}
	bc := newBatchComputer(f, b, catalog.Default(), nil, nil, nil)
	p, key, scope, other := bc.in.id("openai"), bc.in.id("openai:api_key:k"), bc.in.id("openai:project:p"), bc.in.id("openai:project:q")
	m1, m2 := bc.in.id("gpt-4o"), bc.in.id("gpt-4.1")
	var keys []cellKey
	for _, d := range []usage.Day{98, 100, 102, 103, 200} { // two before, three in, one at To, one far
		for _, m := range []uint32{m1, m2} {
			for _, cls := range []class{0, classBatch} {
				keys = append(keys, cellKey{p: p, key: key, scope: scope, model: m, d: d, cls: cls},
					cellKey{p: p, key: key, scope: other, model: m, d: d, cls: cls},
					cellKey{p: p, scope: scope, model: m, d: d, cls: cls})
			}
		}
	}
	for round := range 2 { // the second round must find, not add
		for i, k := range keys {
			if got := bc.cellAt(k); int(got) != i {
				t.Fatalf("round %d: cellAt(%+v) = %d, want %d", round, k, got, i)
			}
			if got, ok := bc.lookup(k); !ok || int(got) != i {
				t.Fatalf("round %d: lookup(%+v) = %d %v, want %d", round, k, got, ok, i)
			}
		}
	}
	if len(bc.cells) != len(keys) || len(bc.rows) != len(keys) {
		t.Fatalf("%d cells, %d rows for %d keys", len(bc.cells), len(bc.rows), len(keys))
	}
	if _, ok := bc.lookup(cellKey{p: p, key: key, scope: scope, model: m1, d: 101}); ok {
		t.Fatal("found a cell never made")
	}
	if len(bc.far) == 0 {
		t.Fatal("no day outside the window went to the fallback")
	}
}
