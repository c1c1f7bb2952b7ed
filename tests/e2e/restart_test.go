//go:build linux

package e2e_test

import (
	"testing"
	"time"

	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// maxRestart is how soon a restarted daemon must serve again: 2 s, or 8 s
// under the race detector (-race), which starts it slower.
var maxRestart = map[bool]time.Duration{false: 2 * time.Second, true: 8 * time.Second}[testenv.Race]

// restart starts the daemon again after a kill and checks it serves within
// maxRestart.
func restart(t *testing.T, env *testenv.Env) *testenv.Daemon {
	t.Helper()
	d := env.Start(t)
	if d.Ready > maxRestart {
		t.Errorf("restarted daemon served /healthz after %v, want within %v", d.Ready, maxRestart)
	}
	return d
}

// TestKillDuringPasswordWait: the machine loses power (SIGKILL) while the
// buyer is entering their password; after the restart the checkout
// resumes from the journal and is paid, once.
func TestKillDuringPasswordWait(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{QueryInterval: "300ms", DecisionDeadline: "20s"})
	d := env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "R1", "66.60")
	code := testenv.TestCode(testenv.ScenarioPasswordWait, 6)
	env.Scanner.Scan(t, code)
	w := testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)
	d.Kill(t)

	d = restart(t, env)
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "66.60")
	if paid.OutTradeNo != w.OutTradeNo || paid.SenceNo != w.SenceNo {
		t.Errorf("after restart: out_trade_no %s sence_no %s, before: %s %s", paid.OutTradeNo, paid.SenceNo, w.OutTradeNo, w.SenceNo)
	}
	if n := len(env.Sandbox.Trades()); n != 1 {
		t.Errorf("ledger has %d trades, want 1: %+v", n, env.Sandbox.Trades())
	}
	if rec := env.Events(t, "recovered"); len(rec) == 0 {
		t.Errorf("no recovered line in the log after the restart")
	}

	// The register's next sale on the restarted daemon.
	co2 := create(t, cl, "R2", "1.00")
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	code2 := testenv.Code()
	env.Scanner.Scan(t, code2)
	mustPaid(t, env.Sandbox, testenv.WaitFinal(t, cl, co2.ID, finalWait), code2, "1.00")
}

// TestKillWhileUnresolved: killed while the buyer never confirms, and down
// past the decision deadline; on restart posagent cancels the trade (the
// deadline counts from the first pay, not from the restart), and nothing
// is charged.
func TestKillWhileUnresolved(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{QueryInterval: "200ms", DecisionDeadline: "3s"})
	d := env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	co := create(t, cl, "R3", "12.00")
	env.Scanner.Scan(t, testenv.TestCode(testenv.ScenarioWaitForever, 0))
	w := testenv.WaitState(t, cl, co.ID, checkout.WaitingBuyer, 5*time.Second)
	d.Kill(t)
	time.Sleep(3 * time.Second) // down past the deadline

	restart(t, env)
	c := testenv.WaitFinal(t, cl, co.ID, finalWait)
	if c.State != checkout.Cancelled || c.Refunded || c.PaidAmount != 0 || c.OutTradeNo != w.OutTradeNo {
		t.Fatalf("after restart: %+v, want cancelled, nothing charged, out_trade_no %s", c, w.OutTradeNo)
	}
	if tr := onlyTrade(t, env.Sandbox, c.OutTradeNo); tr.Status != "TRADE_CLOSED" || tr.Refunded {
		t.Errorf("ledger: %+v, want TRADE_CLOSED", tr)
	}
}

// TestKillAwaitingScan: the register created a checkout, then posagent was
// restarted before anyone scanned: the checkout still awaits its scan and
// pays.
func TestKillAwaitingScan(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	d := env.Start(t)
	cl := env.Client(t)
	co := create(t, cl, "R4", "8.00")
	d.Kill(t)

	restart(t, env)
	if c := testenv.WaitState(t, cl, co.ID, checkout.AwaitingScan, time.Second); c.Error != nil {
		t.Errorf("after restart: %+v", c)
	}
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	code := testenv.Code()
	env.Scanner.Scan(t, code)
	mustPaid(t, env.Sandbox, testenv.WaitFinal(t, cl, co.ID, finalWait), code, "8.00")
}
