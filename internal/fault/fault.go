// Package fault holds the error classes of Margin's data sources: a failed provider request, a
// malformed response, pagination that does not end, and the classification that health checks
// and plain-words messages use. It is neutral ground: the provider clients produce these errors
// and the front ends (exporter, plugin, CLI) explain them without importing provider plumbing.
package fault

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is a failed provider request. It names the provider, the endpoint and the HTTP status, and
// never carries a credential: the message comes from the provider's error body, scrubbed.
type Error struct {
	Provider   string
	Endpoint   string // path relative to the base URL, without query
	StatusCode int    // 0 when no response arrived
	Type       string // the provider's error type or code, e.g. "invalid_api_key"
	Message    string
	RequestID  string
	RetryAfter time.Duration
	Temporary  bool  // a network fault; retried
	Err        error // the underlying cause when there was no HTTP error status
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: GET %s", e.Provider, e.Endpoint)
	if e.StatusCode != 0 && e.StatusCode/100 != 2 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Type != "" {
			fmt.Fprintf(&b, " (%s)", e.Type)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.RequestID != "" {
			fmt.Fprintf(&b, " [request %s]", e.RequestID)
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// DecodeError is a success response whose body is not the JSON the client expects
// (truncated or malformed).
type DecodeError struct {
	Err  error
	Size int64 // bytes of the body read when decoding failed (a large body is not read to its end)
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("malformed JSON response (after %d bytes): %v", e.Size, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// PagingError is returned when a provider's pagination does not end: a cursor that repeats or
// more pages than any real window needs.
type PagingError struct {
	Provider, Endpoint string
	Reason             string
}

func (e *PagingError) Error() string {
	return fmt.Sprintf("%s: GET %s: pagination does not end: %s", e.Provider, e.Endpoint, e.Reason)
}

// Class says what kind of failure an error is, for health checks and plain-words messages.
type Class int

const (
	ClassOther       Class = iota
	ClassAuth              // 401: the key is wrong or revoked
	ClassPermission        // 403: the key lacks a permission (not an admin/management key)
	ClassRateLimited       // 429 after every retry
	ClassServer            // 5xx after every retry
	ClassUnreachable       // no response: DNS, connection, timeout
	ClassMalformed         // the provider answered with something that is not the documented JSON
	ClassBadRequest        // other 4xx
)

// Classify returns the class of err.
func Classify(err error) Class {
	var de *DecodeError
	if errors.As(err, &de) {
		return ClassMalformed
	}
	var pe *PagingError
	if errors.As(err, &pe) {
		return ClassMalformed
	}
	var e *Error
	if !errors.As(err, &e) {
		return ClassOther
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		return ClassAuth
	case e.StatusCode == http.StatusForbidden:
		return ClassPermission
	case e.StatusCode == http.StatusTooManyRequests:
		return ClassRateLimited
	case e.StatusCode >= 500:
		return ClassServer
	case e.StatusCode >= 400:
		return ClassBadRequest
	case e.Temporary:
		return ClassUnreachable
	}
	return ClassOther
}

// Explain turns err into a short sentence a person can act on.
func Explain(err error) string {
	switch Classify(err) {
	case ClassAuth:
		return "the key was rejected (HTTP 401): check that it is correct and not revoked"
	case ClassPermission:
		return "the key lacks permission (HTTP 403): an admin or management key is needed"
	case ClassRateLimited:
		return "rate limited (HTTP 429) after retries: try again later"
	case ClassServer:
		return "the provider failed (HTTP 5xx) after retries"
	case ClassUnreachable:
		return "unreachable: no response from the API"
	case ClassMalformed:
		return "the provider returned a malformed response"
	}
	return err.Error()
}
