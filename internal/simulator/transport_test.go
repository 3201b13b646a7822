package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The in-process transport serves a page of many chunks byte for byte as the handler writes it.
func TestTransport_ServesTheHandlersBytes(t *testing.T) {
	w := New(Config{Now: testNow, ExtraOpenAIKeys: 50, ModelsPerKey: 10, Indent: true})
	path := fmt.Sprintf("/openai/v1/organization/costs?start_time=%d&limit=7&group_by=project_id&group_by=api_key_id&group_by=line_item",
		testNow.Add(-7*24*time.Hour).Truncate(24*time.Hour).Unix())
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+OpenAIAdminKey)
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, req)
	want := rec.Body.Bytes()
	if len(want) < 20*flushBytes {
		t.Fatalf("the page is %d bytes, want one of many chunks", len(want))
	}
	treq, _ := http.NewRequest(http.MethodGet, "http://sim.invalid"+path, nil)
	treq.Header.Set("Authorization", "Bearer "+OpenAIAdminKey)
	resp, err := w.Transport().RoundTrip(treq)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(iotest{resp.Body}) // small reads, as a decoder makes
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want the handler's %d", len(got), err, len(want))
	}
}

// iotest reads at most 1000 bytes at a time.
type iotest struct{ r io.Reader }

func (r iotest) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 1000)]) }

// Closing the body mid-page makes the handler's writes fail, so it stops, and reads fail.
func TestTransport_CloseStopsTheHandler(t *testing.T) {
	stopped := make(chan error, 1)
	tr := transport{h: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1000)
		for {
			if _, err := rw.Write(chunk); err != nil {
				stopped <- err
				return
			}
		}
	})}
	req, _ := http.NewRequest(http.MethodGet, "http://sim.invalid/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	select {
	case err := <-stopped:
		if !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("the handler's write failed with %v, want io.ErrClosedPipe", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still writes after the body was closed")
	}
	if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
		t.Error("a read after Close succeeded")
	}
}
