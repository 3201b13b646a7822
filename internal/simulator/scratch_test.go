package simulator

import "testing"

// The pages' scratch is reused while a listing is paged through and let go at its last page, so
// a client's work after its fetch does not carry it.
func TestScratches_KeptWhilePagingDroppedAtTheLastPage(t *testing.T) {
	var f scratches[int, int]
	free := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.free)
	}
	a := f.get()
	a.rows = append(a.rows, 1)
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
	f.put(b, false)
	if free() != 0 {
		t.Fatalf("free scratch after the last page of every listing = %d, want 0", free())
	}
	if s := f.get(); s == a || s == b {
		t.Fatal("get after the last page returned dropped scratch")
	}
}
