package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/marginhq/margin/internal/ledger"
)

// Decimal is amount.value: a JSON number that sometimes arrives as a string (trap 3), kept as
// decimal text; Dollars parses it.
type Decimal = ledger.Decimal

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
