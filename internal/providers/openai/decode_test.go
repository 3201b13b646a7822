package openai

import (
	"encoding/json"
	"testing"

	"github.com/marginhq/margin/internal/ledger"
)

func TestDecimal_NumberOrString(t *testing.T) {
	tests := []struct {
		in      string
		want    ledger.Money
		wantErr bool
	}{
		{in: `1.8423`, want: 1_842_300_000},
		{in: `"0.1739150000000000000000000000"`, want: 173_915_000},
		{in: `1.5e-05`, want: 15_000},
		{in: `"12"`, want: 12 * ledger.Dollar},
		{in: `0`, want: 0},
		{in: `-0.25`, want: -250_000_000},
		{in: `"0.0000000015"`, want: 2}, // half a nano rounds away from zero
		{in: `"3.0000000004"`, want: 3 * ledger.Dollar},
		{in: `12345678.123456789`, want: 12_345_678_123_456_789},
		{in: `true`, wantErr: true},
		{in: `{}`, wantErr: true},
		{in: `"abc"`, wantErr: true}, // decodes, but is no amount
	}
	for _, tt := range tests {
		var amt Amount
		err := json.Unmarshal([]byte(`{"value":`+tt.in+`,"currency":"usd"}`), &amt)
		var got ledger.Money
		if err == nil {
			got, err = amt.Value.Dollars()
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("%s: got %d nano, want %d nano", tt.in, got, tt.want)
		}
	}
}

func TestDecimal_NullIsEmpty(t *testing.T) {
	d := Decimal("1")
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || d != "" {
		t.Fatalf("null: got %q, %v; want empty", d, err)
	}
}

func TestFlexBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{in: `true`, want: true},
		{in: `false`, want: false},
		{in: `null`, want: false},
		{in: `"true"`, want: true},
		{in: `"false"`, want: false},
		{in: `"True"`, want: true},
		{in: `""`, want: false},
		{in: `"maybe"`, wantErr: true},
		{in: `1.5`, wantErr: true},
	}
	for _, tt := range tests {
		var r UsageResult
		err := json.Unmarshal([]byte(`{"batch":`+tt.in+`}`), &r)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && bool(r.Batch) != tt.want {
			t.Errorf("%s: got %v, want %v", tt.in, r.Batch, tt.want)
		}
	}
}
