package fuzzpage

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/marginhq/margin/internal/usage"
)

func TestTransport_AnswersEveryRequestWithTheBody(t *testing.T) {
	tr := &Transport{Body: []byte(`{"data":[]}`)}
	req, _ := http.NewRequest(http.MethodGet, "http://x.invalid/a", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != `{"data":[]}` || resp.ContentLength != 11 || resp.Request != req {
		t.Fatalf("response %d %q length %d", resp.StatusCode, b, resp.ContentLength)
	}
}

func TestCheckFetch_NamesWhatIsWrong(t *testing.T) {
	w := usage.Window{From: 100, To: 110}
	for _, tc := range []struct {
		name string
		b    *usage.Batch
		err  error
		bad  bool
	}{
		{"clean records", &usage.Batch{Usage: []usage.UsageRecord{{Day: 100}}, Costs: []usage.CostRecord{{Day: 109}}}, nil, false},
		{"usage outside", &usage.Batch{Usage: []usage.UsageRecord{{Day: 110}}}, nil, true},
		{"cost outside", &usage.Batch{Costs: []usage.CostRecord{{Day: 99}}}, nil, true},
		{"error naming the provider", nil, errors.New("openai: GET /x: malformed"), false},
		{"error not naming it", nil, errors.New("GET /x: malformed"), true},
		{"error showing the key", nil, errors.New("openai: key sk-admin-secret refused"), true},
	} {
		err := CheckFetch("openai", "sk-admin-secret", w, tc.b, tc.err)
		if (err != nil) != tc.bad {
			t.Errorf("%s: CheckFetch = %v, want a problem: %v", tc.name, err, tc.bad)
		}
	}
}

// The seed corpus is testdata's pages and a null page: each seed reaches the target.
func FuzzSeedTestdata(f *testing.F) {
	SeedTestdata(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		tr := &Transport{Body: body}
		req, _ := http.NewRequest(http.MethodGet, "http://x.invalid/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(resp.Body); string(got) != string(body) {
			t.Fatalf("body %q, want %q", got, body)
		}
	})
}
