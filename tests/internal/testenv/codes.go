package testenv

import (
	"fmt"
	"sync/atomic"
)

// codeSeq makes every code of a test binary distinct, so no two checkouts
// (and no two sandbox buyers) share one.
var codeSeq atomic.Int64

// Code returns a fresh ordinary payment code: 18 digits starting 28, not
// the test-code marker. It pays, and its buyer is
// sandbox.UserIDOf(code) = "2088" + its last 12 digits.
func Code() string {
	return fmt.Sprintf("2860%014d", codeSeq.Add(1))
}

// TestCode returns a fresh sandbox test code (gateway/sandbox/TESTCODES.md)
// for scenario ss with parameter n: "2899999999" ss n and 7 free digits.
func TestCode(ss, n int) string {
	return fmt.Sprintf("2899999999%02d%d%07d", ss, n, codeSeq.Add(1))
}

// Sandbox scenarios used by the suites (TESTCODES.md).
const (
	ScenarioPasswordWait  = 1  // 10003, then TRADE_SUCCESS at the N-th query (N = 0: never)
	ScenarioWaitForever   = 2  // 10003, WAIT_BUYER_PAY forever; cancel closes
	ScenarioBalanceTooLow = 4  // 40004 ACQ.BUYER_BALANCE_NOT_ENOUGH
	ScenarioCommitUnknown = 16 // pay commits the trade but answers 20000
)

// WeChatCode is a WeChat Pay code, which posagent must not send to Alipay.
const WeChatCode = "134567890123456789"
