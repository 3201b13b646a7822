// Package floor is the yardstick of Margin's end-to-end benchmarks: a transport that counts what a
// client fetches and records the pages it asks for, a peak-heap sampler, and the "floor client", a
// minimal reflection-free reader that fetches the same pages and scans them into sums. What Margin
// spends beyond the floor on the same pages in the same run is the cost of its own decoding and
// bookkeeping.
package floor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/simulator"
)

// Now is the benchmark worlds' clock: a fixed mid-month afternoon, so every run serves the same
// pages.
var Now = time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)

// Scales are the OpenAI key counts the end-to-end benchmarks run at: 1,000 always, 10,000 too
// when MARGIN_BENCH_10K=1 (make bench sets it; one run takes tens of seconds).
func Scales() []int {
	if ok, _ := strconv.ParseBool(os.Getenv("MARGIN_BENCH_10K")); ok {
		return []int{1000, 10000}
	}
	return []int{1000}
}

// Compact says whether MARGIN_BENCH_COMPACT=1 asks for compact JSON instead, to compare with a
// client that cannot read the indented pages at all.
func Compact() bool {
	ok, _ := strconv.ParseBool(os.Getenv("MARGIN_BENCH_COMPACT"))
	return ok
}

// World is the simulated company with n extra OpenAI keys of 10 models each, served with indented
// JSON as the real APIs send it (unless Compact), through the returned recorder.
func World(n int) (*simulator.World, *Recorder, *http.Client) {
	w := simulator.New(simulator.Config{Now: Now, ExtraOpenAIKeys: n, ModelsPerKey: 10, Indent: !Compact()})
	rec := &Recorder{Next: w.Transport()}
	return w, rec, &http.Client{Transport: rec}
}

// Recorder is an http.RoundTripper that counts response bytes and records each request's URL and
// headers, so the floor client can replay exactly the pages a Margin client read.
type Recorder struct {
	Next http.RoundTripper

	bytes, requests atomic.Int64
	mu              sync.Mutex
	reqs            []*http.Request
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.requests.Add(1)
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	resp, err := r.Next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &r.bytes}
	return resp, nil
}

// Bytes and Requests return what went through since the last Reset.
func (r *Recorder) Bytes() int64    { return r.bytes.Load() }
func (r *Recorder) Requests() int64 { return r.requests.Load() }

// Requests recorded since the last Reset, in the order they were sent.
func (r *Recorder) Recorded() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// Reset forgets the counts and the recorded requests.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
	r.bytes.Store(0)
	r.requests.Store(0)
}

// Handler wraps a server's handler the way RoundTrip wraps a client's transport: it counts the
// bytes each response writes and records each request as an absolute URL on the server's host.
func (r *Recorder) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		c := req.Clone(context.Background())
		c.RequestURI = ""
		c.URL.Scheme, c.URL.Host = "http", req.Host
		r.mu.Lock()
		r.reqs = append(r.reqs, c)
		r.mu.Unlock()
		next.ServeHTTP(&countingWriter{ResponseWriter: rw, n: &r.bytes}, req)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Sums is what the floor client keeps of a set of pages: every integer outside strings added up,
// and the byte and page counts.
type Sums struct {
	Pages, Bytes, Numbers, Total int64
}

// Replay fetches each request again through rt and scans its body with Scan, one page at a time,
// as the floor of reading exactly those pages.
func Replay(ctx context.Context, rt http.RoundTripper, reqs []*http.Request) (Sums, error) {
	var s Sums
	buf := make([]byte, 64<<10)
	for _, r := range reqs {
		resp, err := rt.RoundTrip(r.Clone(ctx))
		if err != nil {
			return s, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return s, fmt.Errorf("floor: %s: HTTP %d", r.URL.Path, resp.StatusCode)
		}
		err = Scan(resp.Body, buf, &s)
		resp.Body.Close()
		if err != nil {
			return s, fmt.Errorf("floor: %s: %w", r.URL.Path, err)
		}
		s.Pages++
	}
	return s, nil
}

// Scan reads r through buf and adds every integer outside JSON strings to s: the least work that
// still looks at every byte of a page, with no reflection and no allocation.
func Scan(r io.Reader, buf []byte, s *Sums) error {
	var inString, esc, inNum bool
	var num int64
	for {
		n, err := r.Read(buf)
		s.Bytes += int64(n)
		for _, c := range buf[:n] {
			switch {
			case inString:
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inString = false
				}
			case c >= '0' && c <= '9':
				num = num*10 + int64(c-'0')
				inNum = true
			default:
				if inNum {
					s.Total += num
					s.Numbers++
					num, inNum = 0, false
				}
				inString = c == '"'
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// heapSample is the live heap as runtime/metrics counts it: objects plus the free space in
// in-use spans, HeapInuse without ReadMemStats' stop-the-world.
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}

// PeakHeap samples the heap every millisecond until the returned stop is called, which returns
// the highest sample seen in bytes. With MARGIN_BENCH_PEAKPROF=file, a heap profile is written to
// file whenever the peak grows by a sixty-fourth: the profile nearest the peak says what was live there
// (as of the garbage collection before it).
func PeakHeap() (stop func() uint64) {
	runtime.GC()
	done := make(chan struct{})
	var peak atomic.Uint64
	prof, profiled := os.Getenv("MARGIN_BENCH_PEAKPROF"), uint64(0)
	read := func() {
		s := make([]metrics.Sample, len(heapSample))
		copy(s, heapSample)
		metrics.Read(s)
		v := s[0].Value.Uint64() + s[1].Value.Uint64()
		if v > peak.Load() {
			peak.Store(v)
		}
		if prof != "" && v > profiled+profiled/64 {
			profiled = v
			writeHeapProfile(prof)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	})
	return func() uint64 {
		read()
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

func writeHeapProfile(path string) {
	f, err := os.Create(path) // #nosec G304 G703 -- a benchmark's own output file, named by its runner (MARGIN_BENCH_PEAKPROF)
	if err != nil {
		return
	}
	_ = pprof.Lookup("heap").WriteTo(f, 0)
	_ = f.Close()
}

// Measure runs fn b.N times and reports, per run, the bytes fetched through rec, the requests and
// the peak heap, beside the time and allocations the benchmark reports itself.
func Measure(b *testing.B, rec *Recorder, fn func()) {
	b.Helper()
	b.ReportAllocs()
	var peak uint64
	var bytes, reqs int64
	n := 0
	for b.Loop() {
		rec.Reset()
		stop := PeakHeap()
		fn()
		peak = max(peak, stop())
		bytes += rec.Bytes()
		reqs += rec.Requests()
		n++
	}
	b.ReportMetric(float64(bytes)/float64(n)/(1<<20), "MB-fetched/op")
	b.ReportMetric(float64(reqs)/float64(n), "requests/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
