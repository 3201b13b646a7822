package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/secret"
)

func TestParse_BadExporterKeys(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"trailing_days_range", `trailing_days: want a whole number of days from 1 to 31, got "0" (line 1)`},
		{"max_customers_negative", `max_customers: want a whole number of customers, 0 for all, got "-5" (line 1)`},
		{"drop_model_label_text", `drop_model_label: want true or false, got "sometimes" (line 1)`},
		{"feature_label_text", `feature_label: want true or false, got "maybe" (line 1)`},
		{"push_url_missing", "push.url: missing: push needs the URL to push to (line 2)"},
		{"push_url_scheme", `push.url: want an absolute http or https URL, got "ftp://vm.example:8428/api/v1/import/prometheus" (line 2)`},
		{"push_interval_short", "push.interval: 1s is too short: at least 10s (line 3)"},
		{"push_unknown_key", "push.intervall: unknown key (line 3)"},
		{"stripe_refresh_short", "stripe_refresh_interval: 5s is too short: at least 1m0s (line 1)"},
		{"names_refresh_text", `names_refresh_interval: want a duration such as 1h, got "hourly" (line 1)`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file+".bad.yaml"] = true
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := parseFile(t, filepath.Join("exporter", tt.file+".bad.yaml"), testEnv)
			if err == nil {
				t.Fatalf("no error; config:\n%s", cfg)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
	files, _ := filepath.Glob("testdata/exporter/*.bad.yaml")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no expected error", f)
		}
	}
}

func TestParse_ExporterKeys(t *testing.T) {
	cfg, err := parseFile(t, filepath.Join("exporter", "full.ok.yaml"), map[string]string{"PUSH_PASSWORD": "s3cr3t-push"})
	if err != nil {
		t.Fatal(err)
	}
	want := Exporter{TrailingDays: 5, MaxCustomers: 100, DropModelLabel: true, FeatureLabel: true,
		Push: &Push{URL: secret.String("https://user:s3cr3t-push@vm.example/api/v1/import/prometheus"), Interval: 30 * time.Second}}
	got := cfg.Exporter
	if got.TrailingDays != want.TrailingDays || got.MaxCustomers != want.MaxCustomers || got.DropModelLabel != want.DropModelLabel ||
		got.FeatureLabel != want.FeatureLabel || got.Push == nil || *got.Push != *want.Push ||
		got.StripeRefreshOrDefault() != 30*time.Minute || got.NamesRefreshOrDefault() != 2*time.Hour {
		t.Fatalf("got %#v push %#v", got, got.Push)
	}
	if printed := cfg.String() + fmt.Sprintf("%v %+v", cfg, *cfg); strings.Contains(printed, "s3cr3t") {
		t.Fatalf("printed config leaks the push URL:\n%s", printed)
	}
}

func TestParse_ExporterDefaults(t *testing.T) {
	cfg, err := parseFile(t, "empty.ok.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exporter.TrailingDaysOrDefault() != defaultTrailingDays || cfg.Exporter.MaxCustomers != 0 || cfg.Exporter.DropModelLabel || cfg.Exporter.FeatureLabel || cfg.Exporter.Push != nil ||
		cfg.Exporter.StripeRefreshOrDefault() != DefaultStripeRefresh || cfg.Exporter.NamesRefreshOrDefault() != DefaultNamesRefresh {
		t.Fatalf("defaults: %#v", cfg.Exporter)
	}
}

func TestExampleConfig_DocumentsExporterKeys(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"trailing_days:", "max_customers:", "drop_model_label:", "feature_label:", "push:", "url:", "interval:", "stripe_refresh_interval:", "names_refresh_interval:"} {
		if !strings.Contains(string(data), key) {
			t.Errorf("config.example.yaml does not mention %s", key)
		}
	}
}
