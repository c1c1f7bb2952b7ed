//go:build linux

package e2e_test

import (
	"context"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// drainBound is the daemon's drain timeout (10 s, cmd/posagent) plus slack
// for a loaded machine.
const drainBound = 15 * time.Second

// TestSIGTERM: systemctl stop. Idle, posagent exits 0 at once; with a
// payment waiting for the buyer it exits 0 within its drain bound, and the
// payment resumes on the next start.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{DecisionDeadline: "60s"})

	d := env.Start(t)
	if code, took := d.Signal(t, syscallSIGTERM, drainBound); code != 0 || took > 5*time.Second {
		t.Errorf("idle daemon: exit %d after %v, want 0 promptly", code, took)
	}
	if len(env.Events(t, "stopped")) == 0 {
		t.Errorf("no stopped line in the log")
	}

	d = env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	co := create(t, cl, "Q1", "15.00")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioWaitForever, 0))
	testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)
	if code, took := d.Signal(t, syscallSIGTERM, drainBound); code != 0 {
		t.Errorf("daemon with a payment in flight: exit %d after %v, want 0", code, took)
	} else {
		t.Logf("exit 0 %v after SIGTERM with a payment waiting for the buyer", took)
	}

	// Next start: the payment is still followed. A second signal stops
	// at once (exit 1), without waiting for the drain.
	d = env.Start(t)
	if c, err := cl.GetCheckout(context.Background(), co.ID, 0); err != nil || c.State != checkout.WaitingBuyer {
		t.Fatalf("after restart: %+v %v, want waiting_buyer", c, err)
	}
	if err := d.Signal0(syscallSIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if code, took := d.Signal(t, syscallSIGTERM, drainBound); code != 1 || took > 3*time.Second {
		t.Errorf("second SIGTERM: exit %d after %v, want 1 at once", code, took)
	}

	// And again: the register gives up on the payment; the trade is closed.
	env.Start(t)
	if c, err := cl.GetCheckout(context.Background(), co.ID, 0); err != nil || c.State != checkout.WaitingBuyer {
		t.Fatalf("after restart: %+v %v, want waiting_buyer", c, err)
	}
	if _, err := cl.CancelCheckout(context.Background(), co.ID); err != nil {
		t.Fatal(err)
	}
	c := testenv.WaitFinal(t, cl, co.ID, finalWait)
	if c.State != checkout.Cancelled || c.Refunded {
		t.Fatalf("cancelled by the register: %+v", c)
	}
	if tr := onlyTrade(t, env.Sandbox, c.OutTradeNo); tr.Status != "TRADE_CLOSED" {
		t.Errorf("ledger: %+v, want TRADE_CLOSED", tr)
	}
}
