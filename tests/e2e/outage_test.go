//go:build linux

package e2e_test

import (
	"context"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// TestGatewayOutage: the store's internet goes down while a buyer has not
// confirmed. posagent still gives up at the decision deadline, keeps the
// cancel pending for as long as the outage lasts, tells the register it
// cannot reach Alipay (status, and a scan that cannot be decoded), and once
// the link is back, finishes the cancel within 10 s (SPEC §4) and takes
// the rescanned code with the sence_no it had.
func TestGatewayOutage(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Link: true, QueryInterval: "200ms", DecisionDeadline: "3s"})
	env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "O1", "20.00")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioWaitForever, 0))
	testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)

	env.Link.Down()
	c := testenv.WaitState(t, cl, co.ID, checkout.Cancelling, 10*time.Second)
	if c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout {
		t.Errorf("cancelling at the deadline: error %+v, want DECISION_TIMEOUT", c.Error)
	}

	// The next customer's code cannot be decoded while the link is down:
	// the register is told, and the checkout waits for a scan again.
	co2 := create(t, cl, "O2", "4.50")
	code := testenv.Code()
	env.Scanner.Scan(t, code)
	rej := testenv.WaitFor(t, cl, co2.ID, 15*time.Second, "back to awaiting_scan with an error", func(c checkout.Checkout) bool {
		return c.State == checkout.AwaitingScan && c.Error != nil
	})
	if rej.Error.Code != checkout.CodeGatewayUnavailable {
		t.Errorf("scan during the outage: error %+v, want GATEWAY_UNAVAILABLE", rej.Error)
	}
	if st, err := cl.Status(ctx); err != nil || st.Gateway.Reachable {
		t.Errorf("status during the outage: %+v %v, want the gateway unreachable", st.Gateway, err)
	}
	if c, _ := cl.GetCheckout(ctx, co.ID, 0); c.State != checkout.Cancelling {
		t.Errorf("during the outage the unresolved checkout is %s, want still cancelling", c.State)
	}

	env.Link.Up(t)
	back := time.Now()
	c = testenv.WaitFinal(t, cl, co.ID, 20*time.Second)
	if took := time.Since(back); took > 15*time.Second {
		t.Errorf("cancel finished %v after the link came back, want within 10 s (+ slack)", took)
	}
	if c.State != checkout.Cancelled || c.Refunded {
		t.Errorf("after the outage: %+v, want cancelled", c)
	}
	if tr := onlyTrade(t, env.Sandbox, c.OutTradeNo); tr.Status != "TRADE_CLOSED" {
		t.Errorf("ledger: %+v, want TRADE_CLOSED", tr)
	}

	// The cashier scans the same code again: it pays, with the sence_no
	// the failed decode had (the gateway may have seen that decode).
	env.Scanner.Scan(t, code)
	paid := testenv.WaitFinal(t, cl, co2.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "4.50")
	if rej.SenceNo != "" && paid.SenceNo != rej.SenceNo {
		t.Errorf("rescan used sence_no %s, the first scan had %s", paid.SenceNo, rej.SenceNo)
	}
	if st, err := cl.Status(ctx); err != nil || !st.Gateway.Reachable {
		t.Errorf("status after the outage: %+v %v, want the gateway reachable", st.Gateway, err)
	}
}
