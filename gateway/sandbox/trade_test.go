package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"posagent/gateway"
)

// step is one call in a test-code scenario and what it must answer.
type step struct {
	op     string // decode, pay, query, cancel
	kind   gateway.Kind
	sub    string
	status string // query: trade_status
	action string // cancel: action
	retry  string // cancel: retry_flag
}

func decodeWants(kind gateway.Kind, sub string) step { return step{op: "decode", kind: kind, sub: sub} }
func payWants(kind gateway.Kind, sub string) step    { return step{op: "pay", kind: kind, sub: sub} }
func queryWants(status string) step                  { return step{op: "query", status: status} }
func queryFails(sub string) step                     { return step{op: "query", kind: gateway.Failure, sub: sub} }
func cancelWants(action, retry string) step          { return step{op: "cancel", action: action, retry: retry} }
func cancelFails(sub string) step                    { return step{op: "cancel", kind: gateway.Failure, sub: sub} }

const (
	wait    = gateway.TradeWaitBuyerPay
	paid    = gateway.TradeSuccess
	closed  = gateway.TradeClosed
	ok      = gateway.Success
	failure = gateway.Failure
)

// TestTestCodes drives every scenario of TESTCODES.md through decode, pay,
// query and cancel, as posagent would (the pay carries the decode's
// sence_no whenever a decode was attempted).
func TestTestCodes(t *testing.T) {
	e := mustStart(t)
	for _, tc := range []struct {
		name  string
		ss, n int
		steps []step
	}{
		{"00 ordinary", 0, 0, []step{decodeWants(ok, ""), payWants(ok, ""), queryWants(paid), cancelWants("refund", "N"), queryWants(closed)}},
		{"01 password wait, paid after 2 queries", 1, 2, []step{decodeWants(ok, ""), payWants(gateway.InProgress, ""), queryWants(wait), queryWants(paid), queryWants(paid), payWants(ok, "")}},
		{"01 N=0 never resolves", 1, 0, []step{payWants(gateway.InProgress, ""), queryWants(wait), queryWants(wait), queryWants(wait), cancelWants("close", "N"), queryWants(closed), payWants(failure, "ACQ.TRADE_HAS_CLOSE")}},
		{"02 wait forever", 2, 5, []step{decodeWants(ok, ""), payWants(gateway.InProgress, ""), queryWants(wait), queryWants(wait), queryWants(wait), queryWants(wait), queryWants(wait), queryWants(wait), cancelWants("close", "N")}},
		{"03 wait, buyer cancels after 2 queries", 3, 2, []step{payWants(gateway.InProgress, ""), queryWants(wait), queryWants(closed), payWants(failure, "ACQ.TRADE_HAS_CLOSE"), cancelWants("close", "N")}},
		{"04 balance not enough", 4, 0, []step{decodeWants(ok, ""), payWants(failure, "ACQ.BUYER_BALANCE_NOT_ENOUGH"), queryFails("ACQ.TRADE_NOT_EXIST"), cancelWants("close", "N")}},
		{"05 code expired", 5, 0, []step{decodeWants(failure, "CODE_EXPIRED"), payWants(failure, "ACQ.PAYMENT_AUTH_CODE_INVALID"), queryFails("ACQ.TRADE_NOT_EXIST")}},
		{"06 illegal code", 6, 0, []step{decodeWants(failure, "ILLEGAL_CODE"), payWants(failure, "ACQ.PAYMENT_AUTH_CODE_INVALID")}},
		{"07 user not authorised", 7, 0, []step{decodeWants(failure, "USER_UN_AUTH"), payWants(ok, ""), queryWants(paid)}},
		{"08 index not exist", 8, 0, []step{decodeWants(failure, "INDEX_NOT_EXIST"), payWants(ok, "")}},
		{"09 decode failed", 9, 0, []step{decodeWants(failure, "DECODE_FAILED"), payWants(ok, "")}},
		{"10 decode SYSTEM_ERROR", 10, 0, []step{decodeWants(failure, "SYSTEM_ERROR"), payWants(ok, "")}},
		{"11 decode 20000", 11, 0, []step{decodeWants(gateway.Unknown, "isp.unknow-error"), payWants(ok, "")}},
		{"12 frozen, waits forever", 12, 0, []step{decodeWants(ok, ""), payWants(gateway.InProgress, ""), queryWants(wait), cancelFails("ACQ.REASON_TRADE_BEEN_FREEZEN"), cancelFails("ACQ.REASON_TRADE_BEEN_FREEZEN"), queryWants(wait)}},
		{"12 frozen, paid after 1 query", 12, 1, []step{payWants(gateway.InProgress, ""), queryWants(paid), cancelFails("ACQ.REASON_TRADE_BEEN_FREEZEN"), queryWants(paid)}},
		{"13 cancel not allowed", 13, 0, []step{payWants(gateway.InProgress, ""), cancelFails("ACQ.CANCEL_NOT_ALLOWED"), queryWants(wait)}},
		{"14 retry_flag Y once", 14, 0, []step{payWants(gateway.InProgress, ""), cancelWants("", "Y"), queryWants(wait), cancelWants("close", "N"), queryWants(closed), cancelWants("close", "N")}},
		{"14 retry_flag Y on a paid trade", 14, 1, []step{payWants(gateway.InProgress, ""), queryWants(paid), cancelWants("", "Y"), queryWants(paid), cancelWants("refund", "N")}},
		{"15 cancel time out", 15, 0, []step{payWants(gateway.InProgress, ""), cancelFails("ACQ.TRADE_CANCEL_TIME_OUT"), queryWants(wait)}},
		{"16 pay commits but answers 20000", 16, 0, []step{payWants(gateway.Unknown, "ACQ.SYSTEM_ERROR"), queryWants(paid), payWants(ok, "")}},
		{"17 pay answers 20000, nothing done", 17, 0, []step{payWants(gateway.Unknown, "ACQ.SYSTEM_ERROR"), queryFails("ACQ.TRADE_NOT_EXIST")}},
		{"99 unlisted scenario is ordinary", 99, 9, []step{decodeWants(ok, ""), payWants(ok, ""), queryWants(paid)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			code, out, sence := testCode(tc.ss, tc.n), newNo("T"), ""
			for i, st := range tc.steps {
				var err error
				switch st.op {
				case "decode":
					sence = newNo("S")
					var r *gateway.TwoStageUseResponse
					r, err = e.decode(code, sence)
					if err == nil && r.UserID != "2088"+code[len(code)-12:] {
						t.Fatalf("step %d: user_id %q", i, r.UserID)
					}
				case "pay":
					var r *gateway.TradePayResponse
					r, err = e.pay(out, code, 1234, sence)
					if gateway.KindOf(err) == ok && (r.TradeNo == "" || r.TotalAmount != 1234 || r.GmtPayment == "") {
						t.Fatalf("step %d: pay reply %+v", i, r)
					}
				case "query":
					var r *gateway.TradeQueryResponse
					r, err = e.query(out)
					if err == nil && r.TradeStatus != st.status {
						t.Fatalf("step %d: trade_status %s, want %s", i, r.TradeStatus, st.status)
					}
				case "cancel":
					var r *gateway.TradeCancelResponse
					r, err = e.cancel(out)
					if err == nil && (r.Action != st.action || r.RetryFlag != st.retry) {
						t.Fatalf("step %d: action %q retry_flag %q, want %q %q", i, r.Action, r.RetryFlag, st.action, st.retry)
					}
				}
				if gateway.KindOf(err) != st.kind || gateway.SubCodeOf(err) != st.sub {
					t.Fatalf("step %d (%s): got %v %q (%v), want %v %q", i, st.op, gateway.KindOf(err), gateway.SubCodeOf(err), err, st.kind, st.sub)
				}
			}
		})
	}
}

func TestPayIsIdempotentOnOutTradeNo(t *testing.T) {
	e := mustStart(t)
	out, code := newNo("T"), newCode()
	first, err := e.pay(out, code, 2500, "")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Second)
	again, err := e.pay(out, code, 2500, "")
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first {
		t.Fatalf("repeat answered %+v, first %+v", again, first)
	}
	_, err = e.pay(out, code, 2600, "")
	want(t, err, failure, "ACQ.CONTEXT_INCONSISTENT")
	_, err = e.pay(out, newCode(), 2500, "")
	want(t, err, failure, "ACQ.CONTEXT_INCONSISTENT")
	// Long after the code expired, the repeat still answers the trade.
	e.clk.Advance(10 * time.Minute)
	if _, err := e.pay(out, code, 2500, ""); err != nil {
		t.Fatalf("repeat after expiry: %v", err)
	}
	if n := len(e.s.Trades()); n != 1 {
		t.Fatalf("%d trades, want 1", n)
	}
}

func TestACodePaysOnce(t *testing.T) {
	e := mustStart(t)
	code := newCode()
	outA := newNo("T")
	if _, err := e.pay(outA, code, 100, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.pay(newNo("T"), code, 100, "")
	want(t, err, failure, "ACQ.PAYMENT_AUTH_CODE_INVALID")
	// Not even after the first trade was refunded.
	if r, err := e.cancel(outA); err != nil || r.Action != "refund" {
		t.Fatalf("cancel: %+v %v", r, err)
	}
	_, err = e.pay(newNo("T"), code, 100, "")
	want(t, err, failure, "ACQ.PAYMENT_AUTH_CODE_INVALID")
	// A waiting trade holds its code too.
	wcode := testCode(2, 0)
	if _, err := e.pay(newNo("T"), wcode, 100, ""); gateway.KindOf(err) != gateway.InProgress {
		t.Fatal(err)
	}
	_, err = e.pay(newNo("T"), wcode, 100, "")
	want(t, err, failure, "ACQ.PAYMENT_AUTH_CODE_INVALID")
	if n := len(e.s.Trades()); n != 2 {
		t.Fatalf("%d trades, want 2", n)
	}
}

func TestPayCarriesTheDecodesSenceNo(t *testing.T) {
	e := mustStart(t)
	code, sence := newCode(), newNo("S")
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", newNo("S")} {
		_, err := e.pay(newNo("T"), code, 100, token)
		want(t, err, failure, "ACQ.INVALID_PARAMETER")
		if !strings.Contains(err.Error(), gateway.DynamicTokenOutBizNoKey) {
			t.Fatalf("refusal does not name the token: %v", err)
		}
	}
	out := newNo("T")
	if _, err := e.pay(out, code, 100, sence); err != nil {
		t.Fatal(err)
	}
	if tr := e.trade(out); tr.SenceNo != sence || tr.BuyerUserID != "2088"+code[6:] {
		t.Fatalf("ledger: %+v", tr)
	}

	// A code that was never decoded pays without a token, but not with a
	// token that belongs to another code.
	other, otherSence := newCode(), newNo("S")
	if _, err := e.decode(other, otherSence); err != nil {
		t.Fatal(err)
	}
	_, err := e.pay(newNo("T"), newCode(), 100, otherSence)
	want(t, err, failure, "ACQ.INVALID_PARAMETER")
	if _, err := e.pay(newNo("T"), newCode(), 100, ""); err != nil {
		t.Fatal(err)
	}
	// A token for a decode the sandbox never saw binds on the pay.
	lost, lostSence := newCode(), newNo("S")
	if _, err := e.pay(newNo("T"), lost, 100, lostSence); err != nil {
		t.Fatal(err)
	}
	_, err = e.decode(lost, newNo("S"))
	want(t, err, failure, "SENCENO_UN_MATCH")
}

func TestCancelBeforePayClosesTheNumber(t *testing.T) {
	e := mustStart(t)
	out := newNo("T")
	for range 2 {
		r, err := e.cancel(out)
		if err != nil || r.Action != "close" || r.RetryFlag != "N" || r.OutTradeNo != out {
			t.Fatalf("cancel of an unseen number: %+v %v", r, err)
		}
	}
	_, err := e.query(out)
	want(t, err, failure, "ACQ.TRADE_NOT_EXIST")
	_, err = e.pay(out, newCode(), 100, "")
	want(t, err, failure, "ACQ.TRADE_HAS_CLOSE")
	tr := e.trade(out)
	if tr.Status != closed || tr.TradeNo != "" || tr.TotalAmount != 0 || tr.Refunded {
		t.Fatalf("ledger: %+v", tr)
	}
	// An unknown trade_no cannot be closed: there is no number to close.
	_, err = e.c.TradeCancel(e.ctx, gateway.TradeCancelRequest{TradeNo: "2025030122001000000000009999"})
	want(t, err, failure, "ACQ.TRADE_NOT_EXIST")
}

func TestCancelByTradeNoAndQueryByTradeNo(t *testing.T) {
	e := mustStart(t)
	out := newNo("T")
	p, err := e.pay(out, newCode(), 999, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.TradeNo) != 28 {
		t.Errorf("trade_no %q is not 28 digits", p.TradeNo)
	}
	q, err := e.c.TradeQuery(e.ctx, gateway.TradeQueryRequest{TradeNo: p.TradeNo})
	if err != nil || q.OutTradeNo != out || q.TradeStatus != paid || q.TotalAmount != 999 || q.SendPayDate == "" {
		t.Fatalf("query by trade_no: %+v %v", q, err)
	}
	c, err := e.c.TradeCancel(e.ctx, gateway.TradeCancelRequest{TradeNo: p.TradeNo})
	if err != nil || c.Action != "refund" || c.GmtRefundPay == "" {
		t.Fatalf("cancel by trade_no: %+v %v", c, err)
	}
	again, err := e.cancel(out)
	if err != nil || *again != *c {
		t.Fatalf("repeated cancel answered %+v, first %+v (%v)", again, c, err)
	}
	if tr := e.trade(out); !tr.Refunded || tr.Status != closed {
		t.Fatalf("ledger: %+v", tr)
	}
	_, err = e.pay(out, p.BuyerUserID, 999, "") // wrong code anyway
	if gateway.KindOf(err) == ok {
		t.Fatal("paid again after a refund")
	}
}

func TestCancelWindow(t *testing.T) {
	e := mustStart(t)
	early, late := newNo("T"), newNo("T")
	if _, err := e.pay(early, newCode(), 100, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay(late, newCode(), 100, ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(24*time.Hour - time.Minute)
	if r, err := e.cancel(early); err != nil || r.Action != "refund" {
		t.Fatalf("cancel inside the window: %+v %v", r, err)
	}
	e.clk.Advance(2 * time.Minute)
	_, err := e.cancel(late)
	want(t, err, failure, "ACQ.TRADE_CANCEL_TIME_OUT")
	// A cancel that succeeded in time still answers the same afterwards.
	if r, err := e.cancel(early); err != nil || r.Action != "refund" {
		t.Fatalf("repeat after the window: %+v %v", r, err)
	}
}

func TestCodeExpiry(t *testing.T) {
	e := mustStart(t, func(c *sandboxConfig) { c.CodeTTL = 60 * time.Second })
	code, sence := newCode(), newNo("S")
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(59 * time.Second)
	if _, err := e.decode(code, sence); err != nil {
		t.Fatalf("decode at 59 s: %v", err)
	}
	e.clk.Advance(2 * time.Second)
	_, err := e.decode(code, sence)
	want(t, err, failure, "CODE_EXPIRED")
	_, err = e.pay(newNo("T"), code, 100, sence)
	want(t, err, failure, "ACQ.PAYMENT_AUTH_CODE_INVALID")

	// The clock starts at first sight, by pay as well as by decode.
	code2 := newCode()
	e.clk.Advance(time.Hour)
	if _, err := e.pay(newNo("T"), code2, 100, ""); err != nil {
		t.Fatalf("first sight by pay: %v", err)
	}
}

func TestPayValidation(t *testing.T) {
	e := mustStart(t)
	for name, biz := range map[string]string{
		"no out_trade_no":  `{"auth_code":"` + newCode() + `","subject":"s","total_amount":"1.00"}`,
		"no subject":       `{"out_trade_no":"a1","auth_code":"` + newCode() + `","total_amount":"1.00"}`,
		"zero amount":      `{"out_trade_no":"a2","auth_code":"` + newCode() + `","subject":"s","total_amount":"0.00"}`,
		"negative amount":  `{"out_trade_no":"a3","auth_code":"` + newCode() + `","subject":"s","total_amount":"-1"}`,
		"bad out_trade_no": `{"out_trade_no":"a-4","auth_code":"` + newCode() + `","subject":"s","total_amount":"1.00"}`,
		"bad scene":        `{"out_trade_no":"a5","scene":"wave","auth_code":"` + newCode() + `","subject":"s","total_amount":"1.00"}`,
	} {
		r := e.do(rawCall{method: gateway.MethodTradePay, biz: biz})
		if r.common.SubCode != "ACQ.INVALID_PARAMETER" {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
	r := e.do(rawCall{method: gateway.MethodTradePay, biz: `{"out_trade_no":"a6","auth_code":"1234567890123456","subject":"s","total_amount":"1.00"}`})
	if r.common.SubCode != "ACQ.PAYMENT_AUTH_CODE_INVALID" {
		t.Errorf("not a payment code: %s", r.raw)
	}
	if n := len(e.s.Trades()); n != 0 {
		t.Fatalf("%d trades after refusals", n)
	}
}
