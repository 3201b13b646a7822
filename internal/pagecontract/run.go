package pagecontract

import (
	"os"
	"path/filepath"
	"testing"
)

// Endpoint is one endpoint of a contract test: the recorded pages Match selects, and Check, which
// compares them (Check or CheckAgainstSpec, usually through Count) and says how many elements
// they held.
type Endpoint struct {
	Name  string
	Match func(path string) bool
	Check func(t *testing.T, pages [][]byte) (elements int, err error)
}

// Run checks each endpoint in a subtest of its name (its pages must compare and hold at least one
// element) and that the endpoints together account for every page rec recorded, so a page the
// client starts reading is noticed.
func Run(t *testing.T, rec *Recorder, endpoints []Endpoint) {
	t.Helper()
	checked := 0
	for _, ep := range endpoints {
		pages := rec.Pages(ep.Match)
		checked += len(pages)
		t.Run(ep.Name, func(t *testing.T) {
			if len(pages) == 0 {
				t.Fatal("the client read no page of this endpoint")
			}
			n, err := ep.Check(t, pages)
			if err != nil {
				t.Error(err)
			}
			if n == 0 {
				t.Errorf("%d pages, no element in any", len(pages))
			}
		})
	}
	if all := rec.Pages(func(string) bool { return true }); checked != len(all) {
		t.Errorf("checked %d of the %d pages the client read: %v", checked, len(all), rec.Paths())
	}
}

// Count is Check that also counts the elements of the decoded pages.
func Count[T any](pages, fixtures [][]byte, count func(T) int, optional ...string) (int, error) {
	got, err := Check[T](pages, fixtures, optional...)
	return elements(got, count), err
}

// CountAgainstSpec is CheckAgainstSpec that also counts the elements of the decoded pages.
func CountAgainstSpec[T any](pages, reference [][]byte, count func(T) int) (int, error) {
	got, err := CheckAgainstSpec[T](pages, reference)
	return elements(got, count), err
}

func elements[T any](pages []T, count func(T) int) int {
	n := 0
	for _, p := range pages {
		n += count(p)
	}
	return n
}

// Path matches exactly one path.
func Path(path string) func(string) bool { return func(p string) bool { return p == path } }

// Fixtures reads the named files of the calling package's testdata directory.
func Fixtures(t testing.TB, names ...string) [][]byte {
	t.Helper()
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n)) // #nosec G304 -- a test's own fixture names
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
