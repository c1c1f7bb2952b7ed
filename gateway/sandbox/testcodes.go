package sandbox

// Test codes: payment codes that start with TestCodeMarker select a business
// outcome. A test code is
//
//	2899999999 SS N ddd…   (16–24 digits in all)
//
// SS (two digits) names the scenario, N (one digit) is its parameter: for
// the password-wait scenarios the number of trade.query calls after which
// the wait resolves, 0 meaning never. The free digits d make codes (and so
// user_ids) distinct. A random code starts with the ten-digit marker about
// once in 10^8 codes of prefix 28. TESTCODES.md is the table for people;
// keep it in step with this file.
const TestCodeMarker = "2899999999"

// scenario is what a payment code does.
type scenario int

// Scenario numbers (SS). Unlisted numbers behave as ordinary codes.
const (
	scNormal             scenario = 0  // 00: an ordinary code
	scWaitThenPaid       scenario = 1  // 01: 10003, paid after N queries (0: never)
	scWaitForever        scenario = 2  // 02: 10003, never resolves
	scWaitThenClosed     scenario = 3  // 03: 10003, buyer cancels after N queries (0: never)
	scBalanceNotEnough   scenario = 4  // 04: pay ACQ.BUYER_BALANCE_NOT_ENOUGH
	scCodeExpired        scenario = 5  // 05: decode CODE_EXPIRED, pay ACQ.PAYMENT_AUTH_CODE_INVALID
	scIllegalCode        scenario = 6  // 06: decode ILLEGAL_CODE, pay ACQ.PAYMENT_AUTH_CODE_INVALID
	scUserUnAuth         scenario = 7  // 07: decode USER_UN_AUTH, pay works
	scIndexNotExist      scenario = 8  // 08: decode INDEX_NOT_EXIST, pay works
	scDecodeFailed       scenario = 9  // 09: decode DECODE_FAILED, pay works
	scDecodeSystemError  scenario = 10 // 10: decode 40004 SYSTEM_ERROR, pay works
	scDecodeUnknown      scenario = 11 // 11: decode 20000 isp.unknow-error, pay works
	scFrozen             scenario = 12 // 12: 10003 (N as 01); cancel ACQ.REASON_TRADE_BEEN_FREEZEN
	scCancelNotAllowed   scenario = 13 // 13: 10003 (N as 01); cancel ACQ.CANCEL_NOT_ALLOWED
	scCancelRetry        scenario = 14 // 14: 10003 (N as 01); first cancel retry_flag=Y, nothing done
	scCancelTimeOut      scenario = 15 // 15: 10003 (N as 01); cancel ACQ.TRADE_CANCEL_TIME_OUT
	scPayUnknownPaid     scenario = 16 // 16: pay commits (paid) but answers 20000 ACQ.SYSTEM_ERROR
	scPayUnknownNotFound scenario = 17 // 17: pay answers 20000 ACQ.SYSTEM_ERROR, no trade
	scRefundBalance      scenario = 18 // 18: pay works; refund ACQ.SELLER_BALANCE_NOT_ENOUGH (the first N refund calls; 0: every one)
	scRefundNotAllowed   scenario = 19 // 19: pay works; refund ACQ.TRADE_NOT_ALLOW_REFUND, every time
	scRefundUnknownDone  scenario = 20 // 20: pay works; a new refund commits but answers 20000 ACQ.SYSTEM_ERROR
	scRefundUnknownNone  scenario = 21 // 21: pay works; a new refund first answers 20000 ACQ.SYSTEM_ERROR with no effect
	scLast                        = scRefundUnknownNone
)

// testCode is the scenario of a code and its parameter N.
type testCode struct {
	sc scenario
	n  int
}

// testCodeOf reads the scenario of a payment code; ordinary codes are
// {scNormal, 0}.
func testCodeOf(code string) testCode {
	m := len(TestCodeMarker)
	if len(code) < m+3 || code[:m] != TestCodeMarker {
		return testCode{}
	}
	for i := m; i < m+3; i++ {
		if code[i] < '0' || code[i] > '9' {
			return testCode{}
		}
	}
	sc := scenario(int(code[m]-'0')*10 + int(code[m+1]-'0'))
	if sc > scLast {
		return testCode{}
	}
	return testCode{sc: sc, n: int(code[m+2] - '0')}
}

// waits reports whether a pay with this code answers 10003 (the buyer must
// confirm with a password).
func (c testCode) waits() bool {
	switch c.sc {
	case scWaitThenPaid, scWaitForever, scWaitThenClosed,
		scFrozen, scCancelNotAllowed, scCancelRetry, scCancelTimeOut:
		return true
	}
	return false
}

// resolvesAfter is the number of queries after which a waiting trade
// resolves, 0 for never.
func (c testCode) resolvesAfter() int {
	if c.sc == scWaitForever {
		return 0
	}
	return c.n
}

// resolvedStatus is the status a waiting trade resolves to.
func (c testCode) resolvedStatus() string {
	if c.sc == scWaitThenClosed {
		return statusClosed
	}
	return statusSuccess
}

// payable reports whether the code can pay at all.
func (c testCode) payable() bool {
	return c.sc != scCodeExpired && c.sc != scIllegalCode
}
