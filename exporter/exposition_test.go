package exporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// familyBlocks splits a text exposition into its families (HELP, TYPE and samples), sorted, so
// two expositions that differ only in family order compare equal.
func familyBlocks(text []byte) []string {
	blocks := strings.Split(string(text), "# HELP ")
	slices.Sort(blocks)
	return blocks
}

func TestExposition_IsWhatTheRegistryWritesByteForByte(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"defaults", func(*Options) {}},
		{"max_customers", func(o *Options) { o.MaxCustomers = 1 }},
		{"drop_model_label", func(o *Options) { o.DropModelLabel = true }},
		{"feature_label", func(o *Options) { o.FeatureLabel = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := goldenEngine(t)
			eng.revenue.Customers[1].Name = "Bolt \"Co\"\\ltd\nsecond line" // every escape
			p, _ := newPoller(t, eng, "", tt.mod)
			if err := p.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := gather(t, p)
			ops := prometheus.NewPedanticRegistry()
			ops.MustRegister(p.Collector().Health())
			e := NewExposition(ops, p.Collector(), nil)
			var got bytes.Buffer
			if err := e.Write(&got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(familyBlocks(got.Bytes()), familyBlocks(want)) {
				t.Fatalf("exposition differs from the registry's:\n--- got\n%s\n--- want\n%s", got.Bytes(), want)
			}
			promtoolCheckMetrics(t, got.Bytes())

			srv := httptest.NewServer(e)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || !bytes.Equal(body, got.Bytes()) {
				t.Fatalf("served %q with %d bytes, want the text format and the written exposition", ct, len(body))
			}
		})
	}
}

func TestExposition_BeforeTheFirstSnapshotHasOnlyTheOperationalMetrics(t *testing.T) {
	c := newCollector(Labels{})
	ops := prometheus.NewRegistry()
	ops.MustRegister(c.Health(), prometheus.NewGauge(prometheus.GaugeOpts{Name: "up_probe", Help: "A probe."}))
	var b bytes.Buffer
	if err := NewExposition(ops, c, nil).Write(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "up_probe 0") || strings.Contains(got, "margin_") {
		t.Fatalf("exposition before any snapshot:\n%s", got)
	}
}

// scrape GETs url with the given Accept-Encoding, returning the raw (still encoded) body.
func scrape(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Set explicitly, so net/http neither adds gzip nor decodes the body behind the test's back.
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// gunzipOneMember decodes raw as exactly one gzip member (header, deflate, CRC-32 and size
// checked by compress/gzip) with nothing after it.
func gunzipOneMember(t *testing.T, raw []byte) []byte {
	t.Helper()
	br := bytes.NewReader(raw)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if br.Len() != 0 {
		t.Fatalf("%d bytes after the gzip member", br.Len())
	}
	return out
}

func TestExposition_GzipScrapeDecodesToTheSameBytes(t *testing.T) {
	eng := goldenEngine(t)
	p, _ := newPoller(t, eng, "")
	ops := prometheus.NewPedanticRegistry()
	ops.MustRegister(p.Collector().Health(), prometheus.NewGauge(prometheus.GaugeOpts{Name: "up_probe", Help: "A probe."}))
	e := NewExposition(ops, p.Collector(), nil)
	srv := httptest.NewServer(e)
	defer srv.Close()

	check := func(t *testing.T) []byte {
		var written bytes.Buffer
		if err := e.Write(&written); err != nil {
			t.Fatal(err)
		}
		resp, plain := scrape(t, srv.URL, "identity")
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, written.Bytes()) {
			t.Fatalf("identity scrape: encoding %q, %d bytes, want the %d written", resp.Header.Get("Content-Encoding"), len(plain), written.Len())
		}
		for _, ae := range []string{"gzip", "deflate, gzip;q=1.0, *;q=0.5", "GZIP", "*"} {
			resp, raw := scrape(t, srv.URL, ae)
			if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, Vary %q", ae, resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
			}
			if got := gunzipOneMember(t, raw); !bytes.Equal(got, plain) {
				t.Fatalf("Accept-Encoding %q: gzip scrape decodes to %d bytes that differ from the %d plain ones:\n%s", ae, len(got), len(plain), got)
			}
			if len(raw) >= len(plain) && len(plain) > 1000 {
				t.Errorf("gzip body %d bytes, plain %d", len(raw), len(plain))
			}
		}
		resp, raw := scrape(t, srv.URL, "gzip;q=0, br")
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(raw, plain) {
			t.Fatalf("gzip;q=0 refused, yet the body came with encoding %q", resp.Header.Get("Content-Encoding"))
		}
		return plain
	}
	t.Run("before the first poll", func(t *testing.T) {
		if plain := check(t); strings.Contains(string(plain), "margin_llm") || !strings.Contains(string(plain), "up_probe 0") {
			t.Fatalf("exposition before any snapshot:\n%s", plain)
		}
	})
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run("after a poll", func(t *testing.T) {
		plain := check(t)
		if !strings.Contains(string(plain), "margin_llm_cost_usd_total{") {
			t.Fatalf("no business families in\n%s", plain)
		}
		promtoolCheckMetrics(t, plain)
		// The business part was compressed by the poll: every gzip scrape starts with its bytes.
		head := p.Collector().snap.Load().prepared(formatText).gz.head
		for range 2 {
			if _, raw := scrape(t, srv.URL, "gzip"); !bytes.HasPrefix(raw, head) {
				t.Fatal("the gzip scrape does not start with the snapshot's precompressed business text")
			}
		}
	})
}

// Over generated texts (empty, under and over deflate's 32 KiB window and its 64 KiB block, with
// repeats that invite back-references) and tails, the spliced member decodes to text+tail.
func TestGzipped_SplicedMemberDecodesToTextAndTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	word := func() string {
		words := []string{"margin_llm_cost_usd_total", `{customer_id="cus_`, `",model="gpt-4o"}`, " 0.25\n", "# HELP ", "\n"}
		return words[rng.IntN(len(words))] + strconv.Itoa(rng.IntN(1000))
	}
	gen := func(n int) []byte {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(word())
		}
		return []byte(b.String())
	}
	for _, size := range []int{0, 1, 100, 32 << 10, 70 << 10, 300 << 10} {
		for _, tailSize := range []int{0, 50, 5000, 40 << 10} {
			text, tail := gen(size), gen(tailSize)
			z := gzipText(text)
			var b bytes.Buffer
			b.Write(z.head)
			if err := z.finish(&b, tail); err != nil {
				t.Fatal(err)
			}
			if got := gunzipOneMember(t, b.Bytes()); !bytes.Equal(got, append(slices.Clip(text), tail...)) {
				t.Fatalf("text %d + tail %d bytes: decoded %d bytes that differ", len(text), len(tail), len(got))
			}
		}
	}
}

// Over the same kind of generated texts, a gzip head inflates back to its text exactly, and a
// corrupted head fails instead of writing wrong text.
func TestGzipped_InflatesToItsText(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, size := range []int{0, 1, 100, 32 << 10, 70 << 10, 300 << 10} {
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(`margin_llm_cost_usd_total{customer_id="cus_` + strconv.Itoa(rng.IntN(1000)) + `"} 0.25` + "\n")
		}
		text := []byte(b.String())
		z := gzipText(text)
		var got bytes.Buffer
		if err := z.inflate(&got); err != nil || !bytes.Equal(got.Bytes(), text) {
			t.Fatalf("text of %d bytes: inflated %d bytes (equal: %v), err %v", len(text), got.Len(), bytes.Equal(got.Bytes(), text), err)
		}
		if len(text) > 0 {
			bad := z
			bad.crc++
			if err := bad.inflate(io.Discard); err == nil {
				t.Fatalf("text of %d bytes: a wrong CRC inflated without an error", len(text))
			}
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"": false, "identity": false, "gzip": true, "x-gzip": true, "br, gzip": true, "gzip;q=0": false,
		"gzip; q=0.0": false, "gzip;q=0.001": true, "deflate": false, "*": true, "*;q=0": false, " GZip ;q=1": true,
		"*, gzip;q=0": false, "gzip;q=0, *": false, "*;q=0, gzip": true,
	} {
		if got := acceptsGzip([]string{ae}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
	if !acceptsGzip([]string{"br", "gzip"}) {
		t.Error("gzip in a second Accept-Encoding header is accepted")
	}
}

// scrapeAccept GETs url with the given Accept header and no compression.
func scrapeAccept(t *testing.T, url, accept, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// A scraper asking for OpenMetrics gets what promhttp with EnableOpenMetrics writes for the same
// families, byte for byte (expfmt's OpenMetrics encoder over the registry, # EOF last), plain or
// gzipped; one asking for anything else gets the text format. The next poll prepares the format
// scraped last.
func TestExposition_NegotiatesOpenMetricsAsPromhttpWritesIt(t *testing.T) {
	eng := goldenEngine(t)
	eng.revenue.Customers[1].Name = "Bolt \"Co\"\\ltd\nsecond line" // every escape
	p, _ := newPoller(t, eng, "", func(o *Options) { o.FeatureLabel = true })
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops := prometheus.NewPedanticRegistry()
	ops.MustRegister(p.Collector().Health())
	srv := httptest.NewServer(NewExposition(ops, p.Collector(), nil))
	defer srv.Close()

	// The oracle: every family through a registry and expfmt's encoder for the negotiated format.
	want := func(t *testing.T, f expfmt.Format) []byte {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(registryCollector{p.Collector()})
		var b bytes.Buffer
		if err := writeOps(&b, reg, f); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	prometheus3 := "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	for _, tt := range []struct {
		accept, contentType string
	}{
		{"application/openmetrics-text;version=1.0.0", "application/openmetrics-text; version=1.0.0"},
		{"application/openmetrics-text; version=0.0.1", "application/openmetrics-text; version=0.0.1"},
		{"application/openmetrics-text", "application/openmetrics-text; version=0.0.1"},
		{prometheus3, "application/openmetrics-text; version=1.0.0"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "text/plain; version=0.0.4"},
		{"text/plain;version=0.0.4", "text/plain; version=0.0.4"},
		{"", "text/plain; version=0.0.4"},
	} {
		resp, body := scrapeAccept(t, srv.URL, tt.accept, "identity")
		ct := resp.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, tt.contentType) {
			t.Fatalf("Accept %q: Content-Type %q, want %q", tt.accept, ct, tt.contentType)
		}
		if !slices.Contains(resp.Header.Values("Vary"), "Accept") {
			t.Errorf("Accept %q: Vary %q lacks Accept", tt.accept, resp.Header.Values("Vary"))
		}
		f := expfmt.Format(ct)
		if f.FormatType() == expfmt.TypeTextPlain {
			f = expfmt.NewFormat(expfmt.TypeTextPlain)
		}
		if w := want(t, f); !bytes.Equal(body, w) {
			t.Fatalf("Accept %q: body differs from expfmt's:\n--- got\n%s\n--- want\n%s", tt.accept, body, w)
		}
		if f.FormatType() == expfmt.TypeOpenMetrics {
			if !bytes.HasSuffix(body, []byte("\n# EOF\n")) || !bytes.Contains(body, []byte("# TYPE margin_llm_cost_usd counter\n")) {
				t.Fatalf("Accept %q: no # EOF or counter family named without _total:\n%s", tt.accept, body)
			}
			_, raw := scrapeAccept(t, srv.URL, tt.accept, "gzip")
			if got := gunzipOneMember(t, raw); !bytes.Equal(got, body) {
				t.Fatalf("Accept %q: the gzip scrape decodes to other bytes", tt.accept)
			}
		}
	}

	// The last scrape asked for text: the next poll prepares text only; after an OpenMetrics
	// scrape, OpenMetrics only.
	for _, om := range []bool{false, true} {
		accept := "text/plain"
		if om {
			accept = "application/openmetrics-text"
		}
		scrapeAccept(t, srv.URL, accept, "gzip")
		if err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := p.Collector().snap.Load()
		if text, omText := s.rendered[0].p.gz.head != nil, s.rendered[1].p.gz.head != nil; text == om || omText != om {
			t.Fatalf("after a %s scrape the poll prepared text %v, OpenMetrics %v", accept, text, omText)
		}
	}
}
