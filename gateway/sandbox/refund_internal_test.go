package sandbox

import (
	"testing"
	"time"

	"posagent/gateway"
)

// FuzzRefundBiz sends arbitrary biz_content to the refund, refund query and
// bill methods of a sandbox holding one paid trade of 10.00, interleaved
// with refunds of it: nothing panics, every reply has a code, and the
// trade never gives back more than it took, whatever arrives.
func FuzzRefundBiz(f *testing.F) {
	for _, s := range []string{
		`{"out_trade_no":"T1","refund_amount":"4.00","out_request_no":"R1"}`,
		`{"out_trade_no":"T1","refund_amount":6,"out_request_no":"R2"}`,
		`{"trade_no":"x","refund_amount":"10.00"}`,
		`{"out_trade_no":"T1","refund_amount":"10.01","out_request_no":"R3"}`,
		`{"out_trade_no":"T1","out_request_no":"R1","query_options":["gmt_refund_pay"]}`,
		`{"bill_type":"trade","bill_date":"2025-03-01"}`,
		`{"bill_type":"trade","bill_date":"2025-03"}`,
		`{}`, `[]`, `{"refund_amount":"-1"}`,
	} {
		for m := uint8(0); m < 3; m++ {
			f.Add(m, []byte(s))
		}
	}
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, gateway.Shanghai)
	f.Fuzz(func(t *testing.T, which uint8, biz []byte) {
		s := newFuzzSandbox(now)
		calls := []func(*request, time.Time) any{s.tradeRefund, s.tradeRefundQuery, s.billDownloadURLQuery}
		for i := 0; i < 3; i++ {
			resp := calls[(int(which)+i)%len(calls)](&request{biz: biz}, now)
			if code, _ := replyCodes(resp); code == "" {
				t.Fatalf("reply without a code: %#v", resp)
			}
			s.tradeRefund(&request{biz: []byte(`{"out_trade_no":"T1","refund_amount":"3.00","out_request_no":"R` + string(rune('a'+i)) + `"}`)}, now)
		}
		tr := s.ledger.byOut["T1"]
		var sum gateway.Amount
		for _, r := range tr.refunds {
			sum += r.amount
		}
		if sum != tr.refundedAmount || sum > tr.amount || (sum == tr.amount) != (tr.status == statusClosed) {
			t.Fatalf("trade after refunds: refunded %s of %s (sum %s), status %s", tr.refundedAmount, tr.amount, sum, tr.status)
		}
	})
}

// newFuzzSandbox is a sandbox whose ledger holds one paid trade T1 of 10.00
// (no keys: the handlers are called directly).
func newFuzzSandbox(now time.Time) *Sandbox {
	s := &Sandbox{cfg: Config{Now: func() time.Time { return now }}.withDefaults(), ledger: newLedger()}
	s.ledger.add(&trade{outTradeNo: "T1", tradeNo: "2025030122001000000000000001", authCode: "281234567890123456",
		amount: 1000, status: statusSuccess, buyerUserID: "2088567890123456", created: now, paidAt: now})
	return s
}
