package exporter

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Over generated inputs (empty; random bytes, which never match; metrics-like text full of
// repeats; runs longer than the longest match; repeats farther back than deflate's 32 KiB window),
// deflateFixed's block inflates back to its input with compress/flate, and text with repeats
// comes out smaller than it went in.
func TestDeflateFixed_InflatesToItsInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	metricsText := func(n int) []byte {
		var b strings.Builder
		for b.Len() < n {
			switch rng.IntN(4) {
			case 0:
				b.WriteString("# HELP go_memstats_" + strconv.Itoa(rng.IntN(50)) + " Number of bytes allocated.\n")
			case 1:
				b.WriteString(`margin_source_up{source="` + []string{"openai", "anthropic", "stripe"}[rng.IntN(3)] + `"} 1` + "\n")
			default:
				b.WriteString("process_cpu_seconds_total " + strconv.FormatFloat(rng.Float64()*1e4, 'g', -1, 64) + "\n")
			}
		}
		return []byte(b.String())
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	far := func(n int) []byte { // one 1 KiB chunk, 40 KiB of random bytes, then the chunk again
		chunk := metricsText(1 << 10)
		return append(append(append([]byte{}, chunk...), random(40<<10)...), chunk...)[:max(n, 0)]
	}
	type gen struct {
		name     string
		make     func(int) []byte
		compress bool // output must be smaller than the input (over 100 bytes)
	}
	gens := []gen{
		{"metrics text", metricsText, true},
		{"random bytes", random, false},
		{"one byte repeated", func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }, true},
		{"a repeat beyond the window", func(int) []byte { return far(42 << 10) }, false},
	}
	for _, g := range gens {
		for _, size := range []int{0, 1, 3, 4, 5, 100, 258, 259, 1000, 10 << 10, 40 << 10, 100 << 10} {
			for _, prefix := range [][]byte{nil, {0x1f, 0x8b}} { // dst is appended to, not overwritten
				src := g.make(size)
				out := deflateFixed(bytes.Clone(prefix), src)
				if !bytes.HasPrefix(out, prefix) {
					t.Fatalf("%s, %d bytes: the output does not start with dst", g.name, size)
				}
				got, err := io.ReadAll(flate.NewReader(bytes.NewReader(out[len(prefix):])))
				if err != nil {
					t.Fatalf("%s, %d bytes: inflating: %v", g.name, size, err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("%s, %d bytes: inflated %d bytes that differ", g.name, len(src), len(got))
				}
				if g.compress && len(src) > 100 && len(out)-len(prefix) >= len(src) {
					t.Errorf("%s, %d bytes: deflated to %d", g.name, len(src), len(out)-len(prefix))
				}
			}
		}
	}
}

// The block ends the stream: a reader sees EOF right after it, with nothing left over.
func TestDeflateFixed_IsAFinalBlock(t *testing.T) {
	src := []byte("go_goroutines 11\ngo_goroutines 11\n")
	r := bytes.NewReader(append(deflateFixed(nil, src), "trailing"...))
	got, err := io.ReadAll(flate.NewReader(r))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("inflated %q, %v", got, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "trailing" {
		t.Fatalf("the reader went past the final block: %q left", rest)
	}
}

func BenchmarkDeflateFixed(b *testing.B) {
	var text strings.Builder
	for i := 0; text.Len() < 10<<10; i++ {
		text.WriteString("# HELP go_memstats_x_" + strconv.Itoa(i) + " Number of bytes.\n# TYPE go_memstats_x gauge\ngo_memstats_x_" + strconv.Itoa(i) + " 1.2345e+06\n")
	}
	src := []byte(text.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out = deflateFixed(out[:0], src)
	}
	b.ReportMetric(float64(len(out)), "bytes_out")
}
