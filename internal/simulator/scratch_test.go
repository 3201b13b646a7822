package simulator

import "testing"

// The pages' scratch is reused while a listing is paged through and, when large, let go at its
// last page, so a client's work after its fetch does not carry it.
func TestScratches_KeptWhilePagingDroppedAtTheLastPage(t *testing.T) {
	var f scratches[int, int]
	free := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.free)
	}
	a := f.get()
	a.rows = make([]int, 1, keptScratchRows+1) // a large organisation's page
	a.index[1] = 0
	f.put(a, true)
	if free() != 1 {
		t.Fatalf("free scratch after a page with a next page = %d, want 1", free())
	}
	if got := f.get(); got != a || len(got.rows) != 0 || cap(got.rows) == 0 || len(got.index) != 0 {
		t.Fatalf("get did not reuse the emptied scratch: %p (want %p), rows %v, index %v", got, a, got.rows, got.index)
	}
	// Two listings at once: the first to end keeps the scratch for the other.
	b := f.get()
	f.put(a, false)
	if free() != 1 {
		t.Fatalf("free scratch after a last page while another page runs = %d, want 1", free())
	}
	b.rows = make([]int, 0, keptScratchRows+1)
	f.put(b, false)
	if free() != 0 {
		t.Fatalf("free scratch after the last page of every listing = %d, want 0", free())
	}
	if s := f.get(); s == a || s == b {
		t.Fatal("get after the last page returned dropped scratch")
	}

	// A small scratch stays for the next listing.
	var g scratches[int, int]
	small := g.get()
	small.rows = append(small.rows, 1)
	g.put(small, false)
	if got := g.get(); got != small {
		t.Fatal("a small scratch was let go at a listing's last page")
	}
}
