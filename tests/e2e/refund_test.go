//go:build linux

package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/tests/internal/testenv"
)

// TestRefundThroughTheDaemon: a return refunded with posagent refund, then
// a refund whose reply is lost, the daemon SIGKILLed while it is pending
// and restarted: the queue settles it, and the gateway refunded each once.
func TestRefundThroughTheDaemon(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	d := env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	code := testenv.Code()
	env.Handed(code)
	co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "RF1", Amount: amount(t, "30.00"), Subject: "Mugs", OperatorID: "cashier7", AuthCode: code})
	if err != nil {
		t.Fatal(err)
	}
	co = testenv.WaitState(t, cl, co.ID, checkout.Paid, finalWait)

	r := env.CLI(t, cliTimeout, "", "refund", co.ID, "--amount", "10.00", "--reason", "returned a mug")
	if r.Code != 0 || !strings.Contains(r.Stdout, "refunded") {
		t.Fatalf("posagent refund: %s\nwant exit 0, refunded", r)
	}
	r = env.CLI(t, cliTimeout, "", "checkouts", co.ID)
	if r.Code != 0 || !strings.Contains(r.Stdout, "refunded_amount") || !strings.Contains(r.Stdout, "10.00") {
		t.Fatalf("posagent checkouts ID: %s", r)
	}

	// The next refund's replies are all lost: pending; kill -9; restart.
	env.Sandbox.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradeRefund, gateway.MethodTradeRefundQuery}})
	rf, created, err := cl.Refund(ctx, co.ID, api.RefundRequest{Amount: amount(t, "20.00"), RefundID: "RET-2"})
	if err != nil || !created || rf.State != checkout.RefundPending {
		t.Fatalf("refund with lost replies: %+v %v %v", rf, created, err)
	}
	d.Kill(t)
	env.Sandbox.SetFaults(sandbox.Faults{})
	d = env.Start(t)
	deadline := time.Now().Add(finalWait)
	for {
		rfs, err := cl.CheckoutRefunds(ctx, co.ID)
		if err != nil || len(rfs) != 2 {
			t.Fatalf("refunds %+v %v", rfs, err)
		}
		if rfs[1].State == checkout.RefundRefunded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund RET-2 still %s %v after the restart", rfs[1].State, finalWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	co, err = cl.GetCheckout(ctx, co.ID, 0)
	if err != nil || !co.Refunded || co.RefundedAmount != amount(t, "30.00") || co.State != checkout.Paid {
		t.Fatalf("after the refunds: %+v %v", co, err)
	}
	tr := onlyTrade(t, env.Sandbox, co.OutTradeNo)
	if tr.RefundedAmount != amount(t, "30.00") || len(tr.Refunds) != 2 || !tr.Refunded {
		t.Fatalf("ledger %+v", tr)
	}
	// Nothing is left to refund; the log tells the story.
	if r := env.CLI(t, cliTimeout, "", "refund", co.ID, "--amount", "0.01"); r.Code != 1 || !strings.Contains(r.Stderr, "REFUND_EXCEEDS_PAID") {
		t.Fatalf("refund of a fully refunded checkout: %s", r)
	}
	for _, ev := range []string{"refund_requested", "refund_sent", "refunded"} {
		lines := env.Events(t, ev)
		if len(lines) < 2 || lines[0].Str("checkout_id") != co.ID || lines[0].Str("order_id") != "RF1" || lines[0].Str("out_request_no") == "" {
			t.Errorf("%d %s lines, first %v", len(lines), ev, lines)
		}
	}
	d.Kill(t)
}
