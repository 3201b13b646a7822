// Package pagecontract is the contract between the simulator and the provider clients, for the
// clients' tests: a page the simulator serves must decode into the client's own page type with
// unknown fields rejected, and carry the fields of the real page (the client's testdata fixture,
// recorded from the provider's documentation) and no others. Only tests import it.
//
// The real APIs send fields no client reads ("object", "user_id", ...), so rejecting unknown
// fields outright would reject the real pages too. Check therefore removes from the simulated
// page only the fields that the real page also has and the client's type does not read; any
// other field the type does not know fails the strict decode.
package pagecontract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Check decodes every simulated page of one endpoint strictly into a new T and compares their
// fields with the real pages' (fixtures), returning the decoded pages and every disagreement, each
// naming the field by its path (data[].results[].model):
//   - a field a simulated page has and no real page has (the simulator invents it);
//   - a field the client reads that a real page has and no simulated page has, where the simulated
//     pages have the object holding it;
//   - a field T does not know (json.Decoder.DisallowUnknownFields) or of the wrong JSON kind.
//
// optional names fields of the real pages the simulated ones may leave out.
func Check[T any](pages, fixtures [][]byte, optional ...string) ([]T, error) {
	return compare[T](pages, fixtures, true, optional)
}

// CheckAgainstSpec is Check against reference pages served from the API's whole specification
// (stripe-mock's, say), with T generated from the same specification (stripe-go's types): a
// field the simulated pages leave out is then no disagreement, and a simulated field is known when
// a reference page has it or T reads it.
func CheckAgainstSpec[T any](pages, reference [][]byte) ([]T, error) {
	return compare[T](pages, reference, false, nil)
}

func compare[T any](pages, fixtures [][]byte, missing bool, optional []string) ([]T, error) {
	if len(pages) == 0 || len(fixtures) == 0 {
		return nil, fmt.Errorf("%d simulated pages, %d fixtures: nothing to compare", len(pages), len(fixtures))
	}
	schema := schemaOf(reflect.TypeFor[T]())
	realPaths := map[string]bool{}
	for i, f := range fixtures {
		var real any
		if err := json.Unmarshal(f, &real); err != nil {
			return nil, fmt.Errorf("fixture %d: %w", i, err)
		}
		maps.Copy(realPaths, paths(real))
	}
	var errs []error
	simPaths := map[string]bool{}
	out := make([]T, len(pages))
	for i, page := range pages {
		var sim any
		if err := json.Unmarshal(page, &sim); err != nil {
			return nil, fmt.Errorf("simulated page %d: %w", i, err)
		}
		for _, p := range sorted(paths(sim)) {
			// Against a specification, the type's fields are the spec's too (stripe-go's are
			// generated from Stripe's), so a field it reads is known even where no reference
			// page holds the object (a discount stripe-mock's fixture leaves null).
			if !realPaths[p] && !simPaths[p] && !schema.opaque(p) && (missing || !schema.reads(p)) {
				errs = append(errs, fmt.Errorf("%s: the simulated page has it, no real page (fixture) has", p))
			}
			simPaths[p] = true
		}
		pruned, err := json.Marshal(prune(sim, schema, "", realPaths))
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(pruned))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			errs = append(errs, fmt.Errorf("simulated page %d: strict decode into %T: %w", i, out[i], err))
		}
	}
	for _, p := range sorted(realPaths) {
		if !missing {
			break
		}
		// Only where the simulated pages have the element holding it: a world without image usage
		// has no image result whose fields could be compared.
		if !strings.HasSuffix(p, "[]") && !simPaths[p] && schema.reads(p) && !schema.opaque(p) && !slices.Contains(optional, p) && (parent(p) == "" || simPaths[parent(p)]) {
			errs = append(errs, fmt.Errorf("%s: the client reads it and the real page has it; no simulated page has", p))
		}
	}
	return out, errors.Join(errs...)
}

// Recorder is a RoundTripper that keeps every response body Next gives, by URL path, so a test
// can run a client's own fetch against the simulator and then check each page it decoded.
type Recorder struct {
	Next http.RoundTripper

	mu    sync.Mutex
	pages map[string][][]byte
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.Next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode == http.StatusOK {
		r.mu.Lock()
		if r.pages == nil {
			r.pages = map[string][][]byte{}
		}
		r.pages[req.URL.Path] = append(r.pages[req.URL.Path], body)
		r.mu.Unlock()
	}
	return resp, nil
}

// Pages returns the bodies of every 200 answer to a path that match reports true for.
func (r *Recorder) Pages(match func(path string) bool) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, p := range sorted(keys(r.pages)) {
		if match(p) {
			out = append(out, r.pages[p]...)
		}
	}
	return out
}

// Paths returns every path answered with 200.
func (r *Recorder) Paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sorted(keys(r.pages))
}

func keys[V any](m map[string]V) map[string]bool {
	set := make(map[string]bool, len(m))
	for k := range m {
		set[k] = true
	}
	return set
}

// paths is the set of field paths in a decoded JSON document: obj.key, and arr[] for elements.
func paths(v any) map[string]bool {
	set := map[string]bool{}
	var walk func(string, any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				p := join(at, k)
				set[p] = true
				walk(p, e)
			}
		case []any:
			if len(v) > 0 {
				set[at+"[]"] = true // the array has elements: their fields are comparable
			}
			for _, e := range v {
				walk(at+"[]", e)
			}
		}
	}
	walk("", v)
	return set
}

// parent is the path of the object or array element holding the field at p ("" for the top).
func parent(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	if strings.HasSuffix(p, "[]") {
		return strings.TrimSuffix(p, "[]")
	}
	return ""
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// node is what a Go type reads of a JSON value: an object's named fields, an array's element,
// or anything at all (a map, an interface, a type with its own UnmarshalJSON).
type node struct {
	fields map[string]*node
	elem   *node
	any    bool
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func schemaOf(t reflect.Type) *node {
	return schemaSeen(t, map[reflect.Type]*node{})
}

func schemaSeen(t reflect.Type, seen map[reflect.Type]*node) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n, ok := seen[t]; ok {
		return n
	}
	// A struct with its own UnmarshalJSON still names its fields (stripe-go's objects decode an
	// alias of themselves, or an id string when unexpanded); any other such type is read whole.
	if t.Kind() != reflect.Struct && (t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)) {
		return &node{any: true}
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return &node{elem: schemaSeen(t.Elem(), seen)}
	case reflect.Map, reflect.Interface:
		return &node{any: true}
	case reflect.Struct:
		n := &node{fields: map[string]*node{}}
		seen[t] = n
		addFields(n, t, seen)
		return n
	default:
		return &node{} // a scalar: no fields below it
	}
}

// addFields adds t's JSON fields to n as encoding/json names them, embedded structs inlined.
func addFields(n *node, t reflect.Type, seen map[reflect.Type]*node) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(n, ft, seen)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		n.fields[name] = schemaSeen(ft, seen)
	}
}

// reads reports whether the type reads the value at path p.
func (n *node) reads(p string) bool {
	cur := n
	for _, part := range strings.Split(p, ".") {
		name := strings.TrimRight(part, "[]")
		if cur.any {
			return true
		}
		next, ok := cur.fields[name]
		if !ok {
			return false
		}
		cur = next
		for range (len(part) - len(name)) / 2 { // one element step per []
			if cur.any {
				return true
			}
			if cur.elem == nil {
				return false
			}
			cur = cur.elem
		}
	}
	return true
}

// opaque reports whether p lies inside a value the type reads whole (a map's keys are data, a
// RawMessage or an UnmarshalJSON has its own rules): such fields are not compared.
func (n *node) opaque(p string) bool {
	cur := n
	parts := strings.Split(p, ".")
	for i, part := range parts {
		name := strings.TrimRight(part, "[]")
		next, ok := cur.fields[name]
		if !ok {
			return false
		}
		cur = next
		for range (len(part) - len(name)) / 2 {
			if cur.any {
				return true
			}
			if cur.elem == nil {
				return false
			}
			cur = cur.elem
		}
		if cur.any && i < len(parts)-1 {
			return true
		}
	}
	return false
}

// prune removes the object fields that n does not read and the real page has (known), keeping
// every other field for the strict decode to reject.
func prune(v any, n *node, at string, known map[string]bool) any {
	if n == nil || n.any {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			p := join(at, k)
			child, ok := n.fields[k]
			switch {
			case ok:
				out[k] = prune(e, child, p, known)
			case !known[p]:
				out[k] = e
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = prune(e, n.elem, at+"[]", known)
		}
		return out
	default:
		return v
	}
}
