package openrouter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/usage"
)

// An answer whose data is null or missing is a decode error naming the provider, the endpoint and
// the field: OpenRouter never disappears from a report because /activity said "data": null.
func TestNullOrMissingDataIsADecodeError(t *testing.T) {
	w := usage.Window{From: day("2026-08-01"), To: day("2026-08-31")}
	bodies := []struct{ name, body string }{
		{"data null", `{"data":null}`},
		{"data missing", `{}`},
	}
	calls := map[string]func(c *Client) error{
		keysEndpoint:     func(c *Client) error { _, err := c.Fetch(context.Background(), w); return err },
		activityEndpoint: func(c *Client) error { _, err := c.Fetch(context.Background(), w); return err },
		currentKeyEndpoint: func(c *Client) error {
			_, err := c.CurrentKey(context.Background())
			return err
		},
		creditsEndpoint: func(c *Client) error { _, err := c.Credits(context.Background()); return err },
	}
	for ep, call := range calls {
		for _, b := range bodies {
			t.Run(ep+" "+b.name, func(t *testing.T) {
				f := newFakeServer(t)
				f.handle(ep, func(rw http.ResponseWriter, r *http.Request) { writeJSON(rw, b.body) })
				c, _ := f.client(t, nil)
				err := call(c)
				var de *apiclient.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s: %v, want a *apiclient.DecodeError", ep, err)
				}
				for _, want := range []string{"openrouter", ep, "data is null or missing"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
	// An empty array is an answer: a key without activity.
	f := newFakeServer(t)
	f.handle(activityEndpoint, func(rw http.ResponseWriter, r *http.Request) { writeJSON(rw, `{"data":[]}`) })
	c, _ := f.client(t, nil)
	if _, err := c.Fetch(context.Background(), w); err != nil {
		t.Fatalf("empty activity: %v", err)
	}
}
