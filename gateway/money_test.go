package gateway_test

import (
	"encoding/json"
	"errors"
	"testing"

	"posagent/gateway"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gateway.Amount
		ok   bool
	}{
		{"25.00", 2500, true}, {"25", 2500, true}, {"25.5", 2550, true}, {"0.01", 1, true},
		{"0", 0, true}, {"007.10", 710, true}, {"100000000.00", gateway.MaxAmount, true},
		{"100000000.01", 0, false}, {"999999999", 0, false}, {"1.234", 0, false}, {"-1", 0, false},
		{"+1", 0, false}, {"abc", 0, false}, {"NaN", 0, false}, {"", 0, false}, {"1.", 0, false},
		{".5", 0, false}, {"1e3", 0, false}, {" 1", 0, false}, {"1,00", 0, false}, {"1.2.3", 0, false},
		{"Inf", 0, false}, {"12345678901234567890", 0, false},
	} {
		got, err := gateway.ParseAmount(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, gateway.ErrBadAmount) {
			t.Errorf("ParseAmount(%q) error %v is not ErrBadAmount", tc.in, err)
		}
	}
}

func TestAmountStringAndJSON(t *testing.T) {
	for a, s := range map[gateway.Amount]string{0: "0.00", 1: "0.01", 2500: "25.00", 1999: "19.99", gateway.MaxAmount: "100000000.00"} {
		if a.String() != s {
			t.Errorf("%d.String() = %s, want %s", int64(a), a.String(), s)
		}
		b, _ := json.Marshal(a)
		var back gateway.Amount
		if err := json.Unmarshal(b, &back); err != nil || back != a {
			t.Errorf("JSON round trip of %s: %s → %v, %v", s, b, back, err)
		}
	}
	var a gateway.Amount
	if err := json.Unmarshal([]byte(`25.5`), &a); err == nil {
		t.Error("a bare JSON number was accepted as money")
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"25.00", "0.01", "1.234", "-1", "abc", "NaN", "", "100000000.00", "100000000.01", "9.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := gateway.ParseAmount(s)
		if err != nil {
			return
		}
		if a < 0 || a > gateway.MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d, out of range", s, int64(a))
		}
		back, err := gateway.ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("round trip of %q: %s → %v, %v", s, a, back, err)
		}
	})
}
