package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse_WrongKeyKindsNameThePathTheKindNeededAndWhereToGetIt(t *testing.T) {
	tests := []struct {
		name, yaml, key, path string
		want                  []string
	}{
		{"openai project key", "providers:\n  openai:\n    admin_key: %s\n", "sk-proj-Q1w2E3r4T5y6U7i8O9p0", "providers.openai.admin_key",
			[]string{"project API key (sk-proj-…)", "Admin key (sk-admin-…)", "https://platform.openai.com/settings/organization/admin-keys", "(line 3)"}},
		{"openai user key", "providers:\n  openai:\n    admin_key: %s\n", "sk-Q1w2E3r4T5y6U7i8O9p0a1s2", "providers.openai.admin_key",
			[]string{"OpenAI API key (sk-…)", "sk-admin-"}},
		{"openai service account key", "providers:\n  openai:\n    admin_key: %s\n", "sk-svcacct-Q1w2E3r4T5y6U7i8", "providers.openai.admin_key",
			[]string{"service account key", "sk-admin-"}},
		{"anthropic api key", "providers:\n  anthropic:\n    admin_key: %s\n", "sk-ant-api03-Q1w2E3r4T5y6U7i8O9p0", "providers.anthropic.admin_key",
			[]string{"Anthropic API key (sk-ant-api…)", "Admin key (sk-ant-admin…)", "https://console.anthropic.com/settings/admin-keys"}},
		{"stripe publishable key", "stripe:\n  api_key: %s\n", "pk_live_51Q1w2E3r4T5y6U7i8O9p0", "stripe.api_key",
			[]string{"publishable key (pk_…)", "restricted key (rk_…)", "https://dashboard.stripe.com/apikeys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, err error, path string) {
				t.Helper()
				if err == nil {
					t.Fatal("a wrong kind of key passed validation")
				}
				msg := err.Error()
				if !strings.Contains(msg, path+": this is ") {
					t.Errorf("error %q does not name the key path %s", msg, path)
				}
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not say %q", msg, w)
					}
				}
				if strings.Contains(msg, tt.key) || strings.Contains(msg, tt.key[len(tt.key)-8:]) {
					t.Errorf("error %q shows the key", msg)
				}
			}
			t.Run("inline", func(t *testing.T) {
				_, err := Parse([]byte(strings.Replace(tt.yaml, "%s", tt.key, 1)), ParseOptions{})
				check(t, err, tt.path)
			})
			t.Run("environment", func(t *testing.T) {
				_, err := Parse([]byte(strings.Replace(tt.yaml, "%s", "${THE_KEY}", 1)), ParseOptions{LookupEnv: lookup(map[string]string{"THE_KEY": tt.key})})
				check(t, err, tt.path)
			})
			t.Run("file", func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "key"), []byte(tt.key+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				y := strings.Replace(strings.Replace(tt.yaml, "_key:", "_key_file:", 1), "%s", "key", 1)
				_, err := Parse([]byte(y), ParseOptions{BaseDir: dir})
				check(t, err, tt.path+"_file")
			})
		})
	}
}

func TestParse_RightKeyKindsPass(t *testing.T) {
	y := `providers:
  openai: {admin_key: sk-admin-Q1w2E3r4T5y6U7i8O9p0}
  anthropic: {admin_key: sk-ant-admin01-Q1w2E3r4T5y6U7i8O9p0}
  openrouter: {management_key: sk-or-v1-Q1w2E3r4T5y6U7i8O9p0}
stripe: {api_key: rk_live_51Q1w2E3r4T5y6U7i8O9p0}
`
	if _, err := Parse([]byte(y), ParseOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sk_live_51Q1w2E3r4", "rk_test_1"} {
		if msg := keyKindProblem("stripe", k); msg != "" {
			t.Errorf("stripe %s…: %s", k[:8], msg)
		}
	}
	// A key whose prefix says nothing is left to the API to judge.
	if msg := keyKindProblem("openai", "test-key"); msg != "" {
		t.Errorf("unknown prefix: %s", msg)
	}
}
