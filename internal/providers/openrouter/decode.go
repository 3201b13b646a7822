package openrouter

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/marginhq/margin/internal/ledger"
)

// USD is an amount of US dollars decoded exactly from OpenRouter's money fields. The spec types
// them as JSON numbers (doubles); the decimal text is parsed with ledger.ParseDollars and never
// passes through float64, and a number quoted as a string is accepted too. A null leaves the value
// unchanged; use *USD for fields the spec declares nullable.
type USD ledger.Money

// Money returns the amount as ledger.Money.
func (d USD) Money() ledger.Money { return ledger.Money(d) }

// UnmarshalJSON accepts a JSON number, a string holding one, or null.
func (d *USD) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var text string
	switch {
	case len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9'):
		// A number, which the decoder handing it over has checked: its text as it is.
		text = string(b)
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	default:
		return fmt.Errorf("dollar amount: want a number or a string, got %.40s", b)
	}
	m, err := ledger.ParseDollars(text)
	if err != nil {
		return fmt.Errorf("dollar amount: %w", err)
	}
	*d = USD(m)
	return nil
}
