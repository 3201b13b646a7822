package simulator

import "net/http"

// indenting re-indents every JSON body h writes, as it streams: the fakes write compact JSON by
// hand, and real pages arrive indented, half again as large.
func indenting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		iw := &indentWriter{ResponseWriter: rw}
		h.ServeHTTP(iw, r)
	})
}

// indentWriter is a streaming JSON indenter: a small state machine over the bytes (inside a
// string or not, after a backslash or not) that needs no buffer beyond one write.
type indentWriter struct {
	http.ResponseWriter
	depth         int
	inString, esc bool
	open          bool // the last byte opened an object or array: "{}" and "[]" stay on one line
	buf           []byte
}

func (w *indentWriter) WriteHeader(status int) {
	w.Header().Del("Content-Length") // the body grows
	w.ResponseWriter.WriteHeader(status)
}

func (w *indentWriter) newline() {
	w.buf = append(w.buf, '\n')
	for range w.depth {
		w.buf = append(w.buf, ' ', ' ')
	}
}

func (w *indentWriter) Write(p []byte) (int, error) {
	w.buf = w.buf[:0]
	for _, c := range p {
		if w.inString {
			w.buf = append(w.buf, c)
			switch {
			case w.esc:
				w.esc = false
			case c == '\\':
				w.esc = true
			case c == '"':
				w.inString = false
			}
			continue
		}
		if w.open && c != '}' && c != ']' {
			w.open = false
			w.newline()
		}
		switch c {
		case '{', '[':
			w.buf = append(w.buf, c)
			w.depth++
			w.open = true
			continue
		case '}', ']':
			w.depth--
			if !w.open {
				w.newline()
			}
			w.open = false
			w.buf = append(w.buf, c)
		case ',':
			w.buf = append(w.buf, c)
			w.newline()
		case ':':
			w.buf = append(w.buf, ':', ' ')
		case '"':
			w.inString = true
			w.buf = append(w.buf, c)
		default:
			w.buf = append(w.buf, c)
		}
	}
	if _, err := w.ResponseWriter.Write(w.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
