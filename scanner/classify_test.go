package scanner_test

import (
	"strings"
	"testing"

	"posagent/scanner"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code string
		want scanner.Kind
	}{
		{"286123456789012345", scanner.KindAlipay},       // 18 digits, 28
		{"2512345678901234", scanner.KindAlipay},         // 16 digits, lowest prefix
		{"301234567890123456789012", scanner.KindAlipay}, // 24 digits, highest prefix
		{"3012345678901234567890123", scanner.KindOther}, // 25 digits
		{"311234567890123456", scanner.KindOther},        // prefix 31
		{"241234567890123456", scanner.KindOther},        // prefix 24
		{"251234567890123", scanner.KindOther},           // 15 digits
		{"134567890123456789", scanner.KindWeChat},       // 18 digits, 13
		{"104567890123456789", scanner.KindWeChat},       // 10
		{"154567890123456789", scanner.KindWeChat},       // 15
		{"164567890123456789", scanner.KindOther},        // 16 is not WeChat
		{"13456789012345678", scanner.KindOther},         // 17 digits
		{"6212345678901234567", scanner.KindUnionPay},    // 19 digits, 62
		{"621234567890123456", scanner.KindOther},        // 18 digits
		{"6901234567892", scanner.KindOther},             // EAN-13
		{"https://qr.alipay.com/abc", scanner.KindOther}, // a QR URL
		{"28612345678901234a", scanner.KindOther},        // letter
		{"", scanner.KindOther},                          // nothing
		{"２８６１２３４５６７８９０１２３４５", scanner.KindOther},        // full-width digits
	}
	for _, tt := range tests {
		if got := scanner.Classify(tt.code); got != tt.want {
			t.Errorf("Classify(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestKindMessage(t *testing.T) {
	for _, tt := range []struct {
		kind scanner.Kind
		says string
	}{
		{scanner.KindWeChat, "WeChat Pay"},
		{scanner.KindUnionPay, "UnionPay"},
		{scanner.KindOther, "not a payment code"},
		{scanner.Kind("bogus"), "not a payment code"},
		{scanner.KindAlipay, "Alipay payment code"},
	} {
		msg := tt.kind.Message()
		if !strings.Contains(msg, tt.says) {
			t.Errorf("%q.Message() = %q, want it to say %q", tt.kind, msg, tt.says)
		}
		if tt.kind != scanner.KindAlipay && !strings.Contains(msg, "Alipay") {
			t.Errorf("%q.Message() = %q does not point the cashier to Alipay", tt.kind, msg)
		}
	}
}
