package simulator

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Handler serves the four fakes under /openai/v1, /anthropic, /openrouter/api/v1 and /stripe.
func (w *World) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/openai/v1/", w.guard("openai", http.StripPrefix("/openai/v1", w.openaiHandler())))
	mux.Handle("/anthropic/", w.guard("anthropic", http.StripPrefix("/anthropic", w.anthropicHandler())))
	mux.Handle("/openrouter/api/v1/", w.guard("openrouter", http.StripPrefix("/openrouter/api/v1", w.openrouterHandler())))
	mux.Handle("/stripe/", w.guard("stripe", http.StripPrefix("/stripe", w.stripeHandler())))
	if w.cfg.Indent {
		return indenting(mux)
	}
	return mux
}

// guard answers with the failure status SetFailing installed, in the provider's own error envelope.
func (w *World) guard(p string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		status := w.failure(p)
		if status == 0 {
			next.ServeHTTP(rw, r)
			return
		}
		if status == http.StatusTooManyRequests {
			rw.Header().Set("Retry-After", "1")
		}
		msg := fmt.Sprintf("simulated failure (%d %s)", status, http.StatusText(status))
		switch p {
		case "openai":
			openaiError(rw, status, "server_error", msg, "")
		case "anthropic":
			typ := "api_error"
			switch status {
			case http.StatusTooManyRequests:
				typ = "rate_limit_error"
			case 529:
				typ = "overloaded_error"
			case http.StatusUnauthorized:
				typ = "authentication_error"
			case http.StatusForbidden:
				typ = "permission_error"
			}
			anthropicError(rw, r, status, typ, msg)
		case "openrouter":
			openrouterError(rw, status, msg)
		default:
			stripeError(rw, status, "api_error", "", msg, "")
		}
	})
}

// Transport returns a RoundTripper that serves requests in process, with no socket at all. The body
// streams through a pipe of a few chunks, so a large page is never held whole in memory.
func (w *World) Transport() http.RoundTripper { return transport{h: w.Handler()} }

type transport struct{ h http.Handler }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.Body != nil {
		_ = req.Body.Close() // the fakes only serve GETs
	}
	body := newChunkPipe()
	rw := &pipeWriter{header: http.Header{}, pw: body, started: make(chan struct{})}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK) // a handler that wrote nothing still answers
			body.closeWrite()
		}()
		t.h.ServeHTTP(rw, req)
	}()
	select {
	case <-rw.started:
	case <-req.Context().Done():
		_ = body.Close()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rw.status, http.StatusText(rw.status)),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          body,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the ResponseWriter of the in-process transport.
type pipeWriter struct {
	header  http.Header
	sent    http.Header // snapshot taken at WriteHeader
	pw      *chunkPipe
	status  int
	started chan struct{}
}

func (p *pipeWriter) Header() http.Header { return p.header }

func (p *pipeWriter) WriteHeader(status int) {
	if p.status != 0 {
		return
	}
	p.status = status
	p.sent = p.header.Clone()
	close(p.started)
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return p.pw.write(b)
}

// pipeDepth is how many written chunks may wait for the reader.
const pipeDepth = 4

// chunkPipe is the response body of the in-process transport: like io.Pipe, except that a write
// hands over a copy and returns while fewer than pipeDepth chunks wait, as bytes wait in a
// socket's buffers. So the handler writes the next part of a page while the client reads the
// last one, where io.Pipe makes them take turns, and memory stays bounded by the depth.
type chunkPipe struct {
	chunks chan []byte
	free   chan []byte // read chunks, for the writer to reuse (per body: nothing outlives a request)
	done   chan struct{}
	once   sync.Once
	cur    []byte // what is left of the chunk being read
	buf    []byte // the chunk being read, whole
}

func newChunkPipe() *chunkPipe {
	return &chunkPipe{chunks: make(chan []byte, pipeDepth), free: make(chan []byte, pipeDepth+2), done: make(chan struct{})}
}

// write sends a copy of b, or fails once the reader has closed.
func (c *chunkPipe) write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	select {
	case <-c.done:
		return 0, io.ErrClosedPipe
	default:
	}
	var chunk []byte
	select {
	case chunk = <-c.free:
	default:
		if p, ok := chunkPool.Get().(*[]byte); ok {
			chunk = *p
		}
	}
	chunk = append(chunk[:0], b...)
	select {
	case c.chunks <- chunk:
		return len(b), nil
	case <-c.done:
		return 0, io.ErrClosedPipe
	}
}

// closeWrite ends the body: the reader gets io.EOF after the last chunk. The handler's goroutine
// calls it once, after its last write.
func (c *chunkPipe) closeWrite() { close(c.chunks) }

func (c *chunkPipe) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.buf != nil {
			select {
			case c.free <- c.buf:
			default:
			}
			c.buf = nil
		}
		select {
		case chunk, ok := <-c.chunks:
			if !ok {
				c.recycle()
				return 0, io.EOF
			}
			c.cur, c.buf = chunk, chunk
		case <-c.done:
			return 0, io.ErrClosedPipe
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// chunkPool keeps the chunks of finished bodies for the next ones (a later poll reads dozens of
// bodies); being a sync.Pool, it holds nothing for long once the requests stop.
var chunkPool sync.Pool

// recycle gives the body's chunks to chunkPool once the reader has read them all: the writer has
// closed, so none is in use.
func (c *chunkPipe) recycle() {
	for {
		select {
		case chunk := <-c.free:
			chunkPool.Put(&chunk)
		default:
			return
		}
	}
}

// Close stops the handler's writes (they fail) and frees the chunks waiting.
func (c *chunkPipe) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// listParam reads an array parameter in every encoding clients use: brackets (name[]=a&name[]=b),
// indexed brackets (name[0]=a), repeated keys (name=a&name=b) and comma lists (name=a,b).
func listParam(q url.Values, name string) []string {
	var out []string
	add := func(vs []string) {
		for _, v := range vs {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
	}
	add(q[name])
	add(q[name+"[]"])
	for i := 0; ; i++ {
		vs, ok := q[name+"["+strconv.Itoa(i)+"]"]
		if !ok {
			break
		}
		add(vs)
	}
	return out
}

func set(vs []string) map[string]bool {
	if len(vs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// allowed reports whether v passes a filter (a nil filter passes everything).
func allowed(filter map[string]bool, v string) bool { return filter == nil || filter[v] }

// pageToken and parsePageToken make the opaque cursors both admin APIs use: "page_" + base64.
func pageToken(s string) string { return "page_" + base64.StdEncoding.EncodeToString([]byte(s)) }

func parsePageToken(tok string) (string, bool) {
	raw, ok := strings.CutPrefix(tok, "page_")
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// bucketWidth maps a bucket_width value to seconds and the limit default and maximum (the same
// table for OpenAI usage and Anthropic usage).
func bucketWidth(v string) (width int64, def, max int, ok bool) {
	switch v {
	case "", "1d":
		return secondsPerDay, 7, 31, true
	case "1h":
		return 3600, 24, 168, true
	case "1m":
		return 60, 60, 1440, true
	}
	return 0, 0, 0, false
}

// parseLimit reads limit: def when absent, an error message when outside [1, max].
func parseLimit(q url.Values, def, max int) (int, string) {
	v := q.Get("limit")
	if v == "" {
		return def, ""
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Sprintf("Invalid value for 'limit': must be an integer between 1 and %d.", max)
	}
	return n, ""
}
