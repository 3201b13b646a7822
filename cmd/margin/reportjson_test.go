package main

import (
	"encoding"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
)

// jsonField is one field of the JSON report: its path (customers[].name) and its JSON type.
type jsonField struct{ path, typ string }

var (
	moneyType = reflect.TypeFor[ledger.Money]()
	jsonTag   = regexp.MustCompile(`^([^,]*)(,.*)?$`)
)

// reportFields lists every field `margin report --format=json` can print, from the Go types that
// encode it.
var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

func reportFields(t reflect.Type, prefix string) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := jsonTag.FindStringSubmatch(f.Tag.Get("json"))
		if !f.IsExported() || tag == nil || tag[1] == "-" || tag[1] == "" {
			continue
		}
		path := prefix + tag[1]
		ft := f.Type
		var typ string
		var children []jsonField
		switch {
		case ft == moneyType:
			typ = "decimal"
		case ft.Implements(textMarshalerType): // a named value that marshals as its name
			typ = "string"
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Float64:
			typ = "number or null"
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			typ, children = "object", reportFields(ft.Elem(), path+".")
		case ft.Kind() == reflect.Struct:
			typ, children = "object", reportFields(ft, path+".")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			typ, children = "array of objects", reportFields(ft.Elem(), path+"[].")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			typ = "array of strings"
		case ft.Kind() == reflect.String:
			typ = "string"
		case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64:
			typ = "integer"
		case ft.Kind() == reflect.Float64:
			typ = "number"
		case ft.Kind() == reflect.Bool:
			typ = "boolean"
		default:
			panic("report field " + path + ": type " + ft.String() + " has no JSON type here")
		}
		if strings.Contains(tag[2], "omitempty") {
			typ += ", optional"
		}
		out = append(out, jsonField{path, typ})
		out = append(out, children...)
	}
	return out
}

// documentedFields reads the field table of docs/report-json.md: rows of | `path` | type | … |.
func documentedFields(t *testing.T) []jsonField {
	t.Helper()
	doc, err := os.ReadFile("../../docs/report-json.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| ([^|]+?) \\|")
	var out []jsonField
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		out = append(out, jsonField{m[1], m[2]})
	}
	return out
}

func TestReportJSON_DocumentedFieldsAreTheReportsFields(t *testing.T) {
	code := reportFields(reflect.TypeFor[engine.Report](), "")
	doc := documentedFields(t)
	if len(doc) < 50 {
		t.Fatalf("docs/report-json.md documents %d fields: is its table still `| `path` | type | meaning |`?", len(doc))
	}
	documented := map[string]string{}
	for _, f := range doc {
		if _, dup := documented[f.path]; dup {
			t.Errorf("docs/report-json.md lists %s twice", f.path)
		}
		documented[f.path] = f.typ
	}
	inCode := map[string]bool{}
	for _, f := range code {
		inCode[f.path] = true
		typ, ok := documented[f.path]
		switch {
		case !ok:
			t.Errorf("%s (%s) is in the JSON report but not in docs/report-json.md", f.path, f.typ)
		case typ != f.typ:
			t.Errorf("%s: docs/report-json.md says %q, the report encodes %q", f.path, typ, f.typ)
		}
	}
	for _, f := range doc {
		if !inCode[f.path] {
			t.Errorf("docs/report-json.md documents %s, which the JSON report does not have", f.path)
		}
	}
}

// Every field the document does not call optional is in the simulated world's JSON output.
func TestReportJSON_DemoOutputHasEveryRequiredDocumentedField(t *testing.T) {
	out, _, err := runCLI(t, "report", "--demo", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	var rep any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range documentedFields(t) {
		if strings.HasSuffix(f.typ, ", optional") && f.path != "forecast" {
			continue
		}
		if !hasPath(rep, strings.Split(f.path, ".")) {
			missing = append(missing, f.path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the demo report lacks the documented fields %v", missing)
	}
}

// hasPath reports whether v has the path; a "name[]" step needs a non-empty array whose every
// element has the rest of the path.
func hasPath(v any, path []string) bool {
	if len(path) == 0 {
		return true
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	name, array := strings.CutSuffix(path[0], "[]")
	child, ok := obj[name]
	if !ok {
		return false
	}
	if !array {
		return hasPath(child, path[1:])
	}
	items, ok := child.([]any)
	if !ok || len(items) == 0 {
		return false
	}
	for _, it := range items {
		if !hasPath(it, path[1:]) {
			return false
		}
	}
	return true
}

// The README points at the JSON contract inside the repository, and at nothing outside it.
func TestREADME_LinksStayInTheRepository(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readme), "../") {
		t.Error("README.md refers to a path outside the repository (../)")
	}
	if !strings.Contains(string(readme), "(docs/report-json.md)") {
		t.Error("README.md does not link docs/report-json.md")
	}
	link := regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`)
	for _, m := range link.FindAllStringSubmatch(string(readme), -1) {
		target := m[1]
		if strings.Contains(target, "://") {
			continue
		}
		if _, err := os.Stat("../../" + target); err != nil {
			t.Errorf("README.md links %s, which is not in the repository", target)
		}
	}
}
