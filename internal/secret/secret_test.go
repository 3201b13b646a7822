package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const key = "sk-admin-abcdef1234567890"

func TestString_NeverPrintsTheValue(t *testing.T) {
	s := String(key)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", s)
	j, _ := json.Marshal(struct{ K String }{s})
	y, _ := yaml.Marshal(struct{ K String }{s})
	text, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v":  fmt.Sprintf("%v", s),
		"%s":  fmt.Sprintf("%s", s), //nolint:staticcheck // S1025: fmt's %s verb is what is tested
		"%#v": fmt.Sprintf("%#v", s), "%+v struct": fmt.Sprintf("%+v", struct{ K String }{s}),
		"%#v struct": fmt.Sprintf("%#v", struct{ K String }{s}),
		"text":       string(text),
		"json":       string(j), "yaml": string(y), "slog": logged.String(),
	} {
		if strings.Contains(out, "abcdef") {
			t.Errorf("%s output %q contains the secret", name, out)
		}
		if !strings.Contains(out, mask) && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s output %q does not show the mask", name, out)
		}
	}
	if e, err := String("").MarshalText(); err != nil || len(e) != 0 {
		t.Errorf("empty String marshals as %q, %v; want empty", e, err)
	}
	if s.Reveal() != key || !s.IsSet() || String("").IsSet() || String("").String() != "" {
		t.Error("Reveal/IsSet/empty String misbehave")
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Incorrect API key provided: sk-admin-abcd****wxyz.", "Incorrect API key provided: <secret>"},
		{"key sk-ant-admin01-AbC_dEf-123 rejected", "key <secret> rejected"},
		{"Invalid API Key provided: rk_live_51Habc123", "Invalid API Key provided: <secret>"},
		{"sk_test_4eC39HqLyjWDarjtT1zdp7dc and sk-or-v1-0e6f1c96abc", "<secret> and <secret>"},
		{"nothing secret here: task-sk, skip", "nothing secret here: task-sk, skip"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
