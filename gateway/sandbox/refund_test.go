package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func (e *env) refund(out, reqNo string, amount gateway.Amount) (*gateway.TradeRefundResponse, error) {
	return e.c.TradeRefund(e.ctx, gateway.TradeRefundRequest{OutTradeNo: out, OutRequestNo: reqNo, RefundAmount: amount, RefundReason: "退货"})
}

func (e *env) refundQuery(out, reqNo string) (*gateway.TradeRefundQueryResponse, error) {
	return e.c.TradeRefundQuery(e.ctx, gateway.TradeRefundQueryRequest{OutTradeNo: out, OutRequestNo: reqNo, QueryOptions: []string{gateway.QueryOptionGmtRefundPay}})
}

// paid pays a fresh trade of amount with code (a fresh ordinary code when "").
func (e *env) paid(amount gateway.Amount, code string) string {
	e.t.Helper()
	if code == "" {
		code = newCode()
	}
	out := newNo("T")
	if _, err := e.pay(out, code, amount, ""); err != nil {
		e.t.Fatalf("pay: %v", err)
	}
	return out
}

func TestRefundPartialThenFull(t *testing.T) {
	e := mustStart(t)
	out := e.paid(2500, "")
	r, err := e.refund(out, "R1", 1000)
	if err != nil || r.FundChange != "Y" || r.RefundFee != 1000 || r.SendBackFee != 1000 || r.OutTradeNo != out || r.TradeNo == "" {
		t.Fatalf("first refund: %+v %v", r, err)
	}
	if q, err := e.query(out); err != nil || q.TradeStatus != gateway.TradeSuccess {
		t.Fatalf("partly refunded trade: %+v %v", q, err)
	}
	_, err = e.cancel(out)
	want(t, err, gateway.Failure, "ACQ.CANCEL_NOT_ALLOWED")
	// A repeat of the same out_request_no answers the first result, moves nothing.
	r, err = e.refund(out, "R1", 1000)
	if err != nil || r.FundChange != "N" || r.RefundFee != 1000 {
		t.Fatalf("repeat: %+v %v", r, err)
	}
	_, err = e.refund(out, "R1", 900)
	want(t, err, gateway.Failure, "ACQ.DISCORDANT_REPEAT_REQUEST")
	// More than is left.
	_, err = e.refund(out, "R2", 1501)
	want(t, err, gateway.Failure, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
	r, err = e.refund(out, "R2", 1500)
	if err != nil || r.FundChange != "Y" || r.RefundFee != 2500 {
		t.Fatalf("second refund: %+v %v", r, err)
	}
	if q, err := e.query(out); err != nil || q.TradeStatus != gateway.TradeClosed {
		t.Fatalf("fully refunded trade: %+v %v", q, err)
	}
	_, err = e.refund(out, "R3", 1)
	want(t, err, gateway.Failure, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
	// Repeats still answer after the trade closed.
	if r, err := e.refund(out, "R2", 1500); err != nil || r.FundChange != "N" {
		t.Fatalf("repeat after close: %+v %v", r, err)
	}

	tr := e.trade(out)
	if !tr.Refunded || tr.RefundedAmount != 2500 || len(tr.Refunds) != 2 || tr.Refunds[0].OutRequestNo != "R1" ||
		tr.Refunds[0].Amount != 1000 || tr.Refunds[1].Amount != 1500 || tr.Refunds[0].Reason != "退货" || tr.Status != gateway.TradeClosed {
		t.Fatalf("ledger: %+v", tr)
	}

	q, err := e.refundQuery(out, "R2")
	if err != nil || !q.Refunded() || q.RefundStatus != gateway.RefundSuccess || q.RefundAmount != 1500 ||
		q.TotalAmount != 2500 || q.OutRequestNo != "R2" || q.GmtRefundPay == "" {
		t.Fatalf("refund query: %+v %v", q, err)
	}
	q, err = e.refundQuery(out, "R9")
	if err != nil || q.Refunded() || q.RefundAmount != 0 || q.RefundStatus != "" || q.OutRequestNo != "" {
		t.Fatalf("refund query of an unknown out_request_no: %+v %v", q, err)
	}
	_, err = e.refundQuery(newNo("T"), "R1")
	want(t, err, gateway.Failure, "ACQ.TRADE_NOT_EXIST")
}

func TestRefundRefusals(t *testing.T) {
	e := mustStart(t)
	_, err := e.refund(newNo("T"), "R1", 100)
	want(t, err, gateway.Failure, "ACQ.TRADE_NOT_EXIST")

	waiting := newNo("T")
	if _, err := e.pay(waiting, testCode(2, 0), 100, ""); gateway.KindOf(err) != gateway.InProgress {
		t.Fatalf("pay: %v", err)
	}
	_, err = e.refund(waiting, "R1", 100)
	want(t, err, gateway.Failure, "ACQ.TRADE_STATUS_ERROR")

	cancelled := e.paid(100, "")
	if _, err := e.cancel(cancelled); err != nil {
		t.Fatal(err)
	}
	_, err = e.refund(cancelled, "R1", 100)
	want(t, err, gateway.Failure, "ACQ.TRADE_STATUS_ERROR")

	closedNo := newNo("T")
	if _, err := e.cancel(closedNo); err != nil {
		t.Fatal(err)
	}
	_, err = e.refund(closedNo, "R1", 100)
	want(t, err, gateway.Failure, "ACQ.TRADE_NOT_EXIST")
}

func TestRefundTestCodes(t *testing.T) {
	e := mustStart(t)

	t.Run("18 seller balance, N times", func(t *testing.T) {
		out := e.paid(300, testCode(18, 2))
		for i := 0; i < 2; i++ {
			_, err := e.refund(out, "R1", 100)
			want(t, err, gateway.Failure, "ACQ.SELLER_BALANCE_NOT_ENOUGH")
		}
		if r, err := e.refund(out, "R1", 100); err != nil || r.FundChange != "Y" {
			t.Fatalf("third try: %+v %v", r, err)
		}
	})
	t.Run("18 seller balance, always", func(t *testing.T) {
		out := e.paid(300, testCode(18, 0))
		for i := 0; i < 12; i++ {
			_, err := e.refund(out, "R1", 100)
			want(t, err, gateway.Failure, "ACQ.SELLER_BALANCE_NOT_ENOUGH")
		}
		if tr := e.trade(out); tr.RefundedAmount != 0 || len(tr.Refunds) != 0 {
			t.Fatalf("a refused refund left %+v", tr)
		}
	})
	t.Run("19 not allowed", func(t *testing.T) {
		out := e.paid(300, testCode(19, 0))
		_, err := e.refund(out, "R1", 100)
		want(t, err, gateway.Failure, "ACQ.TRADE_NOT_ALLOW_REFUND")
	})
	t.Run("20 commits, answers 20000", func(t *testing.T) {
		out := e.paid(300, testCode(20, 0))
		_, err := e.refund(out, "R1", 100)
		want(t, err, gateway.Unknown, "ACQ.SYSTEM_ERROR")
		if q, err := e.refundQuery(out, "R1"); err != nil || !q.Refunded() {
			t.Fatalf("query: %+v %v", q, err)
		}
		if r, err := e.refund(out, "R1", 100); err != nil || r.FundChange != "N" {
			t.Fatalf("resend: %+v %v", r, err)
		}
		if tr := e.trade(out); tr.RefundedAmount != 100 {
			t.Fatalf("refunded %s, want 1.00 once", tr.RefundedAmount)
		}
	})
	t.Run("21 answers 20000 once, no effect", func(t *testing.T) {
		out := e.paid(300, testCode(21, 0))
		_, err := e.refund(out, "R1", 100)
		want(t, err, gateway.Unknown, "ACQ.SYSTEM_ERROR")
		if q, err := e.refundQuery(out, "R1"); err != nil || q.Refunded() {
			t.Fatalf("query: %+v %v", q, err)
		}
		if r, err := e.refund(out, "R1", 100); err != nil || r.FundChange != "Y" {
			t.Fatalf("resend: %+v %v", r, err)
		}
	})
}

func TestRefundFaults(t *testing.T) {
	e := mustStart(t)
	out := e.paid(500, "")
	e.s.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradeRefund}})
	_, err := e.refund(out, "R1", 200)
	if !gateway.IsUnreachable(err) {
		t.Fatalf("dropped refund reply: %v", err)
	}
	e.s.SetFaults(sandbox.Faults{Fail20000: 1, Methods: []string{gateway.MethodTradeRefund, gateway.MethodTradeRefundQuery}})
	_, err = e.refund(out, "R2", 200)
	want(t, err, gateway.Unknown, "isp.unknow-error")
	_, err = e.refundQuery(out, "R1")
	want(t, err, gateway.Unknown, "isp.unknow-error")
	e.s.SetFaults(sandbox.Faults{BadSign: 1, Methods: []string{gateway.MethodTradeRefundQuery}})
	_, err = e.refundQuery(out, "R1")
	want(t, err, gateway.Unknown, "")
	e.s.SetFaults(sandbox.Faults{})
	// The dropped refund was committed, the 20000 one was not.
	if q, err := e.refundQuery(out, "R1"); err != nil || !q.Refunded() {
		t.Fatalf("R1: %+v %v", q, err)
	}
	if q, err := e.refundQuery(out, "R2"); err != nil || q.Refunded() {
		t.Fatalf("R2: %+v %v", q, err)
	}
	if tr := e.trade(out); tr.RefundedAmount != 200 || len(tr.Refunds) != 1 {
		t.Fatalf("ledger: %+v", tr)
	}
}

func TestTradesJSONShowsRefunds(t *testing.T) {
	e := mustStart(t)
	out := e.paid(800, "")
	if _, err := e.refund(out, "R1", 300); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(strings.TrimSuffix(e.s.URL(), "/gateway.do") + "/sandbox/trades")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var trades []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&trades); err != nil {
		t.Fatal(err)
	}
	if len(trades) != 1 || trades[0]["refunded_amount"] != "3.00" || trades[0]["refunded"] != false {
		t.Fatalf("trades: %v", trades)
	}
	refunds, _ := trades[0]["refunds"].([]any)
	if len(refunds) != 1 || refunds[0].(map[string]any)["out_request_no"] != "R1" || refunds[0].(map[string]any)["amount"] != "3.00" {
		t.Fatalf("refunds: %v", trades[0]["refunds"])
	}
}
