package checkout_test

import (
	"testing"
	"time"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// TestDeadlineOnFakeClock: with the production intervals (query every 3 s,
// decide after 60 s) on a fake clock, a buyer who never confirms is polled
// until exactly the deadline, counted from the pay intent, then cancelled.
func TestDeadlineOnFakeClock(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	fc := clock.NewFake(time.Now())
	env := MustOpenEngine(t, sb, "", checkout.Options{
		Clock: fc, QueryInterval: 3 * time.Second, DecisionDeadline: 60 * time.Second,
	})
	c := env.mustCreate(990)
	if !c.CreatedAt.Equal(fc.Now()) {
		t.Fatalf("created_at %s, fake now %s", c.CreatedAt, fc.Now())
	}
	env.mustScan(SandboxCode(scWaitForever, 0))
	env.waitFor(c.ID, "waiting_buyer", func(c checkout.Checkout) bool { return c.State == checkout.WaitingBuyer })
	payAt := fc.Now()
	// The purge loop waits on the clock too: 2 waiters while polling.
	for fc.Now().Sub(payAt) < 57*time.Second {
		if !fc.BlockUntil(2, 5*time.Second) {
			t.Fatal("the engine is not waiting on the clock")
		}
		fc.Advance(3 * time.Second)
	}
	if got, _ := env.E.Get(c.ID); got.State != checkout.WaitingBuyer {
		t.Fatalf("at 57 s: %s", got.State)
	}
	fc.BlockUntil(2, 5*time.Second)
	fc.Advance(3 * time.Second)
	c = env.wait(c.ID)
	if c.State != checkout.Cancelled || c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout {
		t.Fatalf("%+v", c)
	}
	if tr, _ := trade(sb, c.OutTradeNo); tr.Status != gateway.TradeClosed {
		t.Fatalf("ledger %+v", tr)
	}
}

// TestConsultNeverBlocks: a consult that does not answer within
// ConsultTimeout leaves consult_result null and does not hold up payment.
func TestConsultNeverBlocks(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{ConsultScene: "SLOW", ConsultTimeout: 100 * time.Millisecond})
	sb.SetFaults(sandbox.Faults{Latency: 3 * time.Second, Methods: []string{gateway.MethodSceneConsult}})
	c := env.mustCreate(500)
	start := time.Now()
	env.mustScan(NormalCode())
	c = env.wait(c.ID)
	if took := time.Since(start); c.State != checkout.Paid || took > time.Second {
		t.Fatalf("%s after %s", c.State, took)
	}
	time.Sleep(200 * time.Millisecond)
	if c, _ = env.E.Get(c.ID); c.ConsultResult != nil {
		t.Fatalf("consult_result %v", *c.ConsultResult)
	}
	// A failing consult leaves null too.
	sb.SetFaults(sandbox.Faults{})
	env2 := env.Reopen(checkout.Options{ConsultScene: sandbox.ConsultSceneSystemError})
	c = env2.mustCreate(500)
	env2.mustScan(NormalCode())
	c = env2.wait(c.ID)
	time.Sleep(50 * time.Millisecond)
	if c, _ = env2.E.Get(c.ID); c.State != checkout.Paid || c.ConsultResult != nil {
		t.Fatalf("%+v", c)
	}
}
