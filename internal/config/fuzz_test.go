package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Parse never panics, and every problem it reports is a *Problem with a message.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("providers:\n  openai:\n    admin_key: sk-proj-x\n"))
	env := lookup(map[string]string{"OPENAI_ADMIN_KEY": "sk-admin-fuzz", "STRIPE_API_KEY": "rk_test_fuzz"})
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b, ParseOptions{LookupEnv: env, ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist }})
		if err == nil {
			if cfg == nil {
				t.Fatal("no config and no error")
			}
			return
		}
		var probs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			probs = j.Unwrap()
		} else {
			probs = []error{err}
		}
		for _, e := range probs {
			var p *Problem
			if !errors.As(e, &p) || strings.TrimSpace(p.Msg) == "" {
				t.Fatalf("problem %v (%T) is not a *Problem with a message", e, e)
			}
			if strings.Contains(p.Error(), "sk-admin-fuzz") || strings.Contains(p.Error(), "rk_test_fuzz") {
				t.Fatalf("problem %q shows a credential from the environment", p)
			}
		}
	})
}
