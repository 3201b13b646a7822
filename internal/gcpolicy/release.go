package gcpolicy

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Release collects the heap and hands every free page back to the operating system, which is
// what debug.FreeOSMemory promises and does not always do.
//
// Go's background scavenger (1.26 and 1.27, runtime/mgcscavenge.go) can hide free pages: in the
// 4 MiB chunk its cursor is in, it searches only below the cursor, and when that finds nothing
// it marks the whole chunk as having nothing to release. Pages the sweep freed above the cursor
// meanwhile then stay resident, skipped by every later scavenge, forced ones included, until
// something in that chunk is freed again. An exporter at rest kept 0.5 to 3 MiB so, up to a
// sixth of its memory, in about half of its runs.
//
// So when pages are still free after the collection, Release allocates all of the heap's free
// memory and drops it: every chunk holding free pages is freed into again, and the next
// collection hands the pages back. That touches the released pages once: 12-24 ms with the
// collection for 32-63 MiB of free and released memory, in a program doing the test's rounds. It
// is skipped on a heap with more than refreshLimit free, where a few hidden MiB matter little,
// and under a memory limit, which the refresh could cross.
func Release() {
	debug.FreeOSMemory()
	for range maxRefreshes {
		free, released := heapFree()
		if free <= hiddenMin || free+released > refreshLimit || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			return
		}
		refresh(free + released)
		debug.FreeOSMemory()
	}
}

const (
	// hiddenMin is the free, unreleased memory left after a collection that Release accepts:
	// what the processors' page caches may hold back.
	hiddenMin = 256 << 10
	// refreshBlock is one page: the page allocator serves single pages lowest address first, so
	// blocks of it fill every free run, the smallest ones included, before the heap grows.
	refreshBlock = 8 << 10
	// maxRefreshes bounds the refreshes of one Release: the collection after a refresh frees
	// pages too, and can leave a chunk hidden again.
	maxRefreshes = 3
)

// refreshLimit is the most free memory Release refreshes. A variable for tests only.
var refreshLimit uint64 = 64 << 20

// heapFree returns the heap's free memory not yet handed back and the heap memory handed back.
func heapFree() (free, released uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// refresh allocates n bytes in pages and drops them.
func refresh(n uint64) {
	blocks := make([][]byte, 0, n/refreshBlock+1)
	for got := uint64(0); got < n; got += refreshBlock {
		blocks = append(blocks, make([]byte, refreshBlock))
	}
	runtime.KeepAlive(blocks)
}
