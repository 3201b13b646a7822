package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Decimal is a JSON amount kept as its decimal text, so money never passes through float64.
// Providers send amounts as JSON numbers that sometimes arrive quoted (OpenAI's amount.value,
// provider-apis.md trap 3) or as decimal strings (Anthropic's cents): both decode. null leaves it
// empty, which Dollars and Cents reject.
type Decimal string

// UnmarshalJSON accepts a JSON number, a string holding one, or null.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*d = ""
		return nil
	case len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0:
		// A plain quoted value: the decoder already checked the JSON, so no unescaping is due.
		*d = Decimal(b[1 : len(b)-1])
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		// A number literal the decoder already validated: keep its text as is.
		*d = Decimal(b)
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	}
	return fmt.Errorf("amount: want a decimal number or string, got %.40s", b)
}

var errNoAmount = errors.New("no amount")

// Dollars parses the decimal as an amount of dollars, exactly to the nano-dollar.
func (d Decimal) Dollars() (Money, error) {
	if d == "" {
		return 0, errNoAmount
	}
	return ParseDollars(string(d))
}

// Cents parses the decimal as an amount of cents ("123.45" is $1.2345), exactly to the nano-dollar.
func (d Decimal) Cents() (Money, error) {
	if d == "" {
		return 0, errNoAmount
	}
	return ParseCents(string(d))
}
