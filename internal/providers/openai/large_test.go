package openai_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/openai"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// pageSizes is a transport that keeps the size of the largest response body.
type pageSizes struct {
	next    http.RoundTripper
	mu      sync.Mutex
	largest int64
}

type sizedBody struct {
	io.ReadCloser
	p *pageSizes
	n int64
}

func (s *sizedBody) Read(b []byte) (int, error) {
	n, err := s.ReadCloser.Read(b)
	s.n += int64(n)
	s.p.mu.Lock()
	s.p.largest = max(s.p.largest, s.n)
	s.p.mu.Unlock()
	return n, err
}

func (p *pageSizes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(r)
	if err == nil {
		resp.Body = &sizedBody{ReadCloser: resp.Body, p: p}
	}
	return resp, err
}

// Pages of indented JSON far larger than any buffer of the client (tens of megabytes) decode as
// they stream, and the costs read add up, day by day, to exactly what the world bills.
func TestFetch_IndentedPagesLargerThanAnyBuffer_TotalsEqualBilled(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	w := simulator.New(simulator.Config{Now: now, ExtraOpenAIKeys: 300, ModelsPerKey: 10, Indent: true})
	sizes := &pageSizes{next: w.Transport()}
	base, _, _, _ := simulator.BaseURLs("http://sim.invalid")
	c, err := openai.New(openai.Options{AdminKey: secret.String(simulator.OpenAIAdminKey), BaseURL: base,
		HTTPClient: &http.Client{Transport: sizes}, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	today := usage.DayOf(now)
	b, err := c.Fetch(context.Background(), usage.Window{From: today - 14, To: today})
	if err != nil {
		t.Fatal(err)
	}
	if sizes.largest < 16<<20 {
		t.Fatalf("largest page %d bytes: the test needs pages larger than any buffer", sizes.largest)
	}
	perDay := map[usage.Day]ledger.Money{}
	for _, cr := range b.Costs {
		perDay[cr.Day] += cr.Amount
	}
	for d := today - 14; d < today; d++ {
		if want := w.BilledTotal(usage.OpenAI, d); perDay[d] != want || want == 0 {
			t.Errorf("%s: costs %s, billed %s", d, perDay[d], want)
		}
	}
}
