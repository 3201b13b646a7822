package stripe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"github.com/marginhq/margin/internal/usage"
)

// stripeMockVersion serves exactly API version 2023-10-16, stripe-go v76's (tooling-notes.md §2).
const stripeMockVersion = "v0.180.0"

// findStripeMock locates the stripe-mock binary: $STRIPE_MOCK_BIN, then PATH, then GOPATH/bin.
// findStripeMock finds stripe-mock or fails with how to install it; under -short (`make
// test-short`, no peers needed) it skips the test.
func findStripeMock(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs stripe-mock")
	}
	install := fmt.Sprintf("run `go install github.com/stripe/stripe-mock@%s`", stripeMockVersion)
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("STRIPE_MOCK_BIN=%s: %v; unset it or %s", p, err, install)
		}
		return p
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "stripe-mock")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatalf("stripe-mock not found ($STRIPE_MOCK_BIN, PATH, $(go env GOPATH)/bin): %s", install)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startStripeMock runs stripe-mock on loopback only (both listeners: given only -http-addr it
// would still open HTTPS on all interfaces) and returns its HTTP base URL once it answers.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin := findStripeMock(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr, "-strict-version-check")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("stripe-mock output:\n%s", logs.String())
		}
	})
	base := "http://" + httpAddr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/customers")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not answer on %s: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClient_AgainstStripeMock proves our requests are valid API 2023-10-16 requests: stripe-mock
// validates every parameter against the spec and answers 400 for anything unknown. It is
// stateless and returns one fixture object per list, so only shapes are asserted.
func TestClient_AgainstStripeMock(t *testing.T) {
	base := startStripeMock(t)
	c, err := New(Options{APIKey: "sk_test_123", BaseURL: base, HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now: func() time.Time { return time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	w := usage.Window{From: usage.DayOf(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), To: usage.DayOf(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))}
	rev, err := c.Fetch(ctx, w)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(rev.Customers) != 1 || !strings.HasPrefix(rev.Customers[0].ID, "cus_") {
		t.Errorf("want the one fixture customer, got %+v", rev.Customers)
	}
	for _, d := range rev.Daily {
		if !w.Contains(d.Day) || d.Customer == "" {
			t.Errorf("revenue row outside the window or without customer: %+v", d)
		}
	}

	// The lines endpoint with starting_after, as used when embedded lines have more pages.
	inv := &apiInvoice{ID: "in_mock", Lines: &apiList[apiInvoiceLine]{
		ListMeta: stripego.ListMeta{HasMore: true},
		Data:     []*apiInvoiceLine{{ID: "il_embedded"}},
	}}
	if err := c.completeLines(ctx, inv); err != nil {
		t.Fatalf("listing invoice lines: %v", err)
	}
	if len(inv.Lines.Data) < 2 || inv.Lines.Data[1].Period == nil {
		t.Errorf("want the embedded line plus stripe-mock's fixture line with a period, got %d lines", len(inv.Lines.Data))
	}

	// An unknown parameter is rejected, so the calls above really were validated.
	bad := &stripego.CustomerListParams{}
	bad.Limit = stripego.Int64(1)
	bad.Single = true
	bad.Filters.AddFilter("no_such_param", "", "1")
	it := iter[apiCustomer](c.api, "/v1/customers", bad)
	for it.Next() {
	}
	var se *statusError
	if err := it.Err(); !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || se.Type != "invalid_request_error" {
		t.Errorf("stripe-mock accepted an unknown parameter (err %v): the validation this test relies on is off", err)
	}
}
