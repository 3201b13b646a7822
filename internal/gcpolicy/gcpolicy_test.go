package gcpolicy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The target follows the live heap: the base while its growth fits in MinHeadroom, then
// MinHeadroom of growth, never below minPercent nor above the base, and growth never shrinks as
// the live heap grows.
func TestPercent_BoundsTheGrowth(t *testing.T) {
	const mb = 1 << 20
	for _, base := range []int{25, 50, 100, 200} {
		prevGrowth := uint64(0)
		for live := uint64(mb); live <= 16<<30; live += live / 7 {
			p := Percent(live, base)
			if p > base || p < min(base, minPercent) {
				t.Fatalf("Percent(%d MB, %d) = %d, outside [%d, %d]", live/mb, base, p, min(base, minPercent), base)
			}
			growth := live * uint64(p) / 100
			if live < SmallHeap {
				if p != min(base, SmallPercent) {
					t.Fatalf("Percent(%d MB, %d) = %d: a heap below SmallHeap collects at %d at most", live/mb, base, p, SmallPercent)
				}
			} else if live*uint64(base)/100 <= MinHeadroom && p != base {
				t.Fatalf("Percent(%d MB, %d) = %d: a growth within MinHeadroom keeps the base", live/mb, base, p)
			}
			if p > minPercent && growth > MinHeadroom+live/100 && p != base {
				t.Fatalf("Percent(%d MB, %d) = %d: grows by %d MB, over MinHeadroom", live/mb, base, p, growth/mb)
			}
			if growth+live/50 < prevGrowth {
				t.Fatalf("Percent(%d MB, %d) = %d: growth %d MB fell from %d MB", live/mb, base, p, growth/mb, prevGrowth/mb)
			}
			prevGrowth = growth
		}
	}
	if p := Percent(4<<20, 100); p != SmallPercent {
		t.Errorf("Percent(4 MB, 100) = %d, want SmallPercent %d", p, SmallPercent)
	}
	if p := Percent(32<<20, 100); p != 100 {
		t.Errorf("Percent(32 MB, 100) = %d, want the base 100 (32 MB of growth is within MinHeadroom)", p)
	}
	if p := Percent(1<<30, 100); p != 6 {
		t.Errorf("Percent(1 GB, 100) = %d, want 6 (64 MB of growth)", p)
	}
	if p := Percent(1<<30, -1); p != -1 {
		t.Errorf("Percent with the collector off = %d, want -1 (left off)", p)
	}
}

// While a scope is open, a live heap above MinHeadroom lowers the percent; scopes nest, and the
// percent found when the first opened is restored when the last closes.
func TestScope_LowersWhileOpenAndRestores(t *testing.T) {
	if !unset {
		t.Skip("GOGC or GOMEMLIMIT is set: Scope leaves the collector alone by design")
	}
	defer func(m uint64) { MinHeadroom = m }(MinHeadroom)
	MinHeadroom = 1 << 20
	old := debug.SetGCPercent(80)
	defer debug.SetGCPercent(old)

	live := make([]byte, 64<<20) // far above MinHeadroom
	end1 := Scope()
	end2 := Scope()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		time.Sleep(3 * every)
		if gogc() < 80 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the percent stayed 80 with 64 MB live")
		}
	}
	end1()
	end1() // closing twice closes once
	runtime.GC()
	time.Sleep(3 * every)
	if p := gogc(); p >= 80 {
		t.Errorf("one scope still open: percent %d, want it lowered", p)
	}
	end2()
	if p := gogc(); p != 80 {
		t.Errorf("after the last scope: percent %d, want 80 restored", p)
	}
	runtime.KeepAlive(live)
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()) // #nosec G115 -- a percent
}

// With GOGC or GOMEMLIMIT in the environment, a scope leaves the percent as it finds it.
func TestScope_LeavesTheUsersSettingAlone(t *testing.T) {
	defer func(u bool) { unset = u }(unset)
	unset = false
	defer func(m uint64) { MinHeadroom = m }(MinHeadroom)
	MinHeadroom = 1 << 20
	old := debug.SetGCPercent(80)
	defer debug.SetGCPercent(old)
	live := make([]byte, 64<<20)
	end := Scope()
	runtime.GC()
	time.Sleep(3 * every)
	if p := gogc(); p != 80 {
		t.Errorf("percent %d with the user's setting, want 80 untouched", p)
	}
	end()
	runtime.KeepAlive(live)
}

// BeforeLarge collects (and hands pages back) only for an allocation over MinHeadroom inside a
// scope: small computations and callers outside the engine pay nothing.
func TestBeforeLarge_CollectsOnlyForALargeAllocationInAScope(t *testing.T) {
	if !unset {
		t.Skip("GOGC or GOMEMLIMIT is set: Scope leaves the collector alone by design")
	}
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	forced := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	large := MinHeadroom + 1
	before := forced()
	BeforeLarge(large) // no scope
	end := Scope()
	BeforeLarge(MinHeadroom) // not over the headroom
	if got := forced(); got != before {
		t.Fatalf("forced collections %d -> %d without a scope or a large allocation", before, got)
	}
	BeforeLarge(large)
	end()
	if got := forced(); got != before+1 {
		t.Fatalf("forced collections %d -> %d for a large allocation in a scope, want one", before, got)
	}
}
