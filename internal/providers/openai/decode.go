package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/marginhq/margin/internal/ledger"
)

// Decimal is a JSON number kept as its decimal text so money never passes through float64.
// It also accepts the number quoted as a string, as OpenAI's amount.value sometimes arrives
// (provider-apis.md trap 3). null leaves it empty.
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
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("decimal: want a number or a string, got %.40s", b)
	}
	*d = Decimal(n)
	return nil
}

// Dollars parses the decimal as an amount of dollars, exactly to the nano-dollar.
func (d Decimal) Dollars() (ledger.Money, error) { return ledger.ParseDollars(string(d)) }

// FlexBool is a bool that also accepts "true"/"false" as strings and null (false), the way the
// usage API's batch field has been seen to arrive (provider-apis.md trap 3).
type FlexBool bool

// UnmarshalJSON accepts true, false, null, or a string strconv.ParseBool understands ("" is false).
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "true":
		*f = true
		return nil
	case "false", "null":
		*f = false
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("bool: want true, false or a string, got %.40s", b)
	}
	if s == "" {
		*f = false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("bool: %q is neither true nor false", s)
	}
	*f = FlexBool(v)
	return nil
}
