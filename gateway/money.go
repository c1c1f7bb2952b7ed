package gateway

import (
	"errors"
	"fmt"
	"strconv"
)

// Amount is money in fen (1/100 yuan). It is the only type that holds money
// in posagent; on the wire and in JSON it is a string with two decimals,
// "25.00".
type Amount int64

// MaxAmount is the largest amount Alipay accepts on one trade: 100,000,000.00.
const MaxAmount Amount = 100_000_000_00

// ErrBadAmount is returned (wrapped) for any string that is not a valid amount.
var ErrBadAmount = errors.New("bad amount")

// ParseAmount reads "25", "25.5" or "25.00" into fen. It refuses a sign,
// exponents, more than two decimals, empty strings, and anything above
// MaxAmount. Zero is allowed here; callers that need a positive amount check.
func ParseAmount(s string) (Amount, error) {
	if s == "" || len(s) > 16 {
		return 0, fmt.Errorf("%w %q: want digits with at most two decimals", ErrBadAmount, s)
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			if frac == "" {
				return 0, fmt.Errorf("%w %q: a decimal point needs digits after it", ErrBadAmount, s)
			}
			break
		}
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w %q: want digits with at most two decimals", ErrBadAmount, s)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("%w %q: more than two decimals", ErrBadAmount, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if len(intPart) > 9 {
		return 0, fmt.Errorf("%w %q: above the maximum %s", ErrBadAmount, s, MaxAmount)
	}
	yuan, _ := strconv.ParseInt(intPart, 10, 64)
	fen, _ := strconv.ParseInt(frac, 10, 64)
	a := Amount(yuan*100 + fen)
	if a > MaxAmount {
		return 0, fmt.Errorf("%w %q: above the maximum %s", ErrBadAmount, s, MaxAmount)
	}
	return a, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with two decimals: Amount(2500) → "25.00".
func (a Amount) String() string {
	sign := ""
	v := int64(a)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON writes the amount as a JSON string, "25.00".
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + a.String() + `"`), nil
}

// UnmarshalJSON reads a JSON string such as "25.00" (a bare JSON number is
// refused: money never passes through a float). An empty string, which the
// gateway sends for an optional amount it has no value for, and null read
// as zero.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if string(b) == `""` || string(b) == "null" {
		*a = 0
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w %s: amounts are strings like \"25.00\"", ErrBadAmount, b)
	}
	v, err := ParseAmount(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
