package config

import (
	"reflect"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

func TestParseCustomers_ValidatesLikeTheConfigBlock(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string][]usage.SourceRef
		err        string
	}{
		{name: "empty", text: "", want: map[string][]usage.SourceRef{}},
		{name: "flow and block lists", text: "cus_A: [openai:project:proj_x]\ncus_B:\n  - anthropic:api_key:apikey_y\n  - openrouter:key:abc\n",
			want: map[string][]usage.SourceRef{"cus_A": {"openai:project:proj_x"}, "cus_B": {"anthropic:api_key:apikey_y", "openrouter:key:abc"}}},
		{name: "bad customer id", text: "acme: [openai:project:p]", err: "customerMapping.acme: want a Stripe customer id such as cus_ABC123 (line 1)"},
		{name: "bad ref", text: "cus_A:\n  - openai:workspace:w1", err: `customerMapping.cus_A[0]: source "openai:workspace:w1": openai has no source kind "workspace" (want project or api_key) (line 2)`},
		{name: "two owners", text: "cus_A: [openai:project:p1]\ncus_B: [openai:project:p1]", err: "customerMapping.cus_B[0]: source openai:project:p1 is mapped to both cus_A and cus_B (line 2)"},
		{name: "not a list", text: "cus_A: openai:project:p1", err: "customerMapping.cus_A: want a list of source references, got a value (line 1)"},
		{name: "no env expansion", text: "cus_A:\n  - openai:project:${PROJECT}", want: map[string][]usage.SourceRef{"cus_A": {"openai:project:${PROJECT}"}}},
		{name: "syntax", text: "cus_A: [", err: "customerMapping: line 1: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCustomers("customerMapping", tc.text)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseFeatures_ValidatesLikeTheConfigBlock(t *testing.T) {
	got, err := ParseFeatures("featureMapping", "openai:api_key:key_a: chat\nanthropic:workspace:default: summarizer\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[usage.SourceRef]string{"openai:api_key:key_a": "chat", "anthropic:workspace:default": "summarizer"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	_, err = ParseFeatures("featureMapping", "key_a: chat\nopenai:api_key:key_b:\n")
	wantErr := "featureMapping.key_a: source \"key_a\": want provider:kind:id, e.g. openai:api_key:key_abc (line 1)\n" +
		"featureMapping.openai:api_key:key_b: missing feature name (line 2)"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("error %v, want %q", err, wantErr)
	}
}

func TestParseFXRates_ExactRatesAndNamedProblems(t *testing.T) {
	got, err := ParseFXRates("fxRates", map[string]string{"eur": "1.08", "gbp": " 1.270000001 "})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]ledger.Rate{"eur": 1_080_000_000, "gbp": 1_270_000_001}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	_, err = ParseFXRates("fxRates", map[string]string{"EUR": "1.08", "gbp": "0", "jpy": "", "chf": "abc"})
	want := "fxRates.EUR: want a 3-letter lower-case currency code such as eur\n" +
		"fxRates.chf: want a positive rate (USD per unit), got \"abc\"\n" +
		"fxRates.gbp: want a positive rate (USD per unit), got \"0\"\n" +
		"fxRates.jpy: missing rate"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

func TestCheckBaseURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "https://api.openai.com/v1/", want: "https://api.openai.com/v1"},
		{in: "http://127.0.0.1:8089/openai/v1", want: "http://127.0.0.1:8089/openai/v1"},
		{in: "api.openai.com/v1", err: `openaiBaseUrl: want an absolute http or https URL, got "api.openai.com/v1"`},
		{in: "gopher://user:hunter2@openrouter.ai", err: `openaiBaseUrl: want an absolute http or https URL, got "gopher://xxxxx@openrouter.ai"`},
	} {
		got, err := CheckBaseURL("openaiBaseUrl", tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
