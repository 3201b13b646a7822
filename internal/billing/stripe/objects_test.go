package stripe

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	stripego "github.com/stripe/stripe-go/v76"
)

// objectPair is one of Margin's object types beside the stripe-go type it stands in for.
type objectPair struct {
	name       string
	api, strgo func() any // new zero values, pointers
}

var objectPairs = []objectPair{
	{"customer", func() any { return &apiCustomer{} }, func() any { return &stripego.Customer{} }},
	{"product", func() any { return &apiProduct{} }, func() any { return &stripego.Product{} }},
	{"subscription", func() any { return &apiSubscription{} }, func() any { return &stripego.Subscription{} }},
	{"subscription item", func() any { return &apiSubscriptionItem{} }, func() any { return &stripego.SubscriptionItem{} }},
	{"invoice", func() any { return &apiInvoice{} }, func() any { return &stripego.Invoice{} }},
	{"invoice line", func() any { return &apiInvoiceLine{} }, func() any { return &stripego.InvoiceLineItem{} }},
	{"credit note", func() any { return &apiCreditNote{} }, func() any { return &stripego.CreditNote{} }},
	{"event", func() any { return &apiEvent{} }, func() any { return &stripego.Event{} }},
	{"usage record summary", func() any { return &apiUsageRecordSummary{} }, func() any { return &stripego.UsageRecordSummary{} }},
}

// objectFixtures are testdata's objects by the type they are, and the shapes the fixtures do not
// have: expanded references beside bare ids, null and absent fields, events.
func objectFixtures(t testing.TB) map[string][]json.RawMessage {
	files := map[string]string{
		"customer": "customers.json", "product": "products.json", "subscription": "subscriptions.json",
		"subscription item": "subscription_items.json", "invoice": "invoices.json",
		"invoice line": "invoice_lines.json", "credit note": "credit_notes.json",
	}
	out := map[string][]json.RawMessage{}
	for name, file := range files {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		var objs []json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) { // lines by invoice id
			var byID map[string][]json.RawMessage
			if err := json.Unmarshal(b, &byID); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, id := range slices.Sorted(maps.Keys(byID)) {
				objs = append(objs, byID[id]...)
			}
		} else if err := json.Unmarshal(b, &objs); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out[name] = append(out[name], objs...)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "subscriptions_forecast.json"))
	if err != nil {
		t.Fatal(err)
	}
	var forecast []json.RawMessage
	if err := json.Unmarshal(b, &forecast); err != nil {
		t.Fatal(err)
	}
	out["subscription"] = append(out["subscription"], forecast...)
	out["subscription"] = append(out["subscription"], []json.RawMessage{
		json.RawMessage(`{"id":"sub_x","customer":{"id":"cus_x","object":"customer","name":"X"},"status":"past_due",` +
			`"latest_invoice":"in_x","discount":null,"discounts":["di_1",{"id":"di_2","coupon":{"id":"C","percent_off":12.5},"end":99}],` +
			`"pause_collection":{"behavior":"void","resumes_at":1790000000},"cancel_at":1790000001,"cancel_at_period_end":true,"trial_end":5,` +
			`"items":{"object":"list","has_more":true,"url":"/v1/subscription_items","data":[{"id":"si_1","quantity":3,"deleted":false,` +
			`"price":{"id":"price_1","product":{"id":"prod_1","name":"Pro"},"billing_scheme":"per_unit","unit_amount":null,` +
			`"custom_unit_amount":{"maximum":null,"minimum":100,"preset":null},"recurring":{"interval":"month","interval_count":2,"usage_type":"metered"}}},` +
			`{"id":"si_2","price":"price_2","discounts":["di_3"]}]}}`),
		json.RawMessage(`{"id":"sub_y","customer":"cus_y","latest_invoice":{"id":"in_y","status":"draft","auto_advance":true,` +
			`"created":10,"currency":"eur","total_excluding_tax":1234,"lines":{"data":[],"has_more":false}},"items":null}`),
		json.RawMessage(`"sub_z"`),
	}...)
	out["invoice"] = append(out["invoice"], []json.RawMessage{
		json.RawMessage(`{"id":"in_e","customer":{"id":"cus_e","object":"customer"},"subscription":{"id":"sub_e","object":"subscription"},` +
			`"status":"paid","effective_at":null,"status_transitions":{"finalized_at":77},"lines":{"data":[{"id":"il_1","amount":5,` +
			`"amount_excluding_tax":null,"discount_amounts":[{"amount":1,"discount":"di_1"}],"period":null}],"has_more":true}}`),
		json.RawMessage(`{"id":"in_f","customer":null,"subscription":"sub_f","status":"void","lines":null}`),
	}...)
	out["credit note"] = append(out["credit note"], json.RawMessage(
		`{"id":"cn_e","customer":{"id":"cus_e","object":"customer"},"invoice":"in_e","status":"issued","total":100,`+
			`"total_excluding_tax":null,"tax_amounts":[{"amount":20,"inclusive":false}],"effective_at":null,"created":9}`))
	out["customer"] = append(out["customer"],
		json.RawMessage(`{"id":"cus_d","object":"customer","deleted":true}`),
		json.RawMessage(`{"id":"cus_m","metadata":{},"email":null,"name":null,"currency":null}`))
	out["event"] = []json.RawMessage{
		json.RawMessage(`{"id":"evt_1","object":"event","type":"invoice.paid","created":1796000000,"data":{"object":{"id":"in_1","object":"invoice"},"previous_attributes":{"status":"open"}}}`),
		json.RawMessage(`{"id":"evt_2","type":"customer.deleted","created":1,"data":{"object":null}}`),
		json.RawMessage(`{"id":"evt_3","type":"product.updated","created":2}`),
	}
	out["usage record summary"] = []json.RawMessage{
		json.RawMessage(`{"id":"sis_1","object":"usage_record_summary","period":{"start":1,"end":null},"total_usage":42,"subscription_item":"si_1"}`),
		json.RawMessage(`{"id":"sis_2","period":null,"total_usage":null}`),
	}
	return out
}

// TestObjects_DecodeAsStripeGo: every field of Margin's object types decodes to what the field of
// the same name in stripe-go's type decodes to, over testdata's objects and expanded, bare and
// null references, so reading Stripe through them changes nothing Margin computes.
func TestObjects_DecodeAsStripeGo(t *testing.T) {
	fixtures := objectFixtures(t)
	for _, p := range objectPairs {
		objs := fixtures[p.name]
		if len(objs) == 0 {
			t.Fatalf("no fixtures for %s", p.name)
		}
		for i, raw := range objs {
			a, s := p.api(), p.strgo()
			errA, errS := json.Unmarshal(raw, a), json.Unmarshal(raw, s)
			if errA != nil || errS != nil {
				t.Fatalf("%s %d: decoding: margin %v, stripe-go %v", p.name, i, errA, errS)
			}
			sameFields(t, p.name, reflect.ValueOf(a), reflect.ValueOf(s))
		}
	}
}

// FuzzObjects_DecodeAsStripeGo: whatever stripe-go's type accepts, Margin's accepts, with the same
// value in every field Margin reads.
func FuzzObjects_DecodeAsStripeGo(f *testing.F) {
	for _, objs := range objectFixtures(f) {
		for _, raw := range objs {
			f.Add([]byte(raw))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range objectPairs {
			a, s := p.api(), p.strgo()
			if json.Unmarshal(raw, s) != nil {
				continue
			}
			if err := json.Unmarshal(raw, a); err != nil {
				t.Fatalf("%s: stripe-go decodes %s, margin fails: %v", p.name, raw, err)
			}
			sameFields(t, p.name, reflect.ValueOf(a), reflect.ValueOf(s))
		}
	})
}

// sameFields compares each field of a (one of Margin's types) with the field of that name in s.
func sameFields(t testing.TB, path string, a, s reflect.Value) {
	t.Helper()
	if a.Kind() == reflect.Pointer {
		if s.Kind() != reflect.Pointer {
			t.Fatalf("%s: margin has a pointer, stripe-go %s", path, s.Type())
		}
		if a.IsNil() != s.IsNil() {
			t.Errorf("%s: margin nil %v, stripe-go nil %v", path, a.IsNil(), s.IsNil())
			return
		}
		if a.IsNil() {
			return
		}
		a, s = a.Elem(), s.Elem()
	}
	if a.Type() == s.Type() && a.Kind() == reflect.Struct { // stripe-go's own (ListMeta)
		if !reflect.DeepEqual(a.Interface(), s.Interface()) {
			t.Errorf("%s: margin %+v, stripe-go %+v", path, a.Interface(), s.Interface())
		}
		return
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if f.Type == reflect.TypeOf(stripego.APIResource{}) {
				continue
			}
			sf := s.FieldByName(f.Name)
			if !sf.IsValid() {
				t.Fatalf("%s.%s: no such field in stripe-go's %s", path, f.Name, s.Type())
			}
			sameFields(t, path+"."+f.Name, a.Field(i), sf)
		}
	case reflect.Slice:
		if a.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			if !bytes.Equal(a.Bytes(), s.Bytes()) {
				t.Errorf("%s: margin %s, stripe-go %s", path, a.Bytes(), s.Bytes())
			}
			return
		}
		if a.Len() != s.Len() || a.IsNil() != s.IsNil() {
			t.Errorf("%s: margin %d elements (nil %v), stripe-go %d (nil %v)", path, a.Len(), a.IsNil(), s.Len(), s.IsNil())
			return
		}
		for i := 0; i < a.Len(); i++ {
			sameFields(t, path+"[]", a.Index(i), s.Index(i))
		}
	case reflect.Map:
		if !reflect.DeepEqual(a.Interface(), s.Interface()) {
			t.Errorf("%s: margin %v, stripe-go %v", path, a.Interface(), s.Interface())
		}
	case reflect.String:
		if a.String() != s.String() {
			t.Errorf("%s: margin %q, stripe-go %q", path, a.String(), s.String())
		}
	case reflect.Int64:
		if a.Int() != s.Int() {
			t.Errorf("%s: margin %d, stripe-go %d", path, a.Int(), s.Int())
		}
	case reflect.Bool:
		if a.Bool() != s.Bool() {
			t.Errorf("%s: margin %v, stripe-go %v", path, a.Bool(), s.Bool())
		}
	case reflect.Float64:
		if a.Float() != s.Float() {
			t.Errorf("%s: margin %v, stripe-go %v", path, a.Float(), s.Float())
		}
	default:
		t.Fatalf("%s: %s not compared", path, a.Kind())
	}
}

// parseID decides as stripe-go's ParseID does, on every input.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{`"cus_1"`, `""`, `"`, `{"id":"x"}`, `null`, `"a\"b"`, ` "x"`, `"x" `, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, ok := parseID(data)
		wantID, wantOK := stripego.ParseID(data)
		if id != wantID || ok != wantOK {
			t.Fatalf("parseID(%q) = %q, %v; stripe-go %q, %v", data, id, ok, wantID, wantOK)
		}
	})
}
