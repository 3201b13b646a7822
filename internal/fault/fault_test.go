package fault

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestClassify_SeesThroughWrapping(t *testing.T) {
	cases := []struct {
		err  error
		want Class
	}{
		{&Error{Provider: "openai", Endpoint: "organization/costs", StatusCode: 401}, ClassAuth},
		{&Error{StatusCode: 403}, ClassPermission},
		{&Error{StatusCode: 429}, ClassRateLimited},
		{&Error{StatusCode: 503}, ClassServer},
		{&Error{StatusCode: 400}, ClassBadRequest},
		{&Error{Temporary: true, Err: errors.New("dial tcp: connection refused")}, ClassUnreachable},
		{&DecodeError{Size: 7, Err: errors.New("unexpected EOF")}, ClassMalformed},
		{&PagingError{Provider: "anthropic", Endpoint: "v1/organizations/cost_report", Reason: "cursor repeated"}, ClassMalformed},
		{errors.New("something else"), ClassOther},
		{nil, ClassOther},
	}
	for _, tc := range cases {
		wrapped := fmt.Errorf("fetching: %w", tc.err)
		if got := Classify(wrapped); got != tc.want {
			t.Errorf("Classify(%v) = %d, want %d", wrapped, got, tc.want)
		}
	}
}

func TestExplain_PlainWordsPerClassElseTheError(t *testing.T) {
	if got := Explain(fmt.Errorf("x: %w", &Error{StatusCode: 401})); !strings.Contains(got, "HTTP 401") {
		t.Errorf("401 explained as %q", got)
	}
	if got := Explain(fmt.Errorf("x: %w", &DecodeError{Err: errors.New("eof")})); got != "the provider returned a malformed response" {
		t.Errorf("malformed explained as %q", got)
	}
	if got := Explain(errors.New("stripe: boom")); got != "stripe: boom" {
		t.Errorf("other explained as %q", got)
	}
}

func TestError_NamesProviderEndpointAndStatus(t *testing.T) {
	e := &Error{Provider: "openrouter", Endpoint: "api/v1/keys", StatusCode: 429, Type: "rate_limited", Message: "slow down", RequestID: "req_1"}
	want := "openrouter: GET api/v1/keys: HTTP 429 Too Many Requests (rate_limited): slow down [request req_1]"
	if got := e.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	cause := errors.New("connection reset")
	e = &Error{Provider: "openai", Endpoint: "organization/usage/completions", Temporary: true, Err: cause}
	if !errors.Is(e, cause) || e.Error() != "openai: GET organization/usage/completions: connection reset" {
		t.Errorf("got %q", e.Error())
	}
}

func TestExplain_EveryClassInPlainWords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{StatusCode: 401}, "HTTP 401"},
		{&Error{StatusCode: 403}, "admin or management key"},
		{&Error{StatusCode: 429}, "rate limited (HTTP 429)"},
		{&Error{StatusCode: 502}, "HTTP 5xx"},
		{&Error{Temporary: true, Err: errors.New("i/o timeout")}, "unreachable"},
		{&PagingError{Provider: "openai", Endpoint: "organization/costs", Reason: "cursor repeated"}, "malformed response"},
		// A 400 has no plain-words sentence: the provider's own message is the most useful thing.
		{&Error{Provider: "openai", Endpoint: "organization/costs", StatusCode: 400, Message: "bad start_time"}, "HTTP 400 Bad Request: bad start_time"},
	} {
		if got := Explain(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("Explain(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

func TestDecodeError_SaysSizeAndUnwraps(t *testing.T) {
	cause := errors.New("unexpected end of JSON input")
	e := fmt.Errorf("openai: %w", &DecodeError{Err: cause, Size: 12})
	if !errors.Is(e, cause) {
		t.Error("DecodeError does not unwrap to its cause")
	}
	if want := "openai: malformed JSON response (after 12 bytes): unexpected end of JSON input"; e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

func TestError_TwoXXStatusAndNoCauseIsJustTheRequest(t *testing.T) {
	// A decode failure on a 200 keeps its status but must not claim an HTTP error.
	e := &Error{Provider: "anthropic", Endpoint: "v1/organizations/usage_report/messages", StatusCode: 200}
	if got := e.Error(); got != "anthropic: GET v1/organizations/usage_report/messages" {
		t.Errorf("got %q", got)
	}
	if e.Unwrap() != nil || Classify(e) != ClassOther {
		t.Errorf("Unwrap %v, Classify %d; want nil, ClassOther", e.Unwrap(), Classify(e))
	}
}
