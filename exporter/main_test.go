package exporter

import (
	"os"
	"testing"
	"time"
)

// TestMain shortens the release at rest: a poller's release timer keeps the poller for
// releaseDelay, and tests that measure the heap must not see earlier tests' pollers let go
// in the middle.
func TestMain(m *testing.M) {
	releaseDelay = 10 * time.Millisecond
	os.Exit(m.Run())
}
