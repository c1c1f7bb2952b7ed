//go:build linux

package e2e_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// TestLatePayAfterUnseenCancel (issue 10 item 2, through the real daemon):
// the sandbox is switched by POST /sandbox/faults to answer a cancel of an
// unseen out_trade_no ACQ.TRADE_NOT_EXIST and leave the number open, and
// holds each trade.pay for a while. The register cancels while the pay is
// on the wire; the pay then lands. posagent must keep cancelling within
// late_pay_window and give the money back: cancelled, refunded.
func TestLatePayAfterUnseenCancel(t *testing.T) {
	env := testenv.New(t, testenv.Options{LatePayWindow: "20s"})
	resp, err := http.Post(strings.TrimSuffix(env.Sandbox.URL(), "/gateway.do")+"/sandbox/faults", "application/json",
		strings.NewReader(`{"cancel_unseen_not_exist":true,"latency":"1500ms","methods":["alipay.trade.pay"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !env.Sandbox.Faults().CancelUnseenNotExist {
		t.Fatalf("POST /sandbox/faults = %d %s; faults %v", resp.StatusCode, body, env.Sandbox.Faults())
	}
	env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()
	co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "LATE-1", Amount: 1234, Subject: "Late pay"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	env.Scanner.Scan(t, testenv.Code())
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := cl.GetCheckout(ctx, co.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == checkout.Paying {
			break
		}
		if c.State != checkout.AwaitingScan && c.State != checkout.Decoding || time.Now().After(deadline) {
			t.Fatalf("checkout %s, want paying", c.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := cl.CancelCheckout(ctx, co.ID)
	if err != nil || c.State != checkout.Cancelling {
		t.Fatalf("cancel: %v %s", err, c.State)
	}
	for !c.State.Terminal() {
		if c, err = cl.GetCheckout(ctx, co.ID, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var charged bool
	for _, tr := range env.Sandbox.Trades() {
		if tr.OutTradeNo == c.OutTradeNo && tr.Status == "TRADE_SUCCESS" && !tr.Refunded {
			charged = true
		}
	}
	if c.State != checkout.Cancelled || !c.Refunded || charged {
		t.Fatalf("checkout %s refunded=%v, customer still charged: %v (ledger %+v)", c.State, c.Refunded, charged, env.Sandbox.Trades())
	}
}
