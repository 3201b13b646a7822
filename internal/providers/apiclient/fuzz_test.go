package apiclient

import (
	"strings"
	"testing"
)

// parseErrorBody reads any error body without panicking, into a short, scrubbed message: a key
// the body echoes never comes back.
func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"message":"Incorrect API key provided: sk-admin-AAAAAAAAAAAAAAAAAAAAAAAAAAAA.","type":"invalid_request_error","code":"invalid_api_key"}}`,
		`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
		`{"error":{"code":403,"message":"Only management keys can perform this operation"}}`,
		`{"error":"plain"}`, `<html>502 Bad Gateway</html>`, ``, `{"error":null}`,
	} {
		f.Add([]byte(s))
	}
	const key = "sk-admin-FUZZFUZZFUZZFUZZFUZZFUZZFUZZ"
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, msg := parseErrorBody(body)
		if len(msg) > 310 || len(typ) > len(body) {
			t.Fatalf("message of %d bytes, type of %d from a %d-byte body", len(msg), len(typ), len(body))
		}
		withKey := strings.Replace(string(body), "KEY", key, 1)
		if typ, msg := parseErrorBody([]byte(withKey)); strings.Contains(typ+msg, key) {
			t.Fatalf("the key came back: type %q message %q", typ, msg)
		}
	})
}
