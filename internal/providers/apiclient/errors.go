package apiclient

import (
	"errors"
	"fmt"

	"github.com/marginhq/margin/internal/fault"
)

// The error classes live in internal/fault, where the front ends can explain and classify them
// without importing provider plumbing; these names keep the clients' code as it was.
type (
	Error       = fault.Error
	DecodeError = fault.DecodeError
	PagingError = fault.PagingError
)

// Pager guards a paging loop: call Next with each new cursor before requesting it.
type Pager struct {
	provider, endpoint string
	seen               map[string]struct{}
	pages, maxPages    int
}

// NewPager returns a guard for one paging loop that allows at most maxPages pages.
func (c *Client) NewPager(endpoint string, maxPages int) *Pager {
	return &Pager{provider: c.cfg.Provider, endpoint: endpoint, seen: map[string]struct{}{}, maxPages: maxPages}
}

// Next records that the loop is about to request the page at cursor.
func (p *Pager) Next(cursor string) error {
	p.pages++
	if p.pages > p.maxPages {
		return &PagingError{Provider: p.provider, Endpoint: p.endpoint, Reason: fmt.Sprintf("more than %d pages", p.maxPages)}
	}
	if _, dup := p.seen[cursor]; dup {
		return &PagingError{Provider: p.provider, Endpoint: p.endpoint, Reason: fmt.Sprintf("cursor %q repeated", cursor)}
	}
	p.seen[cursor] = struct{}{}
	return nil
}

// Validator is implemented by response shapes that check, once decoded, that what the API always
// sends is there. Get calls it on its out value and reports a failure as a *DecodeError; the
// envelopes call it on their elements.
type Validator interface {
	Validate() error
}

// MissingFieldError is a field the API documents as always present that came null or missing.
// Field is its path in the response, e.g. "data[3].results".
type MissingFieldError struct {
	Field string
}

func (e *MissingFieldError) Error() string {
	return fmt.Sprintf("%s is null or missing; the API always sends it", e.Field)
}

// Missing returns the error for a required field that is null or missing.
func Missing(field string) error { return &MissingFieldError{Field: field} }

// within places a nested Validate error's field under parent.
func within(parent string, err error) error {
	if err == nil {
		return nil
	}
	var m *MissingFieldError
	if errors.As(err, &m) {
		return &MissingFieldError{Field: parent + "." + m.Field}
	}
	return fmt.Errorf("%s: %w", parent, err)
}
