package exporter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// receiver is a push target that keeps every body it gets.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	got    chan struct{}
}

func newReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{got: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		r.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL + "/api/v1/import/prometheus"
}

func demoExposition(t *testing.T) (*Exposition, *Poller) {
	t.Helper()
	_, eng := simWorld(t)
	p, _ := newPoller(t, eng, "")
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector().Health(), collectors.NewGoCollector())
	return NewExposition(reg, p.Collector(), nil), p
}

func TestPushOnce_SendsTheLintCleanExposition(t *testing.T) {
	reg, _ := demoExposition(t)
	rcv, url := newReceiver(t)
	if err := PushOnce(context.Background(), url, reg, newTestLogger()); err != nil {
		t.Fatal(err)
	}
	body := rcv.bodies[0]
	for _, want := range []string{"# HELP margin_llm_cost_usd_total LLM spend", "margin_customer_info{", "go_goroutines "} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("pushed body lacks %q", want)
		}
	}
	promtoolCheckMetrics(t, body)
}

func TestStartPush_PushesEveryInterval(t *testing.T) {
	reg, _ := demoExposition(t)
	rcv, url := newReceiver(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := StartPush(ctx, url, 50*time.Millisecond, reg, newTestLogger()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-rcv.got:
		case <-time.After(10 * time.Second):
			t.Fatal("no push arrived")
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	promtoolCheckMetrics(t, rcv.bodies[1])
}
