package models

import (
	"reflect"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

const (
	testOpenAIKey = "sk-admin-test-000000000000000000000000"
	testStripeKey = "rk_test_0000000000000000000000000000"
)

func TestParseSettings(t *testing.T) {
	allKeys := map[string]string{
		"openaiAdminKey": testOpenAIKey, "anthropicAdminKey": "sk-ant-admin01-test", "openrouterManagementKey": "sk-or-v1-test", "stripeApiKey": testStripeKey,
	}
	onlyOpenAI := map[string]string{"openaiAdminKey": testOpenAIKey}
	for _, tc := range []struct {
		name     string
		jsonData string
		secure   map[string]string
		check    func(t *testing.T, o engine.Options)
		err      string
	}{
		{
			name:     "defaults: key only",
			jsonData: `{}`,
			secure:   onlyOpenAI,
			check: func(t *testing.T, o engine.Options) {
				if o.OpenAI == nil || o.OpenAI.BaseURL != "https://api.openai.com/v1" || o.OpenAI.Key.Reveal() != testOpenAIKey {
					t.Fatalf("openai %+v", o.OpenAI)
				}
				if o.Anthropic != nil || o.OpenRouter != nil || o.Stripe != nil {
					t.Fatal("sources without a key must be off")
				}
				if o.ReportingCurrency != "usd" || o.BackfillDays != 31 || len(o.Customers) != 0 || len(o.FXRates) != 0 {
					t.Fatalf("defaults %+v", o)
				}
			},
		},
		{
			name: "everything",
			jsonData: `{"openaiBaseUrl":"http://127.0.0.1:8089/openai/v1/","anthropicBaseUrl":" https://proxy.example/anthropic ",
				"openrouterBaseUrl":"","stripeBaseUrl":null,"timeout":30,"tlsSkipVerify":false,
				"customerMapping":"cus_A:\n  - openai:api_key:key_a\ncus_B: [openrouter:key:abc]\n",
				"featureMapping":"openai:api_key:key_a: chat\n",
				"fxRates":{"eur":1.08,"gbp":"1.27","chf":1.123456789}}`,
			secure: allKeys,
			check: func(t *testing.T, o engine.Options) {
				if o.OpenAI.BaseURL != "http://127.0.0.1:8089/openai/v1" || o.Anthropic.BaseURL != "https://proxy.example/anthropic" ||
					o.OpenRouter.BaseURL != "https://openrouter.ai/api/v1" || o.Stripe.BaseURL != "https://api.stripe.com" {
					t.Fatalf("base URLs %s %s %s %s", o.OpenAI.BaseURL, o.Anthropic.BaseURL, o.OpenRouter.BaseURL, o.Stripe.BaseURL)
				}
				wantCustomers := map[string][]usage.SourceRef{"cus_A": {"openai:api_key:key_a"}, "cus_B": {"openrouter:key:abc"}}
				if !reflect.DeepEqual(o.Customers, wantCustomers) {
					t.Fatalf("customers %v", o.Customers)
				}
				if o.Features["openai:api_key:key_a"] != "chat" {
					t.Fatalf("features %v", o.Features)
				}
				// Numbers keep their decimal text: 1.08 is exactly 1.080000000, never 1.0800000000000001.
				wantFX := map[string]ledger.Rate{"eur": 1_080_000_000, "gbp": 1_270_000_000, "chf": 1_123_456_789}
				if !reflect.DeepEqual(o.FXRates, wantFX) {
					t.Fatalf("fx %v", o.FXRates)
				}
				if o.OpenAI == nil || o.Anthropic == nil || o.OpenRouter == nil || o.Stripe == nil {
					t.Fatalf("want every source configured: openai %v, anthropic %v, openrouter %v, stripe %v",
						o.OpenAI != nil, o.Anthropic != nil, o.OpenRouter != nil, o.Stripe != nil)
				}
			},
		},
		{name: "keys are trimmed", jsonData: ``, secure: map[string]string{"openrouterManagementKey": "  sk-or-v1-x\n"},
			check: func(t *testing.T, o engine.Options) {
				if o.OpenRouter.Key.Reveal() != "sk-or-v1-x" {
					t.Fatal("key not trimmed")
				}
			}},
		{name: "no provider key", jsonData: `{}`, secure: map[string]string{"stripeApiKey": testStripeKey},
			err: "secureJsonData: no provider key: set openaiAdminKey, anthropicAdminKey or openrouterManagementKey"},
		{name: "jsonData not an object", jsonData: `[1]`, secure: onlyOpenAI, err: "jsonData: not a JSON object"},
		{name: "base URL not absolute", jsonData: `{"stripeBaseUrl":"api.stripe.com"}`, secure: onlyOpenAI,
			err: `stripeBaseUrl: want an absolute http or https URL, got "api.stripe.com"`},
		{name: "base URL with credentials is masked", jsonData: `{"openaiBaseUrl":"ftp://me:` + testOpenAIKey + `@host"}`, secure: onlyOpenAI,
			err: `openaiBaseUrl: want an absolute http or https URL, got "ftp://xxxxx@host"`},
		{name: "base URL not text", jsonData: `{"anthropicBaseUrl":5}`, secure: onlyOpenAI, err: "anthropicBaseUrl: want text"},
		{name: "mapping problems name their path", jsonData: `{"customerMapping":"cus_A: [openai:project:p]\ncus_B:\n  - openai:project:p\n  - nope\n"}`, secure: onlyOpenAI,
			err: "customerMapping.cus_B[0]: source openai:project:p is mapped to both cus_A and cus_B (line 3)\n" +
				`customerMapping.cus_B[1]: source "nope": want provider:kind:id, e.g. openai:api_key:key_abc (line 4)`},
		{name: "feature mapping problem", jsonData: `{"featureMapping":"openai:api_key:k: \n"}`, secure: onlyOpenAI,
			err: "featureMapping.openai:api_key:k: missing feature name (line 1)"},
		{name: "fx rates", jsonData: `{"fxRates":{"EUR":1.08,"gbp":0,"jpy":true}}`, secure: onlyOpenAI,
			err: "fxRates.jpy: want a number or decimal text such as \"1.08\""},
		{name: "fx rates values", jsonData: `{"fxRates":{"EUR":1.08,"gbp":0}}`, secure: onlyOpenAI,
			err: "fxRates.EUR: want a 3-letter lower-case currency code such as eur\nfxRates.gbp: want a positive rate (USD per unit), got \"0\""},
		{name: "fx rates not an object", jsonData: `{"fxRates":"eur=1.08"}`, secure: onlyOpenAI,
			err: `fxRates: want an object of currency code to rate, such as {"eur": "1.08"}`},
		{name: "target margin as a number keeps its digits", jsonData: `{"targetMargin":0.725}`, secure: onlyOpenAI,
			check: func(t *testing.T, o engine.Options) {
				if o.TargetMargin != 725_000_000 {
					t.Fatalf("target margin %d, want 725000000", o.TargetMargin)
				}
			}},
		{name: "target margin as text", jsonData: `{"targetMargin":" 0.5 "}`, secure: onlyOpenAI,
			check: func(t *testing.T, o engine.Options) {
				if o.TargetMargin != 500_000_000 {
					t.Fatalf("target margin %d, want 500000000", o.TargetMargin)
				}
			}},
		{name: "target margin absent stays unset for the default", jsonData: `{"targetMargin":null}`, secure: onlyOpenAI,
			check: func(t *testing.T, o engine.Options) {
				if o.TargetMargin != 0 {
					t.Fatalf("target margin %d, want 0 (the engine's default)", o.TargetMargin)
				}
			}},
		{name: "target margin of one", jsonData: `{"targetMargin":1}`, secure: onlyOpenAI,
			err: "targetMargin: want a gross margin between 0 and 1 such as 0.65, got 1"},
		{name: "target margin zero", jsonData: `{"targetMargin":"0"}`, secure: onlyOpenAI,
			err: `targetMargin: want a gross margin between 0 and 1 such as 0.65, got "0"`},
		{name: "target margin as a percentage", jsonData: `{"targetMargin":65}`, secure: onlyOpenAI,
			err: "targetMargin: want a gross margin between 0 and 1 such as 0.65, got 65"},
		{name: "target margin not a number", jsonData: `{"targetMargin":true}`, secure: onlyOpenAI,
			err: "targetMargin: want a gross margin between 0 and 1 such as 0.65, got true"},
		{name: "every problem at once", jsonData: `{"openaiBaseUrl":"x","customerMapping":"acme: []"}`, secure: map[string]string{},
			err: `openaiBaseUrl: want an absolute http or https URL, got "x"` + "\n" +
				"secureJsonData: no provider key: set openaiAdminKey, anthropicAdminKey or openrouterManagementKey\n" +
				"customerMapping.acme: want a Stripe customer id such as cus_ABC123 (line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseSettings([]byte(tc.jsonData), tc.secure)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tc.err)
				}
				if strings.Contains(err.Error(), testOpenAIKey) || strings.Contains(err.Error(), testStripeKey) {
					t.Fatalf("error echoes a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}
