package attribution

import (
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

const (
	keyA   usage.SourceRef = "openai:api_key:key_A"
	keyB   usage.SourceRef = "openai:api_key:key_B"
	projP  usage.SourceRef = "openai:project:proj_P"
	wsW    usage.SourceRef = "anthropic:workspace:wrkspc_W"
	antK   usage.SourceRef = "anthropic:api_key:apikey_K"
	orKey  usage.SourceRef = "openrouter:key:abc123"
	wsDflt usage.SourceRef = "anthropic:workspace:default"
)

func TestResolve_OrderAndSpecificity(t *testing.T) {
	in := Input{
		Config: map[string][]usage.SourceRef{
			"cus_config": {projP, keyB},
		},
		Metadata: map[string][]usage.SourceRef{
			"cus_meta": {keyA, wsW, keyB},
		},
		KnownCustomers: map[string]bool{"cus_config": true, "cus_meta": true, "cus_named": true},
		Names: map[usage.SourceRef]string{
			antK:  "prod-cus_named",
			orKey: "customer cus_unknown",
			keyA:  "acme cus_named", // metadata wins over name at the same level
		},
		Features: map[usage.SourceRef]string{projP: "chat", keyA: "summarizer"},
	}
	r, warnings := New(in)
	if len(warnings) != 0 {
		t.Fatalf("unexpected warnings %v", warnings)
	}
	cases := []struct {
		name       string
		key, scope usage.SourceRef
		want       Resolution
	}{
		{"key in metadata beats project in config", keyA, projP, Resolution{Customer: "cus_meta", Feature: "summarizer"}},
		{"config beats metadata for the same key", keyB, projP, Resolution{Customer: "cus_config", Feature: "chat"}},
		{"unmapped key falls back to its project", "openai:api_key:key_Z", projP, Resolution{Customer: "cus_config", Feature: "chat"}},
		{"key name carries a known customer id", antK, wsDflt, Resolution{Customer: "cus_named"}},
		{"workspace mapped in metadata, Workbench usage without key", "", wsW, Resolution{Customer: "cus_meta"}},
		{"unknown customer id in a name stays unattributed", orKey, "", Resolution{}},
		{"nothing maps", "anthropic:api_key:apikey_X", wsDflt, Resolution{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Resolve(tc.key, tc.scope); got != tc.want {
				t.Errorf("Resolve(%q, %q) = %+v, want %+v", tc.key, tc.scope, got, tc.want)
			}
		})
	}
}

func TestResolve_NameTrustedWithoutStripe(t *testing.T) {
	r, _ := New(Input{Names: map[usage.SourceRef]string{orKey: "cus_free"}})
	if got := r.Resolve(orKey, ""); got.Customer != "cus_free" {
		t.Fatalf("got %+v, want cus_free via name", got)
	}
}

func TestNew_WarnsOnSourceListedTwice(t *testing.T) {
	r, warnings := New(Input{Metadata: map[string][]usage.SourceRef{
		"cus_b": {keyA},
		"cus_a": {keyA},
	}})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "cus_a and cus_b") {
		t.Fatalf("warnings = %v, want one naming cus_a and cus_b", warnings)
	}
	if got := r.Resolve(keyA, ""); got.Customer != "cus_a" {
		t.Fatalf("conflict resolved to %q, want the lowest id cus_a", got.Customer)
	}
}
