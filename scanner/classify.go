package scanner

import (
	"regexp"

	"posagent/gateway"
)

// Kind is what a scanned code is, as far as its shape tells.
type Kind string

// The kinds Classify tells apart.
const (
	KindAlipay   Kind = "alipay"   // Alipay payment code (付款码): 16–24 digits starting 25–30
	KindWeChat   Kind = "wechat"   // WeChat Pay payment code: 18 digits starting 10–15
	KindUnionPay Kind = "unionpay" // UnionPay QuickPass payment code: 19 digits starting 62
	KindOther    Kind = "other"    // anything else: a product barcode, a URL, a coupon
)

var (
	weChatCodeRE   = regexp.MustCompile(`^1[0-5]\d{16}$`)
	unionPayCodeRE = regexp.MustCompile(`^62\d{17}$`)
)

// Classify tells which kind of code s is. Only KindAlipay can be paid.
func Classify(s string) Kind {
	switch {
	case gateway.IsPaymentCode(s):
		return KindAlipay
	case weChatCodeRE.MatchString(s):
		return KindWeChat
	case unionPayCodeRE.MatchString(s):
		return KindUnionPay
	default:
		return KindOther
	}
}

// Message is what the cashier is told about a scan of this kind: for every
// kind but KindAlipay, why the scan cannot be used and what to do instead.
func (k Kind) Message() string {
	switch k {
	case KindAlipay:
		return "This is an Alipay payment code."
	case KindWeChat:
		return "This is a WeChat Pay code; posagent takes Alipay. Ask the customer to open the Alipay payment code."
	case KindUnionPay:
		return "This is a UnionPay code; posagent takes Alipay. Ask the customer to open the Alipay payment code."
	default:
		return "This is not a payment code. Ask the customer to open the Alipay payment code (Alipay app, Pay)."
	}
}
