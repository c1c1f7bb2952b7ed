package gateway

import "regexp"

// paymentCodeRE is the shape of an Alipay payment code (付款码): 16–24 digits
// starting 25–30.
var paymentCodeRE = regexp.MustCompile(`^(2[5-9]|30)\d{14,22}$`)

// IsPaymentCode reports whether s has the shape of an Alipay payment code.
func IsPaymentCode(s string) bool { return paymentCodeRE.MatchString(s) }

// MaskCode hides a scanned code for logs and errors: the first 2 and the last
// 4 characters stay, everything between becomes '*'. Codes of 6 characters or
// fewer are masked whole, so that nothing short enough to guess is printed.
func MaskCode(s string) string {
	if len(s) <= 6 {
		b := make([]byte, len(s))
		for i := range b {
			b[i] = '*'
		}
		return string(b)
	}
	b := []byte(s)
	for i := 2; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}
