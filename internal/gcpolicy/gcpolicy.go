// Package gcpolicy bounds how far the heap grows past its live set while Margin fetches and
// computes large fact tables.
//
// With the runtime's default GOGC=100 the heap may reach twice what was live at the last
// collection before the next one starts. A fetch of 10,000 OpenAI keys holds about 1 GB of
// facts, most of it pointer-free tables the collector marks without scanning, while it decodes
// gigabytes of short-lived page data: at GOGC=100 its heap peaks near 3 GB. While a Scope is
// open, the collector's target is lowered once the live heap is large, so the heap grows by at
// most Headroom(live) past it; a small heap keeps the default, so small organisations pay
// nothing.
//
// The user's own settings win: when GOGC or GOMEMLIMIT is set in the environment, Scope does
// nothing.
//
// Release hands a process at rest its free memory back, working around the runtime's scavenger
// where it hides free pages (release.go).
package gcpolicy

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// MinHeadroom is the growth past the live heap always allowed: while the base target grows the
// heap by no more, the collector runs at it (GOGC=100, or what the caller set). A variable for
// tests only.
var MinHeadroom uint64 = 64 << 20

const (
	// minPercent is the lowest GC percent set: a live heap of 32× MinHeadroom and more may grow
	// by a thirty-second of itself.
	minPercent = 3
	// every is how often the live heap is looked at while a scope is open. A collection of a
	// large heap is seconds apart at most allocation rates, so one is rarely missed for long.
	every = 10 * time.Millisecond
)

// SmallHeap is the live heap below which a scope collects at SmallPercent at most. Such a
// collection marks a few megabytes, and the runtime keeps for good the metadata of the largest
// heap it has had (its spans' structures and mark bits, the span sets): a small exporter that
// lets a poll's garbage double its heap keeps part of that peak at rest. Measured on the demo
// world: 0.3 MiB less resident between polls; the later poll at 1,000 keys, whose live heap is
// above it, takes as long as before (scripts/exporter-rss.sh, BenchmarkPoll). Larger, the
// small collections cost that later poll up to half its time again. A variable for tests.
var SmallHeap uint64 = 6 << 20

// SmallPercent is the GC percent of a scope while the live heap is below SmallHeap.
const SmallPercent = 25

// Percent is the GC percent for a live heap of live bytes under a base percent: at most
// SmallPercent below SmallHeap; base while the base's growth stays within MinHeadroom; else the
// percent that allows MinHeadroom, but no less than minPercent (a live heap of 1 GB may grow by
// 64 MB, one of 4 GB by 128 MB).
func Percent(live uint64, base int) int {
	if base <= 0 || live == 0 {
		return base
	}
	if live < SmallHeap {
		return min(base, SmallPercent)
	}
	if live*uint64(base)/100 <= MinHeadroom {
		return base
	}
	p := int(MinHeadroom * 100 / live) // #nosec G115 -- below base, a small percent
	return min(max(p, minPercent), base)
}

var (
	mu    sync.Mutex
	open  int           // scopes open
	base  int           // the GC percent found when the first scope opened
	done  chan struct{} // closed when the last scope closes
	wg    sync.WaitGroup
	unset = func() bool { return os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" }()
)

// Scope opens a scope in which the collector's target follows Percent of the live heap; the
// returned function closes it. Scopes may overlap (concurrent fetches); the GC percent found
// when the first opened is restored when the last closes. Without effect when GOGC or
// GOMEMLIMIT is set in the environment.
func Scope() (end func()) {
	if !unset {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	open++
	if open == 1 {
		base = debug.SetGCPercent(100)
		debug.SetGCPercent(base)
		done = make(chan struct{})
		wg.Go(func() { follow(base, done) })
	}
	var once sync.Once
	return func() { once.Do(closeScope) }
}

// BeforeLarge is called before allocating n bytes at once (a fact table's rows and cells). When
// n is more than MinHeadroom, the garbage made since the last collection is collected and every
// free page handed back to the operating system first: the fetch before it leaves hundreds of
// megabytes of freed, scattered page memory resident that one large allocation cannot reuse, so
// the process would otherwise peak at that memory, the live set and the allocation. It happens
// once per computation, and the collection marks little: the large tables hold no pointers.
// Without effect outside a Scope.
func BeforeLarge(n uint64) {
	if n <= MinHeadroom {
		return
	}
	mu.Lock()
	inScope := open > 0
	mu.Unlock()
	if inScope {
		debug.FreeOSMemory()
	}
}

func closeScope() {
	mu.Lock()
	defer mu.Unlock()
	open--
	if open > 0 {
		return
	}
	close(done)
	wg.Wait() // the watcher has stopped setting the percent
	debug.SetGCPercent(base)
}

// follow sets the GC percent after each collection from the live heap it left, until done.
func follow(base int, done <-chan struct{}) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(every)
	defer t.Stop()
	var cycles uint64
	set := base
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		metrics.Read(s)
		if c := s[0].Value.Uint64(); c != cycles {
			cycles = c
			if p := Percent(s[1].Value.Uint64(), base); p != set {
				debug.SetGCPercent(p)
				set = p
			}
		}
	}
}
