package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/billing/stripe"
	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/providers/anthropic"
	"github.com/marginhq/margin/internal/providers/openai"
	"github.com/marginhq/margin/internal/providers/openrouter"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// Fake credentials: distinctive so a leak is easy to spot in any output.
var testEnv = map[string]string{
	"OPENAI_ADMIN_KEY":          "sk-admin-ENVKEY000000001",
	"ANTHROPIC_ADMIN_KEY":       "sk-ant-admin01-ENVKEY000000002",
	"OPENROUTER_MANAGEMENT_KEY": "sk-or-v1-ENVKEY000000003",
	"STRIPE_API_KEY":            "rk_test_ENVKEY000000004",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func parseFile(t *testing.T, name string, env map[string]string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(data, ParseOptions{BaseDir: "testdata", LookupEnv: lookup(env), ReadFile: os.ReadFile})
}

func usd(t *testing.T, s string) ledger.Money {
	t.Helper()
	m, err := ledger.ParseDollars(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rate(t *testing.T, s string) ledger.Rate {
	t.Helper()
	r, err := ledger.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func day(t *testing.T, s string) usage.Day {
	t.Helper()
	d, err := usage.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParse_BadFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown_key", "providers.openai.admin_kye: unknown key (line 3)"},
		{"unknown_top_key", "backfil_days: unknown key (line 1)"},
		{"currency", `reporting_currency: "eur" is not supported: only usd (line 1)`},
		{"backfill_days_range", `backfill_days: want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit), got "366" (line 1)`},
		{"target_margin_range", `target_margin: want a gross margin between 0 and 1 such as 0.65, got "65" (line 1)`},
		{"backfill_days_text", `backfill_days: want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit), got "week" (line 1)`},
		{"poll_interval_short", "poll_interval: 30s is too short: at least 1m0s (line 1)"},
		{"poll_interval_text", `poll_interval: want a duration such as 5m, got "soon" (line 1)`},
		{"base_url_scheme", `providers.anthropic.base_url: want an absolute http or https URL, got "ftp://api.anthropic.com" (line 3)`},
		{"base_url_relative", `stripe.base_url: want an absolute http or https URL, got "api.stripe.com" (line 2)`},
		{"base_url_userinfo", `providers.openrouter.base_url: want an absolute http or https URL, got "gopher://xxxxx@openrouter.ai" (line 3)`},
		{"customer_id", "customers.acme: want a Stripe customer id such as cus_ABC123 (line 2)"},
		{"customer_not_list", "customers.cus_A: want a list of source references, got a value (line 2)"},
		{"source_ref", `customers.cus_A[0]: source "openai:workspace:w1": openai has no source kind "workspace" (want project or api_key) (line 2)`},
		{"source_two_customers", "customers.cus_B[1]: source openai:project:proj_x is mapped to both cus_A and cus_B (line 3)"},
		{"fx_code", "fx_rates.EUR: want a 3-letter lower-case currency code such as eur (line 1)"},
		{"fx_rate", `fx_rates.gbp: want a positive rate (USD per unit), got "0" (line 2)`},
		{"feature_ref", `features.key_abc: source "key_abc": want provider:kind:id, e.g. openai:api_key:key_abc (line 2)`},
		{"feature_name", "features.openai:api_key:key_abc: missing feature name (line 2)"},
		{"price_provider", "prices[0].provider: openrouter bills each request itself and takes no price rows (line 2)"},
		{"price_negative", `prices[0].batch.output: want a non-negative amount of dollars per million tokens, got "-1" (line 6)`},
		{"price_float_junk", `prices[0].input: want a non-negative amount of dollars per million tokens, got "two" (line 4)`},
		{"price_date", `prices[0].effective_from: want a date as YYYY-MM-DD, got "01/02/2026" (line 4)`},
		{"price_model_missing", "prices[0].model: missing model id (line 2)"},
		{"price_unknown_key", "prices[0].long_context.inptu: unknown key (line 4)"},
		{"price_duplicate", "prices[1]: same provider, model and effective_from as prices[0] (line 3)"},
		{"key_and_file", "providers.anthropic: set admin_key or admin_key_file, not both (line 3)"},
		{"key_file_missing", "stripe.api_key_file: open testdata/keys/nope.key: no such file or directory (line 2)"},
		{"key_file_empty", "stripe.api_key_file: testdata/keys/empty.key is empty (line 2)"},
		{"env_unset", "providers.openai.admin_key: environment variable NOT_SET_ANYWHERE is not set (line 3)"},
		{"env_unterminated", `providers.openai.admin_key: unterminated "${" (write "$${" for a literal "${") (line 3)`},
		{"duplicate_key", "providers.openai.admin_key: duplicate key (line 4)"},
		{"providers_not_mapping", "providers: want a mapping, got a list (line 1)"},
		{"syntax", "line 4: mapping values are not allowed in this context"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file+".bad.yaml"] = true
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := parseFile(t, tt.file+".bad.yaml", testEnv)
			if err == nil {
				t.Fatalf("no error; config:\n%s", cfg)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
	// Every bad file has a case.
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no expected error", f)
		}
	}
}

func TestParse_Defaults(t *testing.T) {
	cfg, err := parseFile(t, "empty.ok.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		ReportingCurrency: "usd",
		BackfillDays:      31,
		TargetMargin:      defaultTargetMargin,
		PollInterval:      5 * time.Minute,
		StateFile:         filepath.Join("testdata", "margin-state.json"),
		OpenAI:            Source{BaseURL: "https://api.openai.com/v1"},
		Anthropic:         Source{BaseURL: "https://api.anthropic.com"},
		OpenRouter:        Source{BaseURL: "https://openrouter.ai/api/v1"},
		Stripe:            Source{BaseURL: "https://api.stripe.com"},
		FXRates:           map[string]ledger.Rate{},
		Customers:         map[string][]usage.SourceRef{},
		Features:          map[usage.SourceRef]string{},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %#v\nwant %#v", cfg, want)
	}
	opts := cfg.EngineOptions()
	if opts.OpenAI != nil || opts.Anthropic != nil || opts.OpenRouter != nil || opts.Stripe != nil {
		t.Fatalf("keyless sources must be off: %+v", opts)
	}
}

func TestParse_BackfillDaysBounds(t *testing.T) {
	const msg = `backfill_days: want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit), got `
	tests := []struct {
		value   string
		want    int
		wantErr string
	}{
		{"1", 1, ""},
		{"31", 31, ""},
		{"90", 90, ""},
		{"365", 365, ""},
		{"0", 0, msg + `"0" (line 1)`},
		{"366", 0, msg + `"366" (line 1)`},
		{"-3", 0, msg + `"-3" (line 1)`},
		{"1.5", 0, msg + `"1.5" (line 1)`},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte("backfill_days: "+tt.value+"\n"), ParseOptions{LookupEnv: lookup(nil)})
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("backfill_days %s: error %v, want %q", tt.value, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("backfill_days %s: %v", tt.value, err)
		case cfg.BackfillDays != tt.want || cfg.EngineOptions().BackfillDays != tt.want:
			t.Errorf("backfill_days %s: got %d, engine %d", tt.value, cfg.BackfillDays, cfg.EngineOptions().BackfillDays)
		}
	}
	cfg, err := Parse([]byte("reporting_currency: usd\n"), ParseOptions{LookupEnv: lookup(nil)})
	if err != nil || cfg.BackfillDays != 31 {
		t.Errorf("default backfill_days = %d (%v), want 31", cfg.BackfillDays, err)
	}
}

func TestDefaultBaseURLs_MatchTheClients(t *testing.T) {
	for _, c := range []struct{ ours, client string }{
		{DefaultOpenAIBaseURL, openai.DefaultBaseURL},
		{DefaultAnthropicBaseURL, anthropic.DefaultBaseURL},
		{DefaultOpenRouterBaseURL, openrouter.DefaultBaseURL},
		{DefaultStripeBaseURL, stripe.DefaultBaseURL},
	} {
		if c.ours != c.client {
			t.Errorf("config default %s, client default %s", c.ours, c.client)
		}
	}
}

func TestParse_Full(t *testing.T) {
	cfg, err := parseFile(t, "full.ok.yaml", map[string]string{
		"ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-ENVKEY000000002",
		"STRIPE_API_KEY":      "rk_test_ENVKEY000000004",
		// OPENROUTER_MANAGEMENT_KEY unset: its ${…:-} default leaves OpenRouter off.
	})
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Options{
		ReportingCurrency: "usd",
		BackfillDays:      7,
		TargetMargin:      rate(t, "0.7"),
		OpenAI:            &engine.SourceOptions{Key: "sk-admin-FROMFILE000001", BaseURL: "http://127.0.0.1:8089/v1"},
		Anthropic:         &engine.SourceOptions{Key: "sk-ant-admin01-ENVKEY000000002", BaseURL: "https://api.anthropic.com"},
		Stripe:            &engine.SourceOptions{Key: "prefix-rk_test_ENVKEY000000004-${LITERAL}", BaseURL: "https://api.stripe.com"},
		FXRates:           map[string]ledger.Rate{"eur": rate(t, "1.08"), "gbp": rate(t, "1.27"), "jpy": rate(t, "0.0067")},
		Customers: map[string][]usage.SourceRef{
			"cus_ABC123": {"openai:project:proj_x", "anthropic:api_key:apikey_y"},
			"cus_DEF456": {"openrouter:key:abc123", "anthropic:workspace:default"},
		},
		Features: map[usage.SourceRef]string{"openai:project:proj_x": "summarizer", "openrouter:key:abc123": "search"},
		Prices: []catalog.Entry{
			{
				Provider: usage.Anthropic, Model: "claude-next", EffectiveFrom: day(t, "2026-01-01"),
				Standard:    catalog.Price{Input: usd(t, "2"), CachedInput: usd(t, "0.2"), CacheWrite5m: usd(t, "2.5"), CacheWrite1h: usd(t, "4"), Output: usd(t, "10")},
				Batch:       &catalog.Price{Input: usd(t, "0.75"), Output: usd(t, "4")},
				LongContext: &catalog.Price{Input: usd(t, "4"), Output: usd(t, "15")},
			},
			{Provider: usage.OpenAI, Model: "gpt-4.1", Standard: catalog.Price{Input: usd(t, "1.5"), Output: usd(t, "0.5")}},
		},
	}
	if got := cfg.EngineOptions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("EngineOptions:\n got %#v\nwant %#v", got, want)
	}
	if cfg.PollInterval != 90*time.Second || cfg.StateFile != "/var/lib/margin/state.json" {
		t.Fatalf("poll_interval %s, state_file %s", cfg.PollInterval, cfg.StateFile)
	}
	// The overrides are a valid catalog on top of the embedded one.
	if _, err := catalog.Default().With(cfg.Prices); err != nil {
		t.Fatal(err)
	}
}

func TestParse_EnvExpansion(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "DAYS": "12"}
	tests := []struct {
		value, want, err string
	}{
		{value: "plain", want: "plain"},
		{value: "${A}", want: "alpha"},
		{value: "x-${A}-${A}-y", want: "x-alpha-alpha-y"},
		{value: "${EMPTY}", want: ""},
		{value: "${EMPTY:-fallback}", want: "fallback"},
		{value: "${UNSET:-}", want: ""},
		{value: "${A:-fallback}", want: "alpha"},
		{value: "$${A}", want: "${A}"},
		{value: "a$b$", want: "a$b$"},
		{value: "${UNSET}", err: "stripe.api_key: environment variable UNSET is not set (line 1)"},
		{value: "${1BAD}", err: `stripe.api_key: invalid environment variable name "1BAD" (line 1)`},
		{value: "${A", err: `stripe.api_key: unterminated "${" (write "$${" for a literal "${") (line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			cfg, err := Parse([]byte(`stripe: {api_key: "`+tt.value+`"}`), ParseOptions{LookupEnv: lookup(env)})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Stripe.Key.Reveal(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Expansion applies to every value, not only keys.
	cfg, err := Parse([]byte("backfill_days: ${DAYS}\n"), ParseOptions{LookupEnv: lookup(env)})
	if err != nil || cfg.BackfillDays != 12 {
		t.Fatalf("backfill_days ${DAYS}: %v %v", cfg, err)
	}
}

func TestParse_KeyFiles(t *testing.T) {
	files := map[string]string{
		"/etc/margin/openai.key":    "sk-admin-FILE1\n",
		"/etc/margin/anthropic.key": "sk-ant-FILE2\r\n",
		"base/or.key":               "sk-or-FILE3",
		"/abs/stripe.key":           "rk_live_FILE4\n\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: no such file", name)
	}
	src := `
providers:
  openai: {admin_key_file: /etc/margin/openai.key}
  anthropic: {admin_key_file: "${KEYDIR}/anthropic.key"}
  openrouter: {management_key_file: or.key}
stripe: {api_key_file: /abs/stripe.key}
`
	cfg, err := Parse([]byte(src), ParseOptions{BaseDir: "base", ReadFile: read, LookupEnv: lookup(map[string]string{"KEYDIR": "/etc/margin"})})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  secret.String
		want string
	}{{cfg.OpenAI.Key, "sk-admin-FILE1"}, {cfg.Anthropic.Key, "sk-ant-FILE2"}, {cfg.OpenRouter.Key, "sk-or-FILE3"}, {cfg.Stripe.Key, "rk_live_FILE4"}} {
		if c.got.Reveal() != c.want {
			t.Errorf("key %q, want %q", c.got.Reveal(), c.want)
		}
	}
}

func TestParse_ReportsEveryProblemAtOnce(t *testing.T) {
	src := `reporting_currency: gbp
backfill_days: 0
poll_interval: 10s
providers:
  openai:
    admin_key: ${OPENAI_ADMIN_KEY}
    admin_key_file: x
    base_url: nope
  mistral: {}
fx_rates: {eur: -1}
customers:
  cus_A: [openai:project:p1]
  cus_B: [openai:project:p1]
features: {bad: x}
prices:
  - {provider: openai, input: -2}
`
	_, err := Parse([]byte(src), ParseOptions{LookupEnv: lookup(testEnv), ReadFile: func(string) ([]byte, error) { return []byte("sk-admin-FILE"), nil }})
	want := strings.Join([]string{
		`reporting_currency: "gbp" is not supported: only usd (line 1)`,
		`backfill_days: want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit), got "0" (line 2)`,
		`poll_interval: 10s is too short: at least 1m0s (line 3)`,
		`providers.openai.base_url: want an absolute http or https URL, got "nope" (line 8)`,
		`providers.openai: set admin_key or admin_key_file, not both (line 6)`,
		`providers.mistral: unknown key (line 9)`,
		`fx_rates.eur: want a positive rate (USD per unit), got "-1" (line 10)`,
		`customers.cus_B[0]: source openai:project:p1 is mapped to both cus_A and cus_B (line 13)`,
		`features.bad: source "bad": want provider:kind:id, e.g. openai:api_key:key_abc (line 14)`,
		`prices[0].input: want a non-negative amount of dollars per million tokens, got "-2" (line 16)`,
		`prices[0].model: missing model id (line 16)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	var p *Problem
	if !errors.As(err, &p) || p.Path != "reporting_currency" || p.Line != 1 {
		t.Fatalf("errors.As *Problem: %+v", p)
	}
}

func TestConfig_NeverShowsKeys(t *testing.T) {
	cfg, err := parseFile(t, "full.ok.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"sk-admin-FROMFILE000001"}
	for _, v := range testEnv {
		keys = append(keys, v)
	}
	jsonOut, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.EngineOptions()
	optsJSON, err := json.Marshal(opts.OpenAI)
	if err != nil {
		t.Fatal(err)
	}
	// A bad config with every key set: its error text must not carry them either.
	bad := `providers:
  openai: {admin_key: "${OPENAI_ADMIN_KEY}", admin_key_file: keys/openai.key, base_url: "https://${OPENAI_ADMIN_KEY}@x"}
  anthropic: {admin_key: "${ANTHROPIC_ADMIN_KEY}", base_url: "ftp://${ANTHROPIC_ADMIN_KEY}"}
  openrouter: {management_key: "${OPENROUTER_MANAGEMENT_KEY}", bogus: 1}
stripe: {api_key: "${STRIPE_API_KEY}", base_url: "${STRIPE_API_KEY}"}
backfill_days: "${STRIPE_API_KEY}"
`
	_, badErr := Parse([]byte(bad), ParseOptions{BaseDir: "testdata", LookupEnv: lookup(testEnv), ReadFile: os.ReadFile})
	if badErr == nil {
		t.Fatal("bad config parsed")
	}
	// A key pasted into a base URL's user info is masked too.
	withURLKey, err := Parse([]byte(`providers: {openai: {admin_key: "${OPENAI_ADMIN_KEY}", base_url: "https://${OPENAI_ADMIN_KEY}:${STRIPE_API_KEY}@proxy.example/v1"}}`),
		ParseOptions{LookupEnv: lookup(testEnv)})
	if err != nil {
		t.Fatal(err)
	}
	urlJSON, err := json.Marshal(withURLKey)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String with URL key":  withURLKey.String(),
		"JSON with URL key":    string(urlJSON),
		"String":               cfg.String(),
		"JSON":                 string(jsonOut),
		"YAML":                 string(yamlOut),
		"%v":                   fmt.Sprintf("%v", cfg),
		"%+v value":            fmt.Sprintf("%+v", *cfg),
		"%#v value":            fmt.Sprintf("%#v", *cfg),
		"EngineOptions %+v":    fmt.Sprintf("%+v %+v %+v", opts, *opts.OpenAI, *opts.Stripe),
		"EngineOptions JSON":   string(optsJSON),
		"error of bad config":  badErr.Error(),
		"error of Load (file)": (&FileError{Path: "x.yaml", Err: badErr}).Error(),
	}
	for name, out := range outputs {
		for _, k := range keys {
			if strings.Contains(out, k) {
				t.Errorf("%s shows a key:\n%s", name, strings.ReplaceAll(out, k, "<LEAKED>"))
			}
		}
	}
}

func TestLoad_ResolvesFilesBesideTheConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openai.key"), []byte("sk-admin-LOADFILE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "margin.yaml")
	if err := os.WriteFile(path, []byte("providers:\n  openai:\n    admin_key_file: openai.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OpenAI.Key.Reveal() != "sk-admin-LOADFILE" || cfg.StateFile != filepath.Join(dir, "margin-state.json") {
		t.Fatalf("key %q, state file %s", cfg.OpenAI.Key.Reveal(), cfg.StateFile)
	}
	if err := os.WriteFile(path, []byte("backfill_days: 999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var fe *FileError
	if !errors.As(err, &fe) || err.Error() != "config file "+path+":\n"+`backfill_days: want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit), got "999" (line 1)` {
		t.Fatalf("Load error: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestExampleConfig_Loads(t *testing.T) {
	for k, v := range testEnv {
		t.Setenv(k, v)
	}
	cfg, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Options{
		ReportingCurrency: "usd",
		BackfillDays:      31,
		TargetMargin:      defaultTargetMargin,
		OpenAI:            &engine.SourceOptions{Key: secret.String(testEnv["OPENAI_ADMIN_KEY"]), BaseURL: "https://api.openai.com/v1"},
		Anthropic:         &engine.SourceOptions{Key: secret.String(testEnv["ANTHROPIC_ADMIN_KEY"]), BaseURL: "https://api.anthropic.com"},
		OpenRouter:        &engine.SourceOptions{Key: secret.String(testEnv["OPENROUTER_MANAGEMENT_KEY"]), BaseURL: "https://openrouter.ai/api/v1"},
		Stripe:            &engine.SourceOptions{Key: secret.String(testEnv["STRIPE_API_KEY"]), BaseURL: "https://api.stripe.com"},
		FXRates:           map[string]ledger.Rate{"eur": rate(t, "1.08"), "gbp": rate(t, "1.27")},
		Customers:         map[string][]usage.SourceRef{"cus_ABC123": {"openai:project:proj_x", "anthropic:api_key:apikey_y"}},
		Features:          map[usage.SourceRef]string{"anthropic:api_key:apikey_y": "summarizer"},
	}
	if got := cfg.EngineOptions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("EngineOptions:\n got %#v\nwant %#v", got, want)
	}
	if cfg.PollInterval != DefaultPollInterval || filepath.Base(cfg.StateFile) != defaultStateFile {
		t.Fatalf("poll_interval %s, state_file %s", cfg.PollInterval, cfg.StateFile)
	}
}

// TestExampleConfig_DocumentsEveryKey keeps config.example.yaml complete: each key the parser
// accepts appears in it, as a key or in a comment, and the commented prices example parses.
func TestExampleConfig_DocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, key := range []string{"reporting_currency:", "backfill_days:", "poll_interval:", "state_file:", "providers:",
		"openai:", "anthropic:", "openrouter:", "admin_key:", "admin_key_file:", "management_key:", "management_key_file:",
		"base_url:", "stripe:", "api_key:", "api_key_file:", "fx_rates:", "customers:", "features:", "prices:",
		"provider:", "model:", "effective_from:", "input:", "cached_input:", "cache_write_5m:", "cache_write_1h:",
		"output:", "batch:", "long_context:"} {
		if !strings.Contains(text, key) {
			t.Errorf("config.example.yaml does not mention %s", key)
		}
	}
	// Uncomment the prices example and parse it.
	_, block, ok := strings.Cut(text, "# prices:\n")
	if !ok {
		t.Fatal("no commented prices example")
	}
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "# "))
	}
	cfg, err := Parse([]byte("prices:\n"+strings.Join(lines, "\n")), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Prices) != 1 || cfg.Prices[0].LongContext == nil || cfg.Prices[0].Batch.CacheWrite5m != usd(t, "1.875") {
		t.Fatalf("prices example: %+v", cfg.Prices)
	}
}
