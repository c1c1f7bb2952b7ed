//go:build linux

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/tests/internal/testenv"
)

// TestDeclinedThenPaid: the customer's balance is too low; the register
// shows the gateway's reason, and the customer pays the same order with
// another code (a new attempt with a new out_trade_no).
func TestDeclinedThenPaid(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "B2001", "88.80")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioBalanceTooLow, 0))
	failed := testenv.WaitFinal(t, cl, co.ID, finalWait)
	if failed.State != checkout.Failed || failed.Error == nil || failed.Error.Code != "ACQ.BUYER_BALANCE_NOT_ENOUGH" {
		t.Fatalf("declined checkout: %s %+v, want failed with ACQ.BUYER_BALANCE_NOT_ENOUGH", failed.State, failed.Error)
	}
	if !strings.Contains(strings.ToLower(failed.Error.Message), "balance") || failed.PaidAmount != 0 {
		t.Errorf("declined checkout: message %q (want it to tell the cashier about the balance), paid %s",
			failed.Error.Message, failed.PaidAmount)
	}
	for _, tr := range testenv.TradesOf(env.Sandbox, failed.OutTradeNo) {
		if tr.Status == "TRADE_SUCCESS" {
			t.Errorf("declined payment left a successful trade: %+v", tr)
		}
	}

	// The customer switches to a card with money on it.
	co2 := create(t, cl, "B2001", "88.80")
	if co2.ID == co.ID {
		t.Fatalf("a new attempt reuses checkout %s", co.ID)
	}
	code := testenv.Code()
	env.Scanner.Scan(t, code)
	paid := testenv.WaitFinal(t, cl, co2.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "88.80")
	if paid.OutTradeNo == failed.OutTradeNo {
		t.Errorf("second attempt reused out_trade_no %s", paid.OutTradeNo)
	}
}

// TestPasswordWait: the gateway asks the buyer for their password (10003);
// the register sees waiting_buyer, then paid once the buyer confirms.
func TestPasswordWait(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{QueryInterval: "200ms"})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "C3001", "1999.00")
	code := testenv.TestCode(testenv.ScenarioPasswordWait, 8) // paid at the 8th query, about 1.6 s
	env.Scanner.Scan(t, code)
	w := testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)
	if w.OutTradeNo == "" || w.PaidAmount != 0 {
		t.Errorf("waiting_buyer: %+v", w)
	}
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "1999.00")
}

// TestUnresolvedCancelledAtDeadline: the buyer never confirms; at the
// decision deadline posagent cancels, and the gateway's ledger shows the
// trade closed, nothing charged.
func TestUnresolvedCancelledAtDeadline(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{DecisionDeadline: "3s"})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "D4001", "42.00")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioWaitForever, 0))
	testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)
	start := time.Now()
	c := testenv.WaitFinal(t, cl, co.ID, finalWait)
	if c.State != checkout.Cancelled || c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout || c.Refunded || c.PaidAmount != 0 {
		t.Fatalf("unresolved checkout: %s error %+v refunded %v paid %s; want cancelled with DECISION_TIMEOUT, nothing charged",
			c.State, c.Error, c.Refunded, c.PaidAmount)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("cancelled %v after waiting_buyer with a 3s deadline", waited)
	}
	tr := onlyTrade(t, env.Sandbox, c.OutTradeNo)
	if tr.Status != "TRADE_CLOSED" || tr.Refunded {
		t.Errorf("ledger: %+v, want TRADE_CLOSED, not refunded", tr)
	}
}

// TestRejectedScan: the cashier scans a WeChat code; the register is told
// it is not an Alipay code and the checkout keeps waiting; the right code
// then pays and clears the error.
func TestRejectedScan(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "E5001", "9.90")
	env.Scanner.Scan(t, testenv.WeChatCode)
	rej := testenv.WaitFor(t, cl, co.ID, 5*time.Second, "showing NOT_ALIPAY_CODE", func(c checkout.Checkout) bool {
		return c.Error != nil
	})
	if rej.State != checkout.AwaitingScan || rej.Error.Code != checkout.CodeNotAlipayCode || rej.Error.Message == "" {
		t.Fatalf("after a WeChat scan: %s %+v, want awaiting_scan with NOT_ALIPAY_CODE", rej.State, rej.Error)
	}
	// Nothing went to the gateway.
	if n := len(env.Sandbox.Trades()); n != 0 {
		t.Errorf("a WeChat scan reached the gateway: %+v", env.Sandbox.Trades())
	}
	// A long poll still holds: the checkout is not final.
	held, err := cl.GetCheckout(context.Background(), co.ID, 300*time.Millisecond)
	if err != nil || held.State != checkout.AwaitingScan {
		t.Errorf("long poll after the rejected scan: %v %+v", err, held)
	}

	code := testenv.Code()
	env.Scanner.Scan(t, code)
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "9.90")
}

// TestCouponDiscount: the merchant's backend imports coupons; the best one
// for the decoded buyer is applied, the gateway charges the discounted
// amount, and the coupon is redeemed.
func TestCouponDiscount(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	code := testenv.Code()
	user := sandbox.UserIDOf(code)
	other := sandbox.UserIDOf(testenv.Code())
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	// Imported as the merchant backend sends them: plain JSON over HTTP.
	body := fmt.Sprintf(`[
	 {"id":"K-3OFF","user_id":%[1]q,"title":"3 off","kind":"amount_off","value":"3.00","min_spend":"0.00","valid_from":%[3]q,"valid_until":%[4]q},
	 {"id":"K-20PCT","user_id":%[1]q,"title":"20%% off, at most 5","kind":"percent_off","value":"20","min_spend":"10.00","max_off":"5.00","valid_from":%[3]q,"valid_until":%[5]q},
	 {"id":"K-5OFF","user_id":%[1]q,"title":"5 off","kind":"amount_off","value":"5.00","min_spend":"0.00","valid_from":%[3]q,"valid_until":%[6]q},
	 {"id":"K-8OFF30","user_id":%[1]q,"title":"8 off 30","kind":"amount_off","value":"8.00","min_spend":"30.00","valid_from":%[3]q,"valid_until":%[6]q},
	 {"id":"K-OTHER","user_id":%[2]q,"title":"10 off","kind":"amount_off","value":"10.00","min_spend":"0.00","valid_from":%[3]q,"valid_until":%[6]q}
	]`, user, other, at(-time.Hour), at(72*time.Hour), at(48*time.Hour), at(96*time.Hour))
	resp := do(t, env, http.MethodPost, "/v1/coupons", env.Token(t), body)
	if resp.status != http.StatusOK && resp.status != http.StatusCreated {
		t.Fatalf("import coupons: %d %s", resp.status, resp.body)
	}
	var res checkout.ImportResult
	if err := json.Unmarshal(resp.body, &res); err != nil || res.Created != 5 {
		t.Fatalf("import coupons: %s (%v), want 5 created", resp.body, err)
	}

	co := create(t, cl, "F6001", "25.00")
	env.Scanner.Scan(t, code)
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	// 20 % of 25.00 is 5.00 (the cap), tied with K-5OFF: the one that
	// expires first wins.
	if paid.CouponID != "K-20PCT" || paid.Discount.String() != "5.00" || paid.Amount.String() != "25.00" {
		t.Errorf("paid with coupon %q discount %s amount %s, want K-20PCT, 5.00 off 25.00", paid.CouponID, paid.Discount, paid.Amount)
	}
	mustPaid(t, env.Sandbox, paid, code, "20.00")

	coupons, err := cl.ListCoupons(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]checkout.CouponState{}
	for _, c := range coupons {
		states[c.ID] = c.State
	}
	want := map[string]checkout.CouponState{
		"K-3OFF": checkout.CouponAvailable, "K-20PCT": checkout.CouponRedeemed, "K-5OFF": checkout.CouponAvailable,
		"K-8OFF30": checkout.CouponAvailable, "K-OTHER": checkout.CouponAvailable,
	}
	for id, s := range want {
		if states[id] != s {
			t.Errorf("coupon %s is %q, want %q (all: %v)", id, states[id], s, states)
		}
	}
	// A redeemed coupon cannot be brought back by re-importing it.
	resp = do(t, env, http.MethodPost, "/v1/coupons", env.Token(t),
		fmt.Sprintf(`[{"id":"K-20PCT","user_id":%q,"title":"again","kind":"amount_off","value":"1.00"}]`, user))
	if !bytes.Contains(resp.body, []byte("K-20PCT")) {
		t.Errorf("re-import of a redeemed coupon: %d %s, want it listed as skipped", resp.status, resp.body)
	}
	if mine, _ := cl.ListCoupons(context.Background(), user); len(mine) != 4 {
		t.Errorf("coupons of %s: %d, want 4", user, len(mine))
	}
}

// TestUnconfirmedPaymentRefunded: the gateway took the money but posagent
// could never get that confirmed (every query answered 20000) before the
// deadline; it cancels, the gateway refunds, and the register sees a
// cancelled, refunded checkout, so the cashier does not hand over the goods
// and knows the customer has the money back.
func TestUnconfirmedPaymentRefunded(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{DecisionDeadline: "2s", Faults: sandbox.Faults{
		Fail20000: 1, Methods: []string{"alipay.trade.query"},
	}})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "G7001", "5.00")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioCommitUnknown, 0))
	c := testenv.WaitFinal(t, cl, co.ID, finalWait)
	if c.State != checkout.Cancelled || !c.Refunded || c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout {
		t.Fatalf("unconfirmed payment: %s refunded=%v error %+v, want cancelled, refunded, DECISION_TIMEOUT", c.State, c.Refunded, c.Error)
	}
	if !strings.Contains(c.Error.Message, "back") {
		t.Errorf("message %q does not tell the cashier the money went back", c.Error.Message)
	}
	tr := onlyTrade(t, env.Sandbox, c.OutTradeNo)
	// A refunded barcode trade is closed, with the refund on it.
	if tr.Status != "TRADE_CLOSED" || !tr.Refunded || tr.TotalAmount.String() != "5.00" || tr.TradeNo == "" {
		t.Errorf("ledger: %+v, want the 5.00 trade closed and refunded", tr)
	}
}
