//go:build crash && linux

package crash_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
	"posagent/tests/internal/testenv"
)

// refundOrder is one paid checkout of the refund run, as the driver sees
// it: what it paid and what it asked to refund.
type refundOrder struct {
	id     string
	paid   gateway.Amount
	asked  gateway.Amount // the refunds the driver asked for (each was created, see below)
	tradeN string         // out_trade_no
}

// TestCrashRefunds is the kill -9 test of refunds (issue 12): paid
// checkouts are refunded, in full or in parts, while the sandbox loses
// refund and refund-query replies after committing them (and answers some
// 20000, and signs some badly); the daemon is SIGKILLed at a random
// instant 0–kill-max after each refund request and restarted. A request
// cut short by the kill is sent again after the restart with the same
// refund_id, as a register would, so every refund the driver asked for
// exists once. At the end the faults are cleared, every refund must reach
// refunded, and for every trade: the gateway's refunded_amount == the sum
// of the checkout's refunded refunds == its refunded_amount ≤ paid, the
// gateway holds each out_request_no once, the same ones as posagent, and
// an over-refund was always refused with 409 REFUND_EXCEEDS_PAID.
//
//	go test -tags crash -count=1 -v -run TestCrashRefunds ./tests/crash/ -rounds=1000
func TestCrashRefunds(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x726566756e6473))
	faults := sandbox.Faults{
		Latency:         20 * time.Millisecond,
		DropAfterCommit: 0.25,
		Fail20000:       0.10,
		BadSign:         0.03,
		Methods:         []string{gateway.MethodTradeRefund, gateway.MethodTradeRefundQuery},
		Seed:            seed,
	}
	t.Logf("seed %d, %d refund rounds, kill 0–%v after the refund request, faults %v", seed, *roundsFlag, *killMax, faults)

	env := testenv.New(t, testenv.Options{QueryInterval: "100ms", DecisionDeadline: "3s", LogLevel: "info", Faults: faults})
	start := time.Now()
	d := env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	var (
		orders    []*refundOrder
		asked     = map[string]*refundOrder{} // refund_id → its checkout
		kills     int
		restarts  []time.Duration
		answers   = map[string]int{} // how the first POST of each round ended
		overTries int
		// pendingAfter counts the refunds found pending right after a
		// restart: their job resumed from the queue.
		pendingAfter int
	)
	pay := func(i int) *refundOrder {
		amount := gateway.Amount(100 + rng.IntN(99900))
		co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{
			OrderID: fmt.Sprintf("R%06d", i), Amount: amount, Subject: "Refund crash", AuthCode: testenv.Code(),
		})
		if err != nil {
			t.Fatalf("round %d: pay: %v", i, err)
		}
		co = testenv.WaitState(t, cl, co.ID, checkout.Paid, 30*time.Second)
		o := &refundOrder{id: co.ID, paid: co.PaidAmount, tradeN: co.OutTradeNo}
		orders = append(orders, o)
		return o
	}
	// post asks for a refund; the kill may cut it short (an error).
	post := func(o *refundOrder, refundID string, amount gateway.Amount) (checkout.Refund, bool, error) {
		return cl.Refund(ctx, o.id, api.RefundRequest{Amount: amount, RefundID: refundID, Reason: "return " + refundID})
	}

	for i := range *roundsFlag {
		// One to three refunds at once: of orders with money left, or of
		// new ones.
		type ask struct {
			o        *refundOrder
			refundID string
			amount   gateway.Amount
		}
		var asks []ask
		busy := map[*refundOrder]bool{}
		for j := range 1 + rng.IntN(3) {
			var o *refundOrder
			if rng.IntN(3) > 0 {
				for _, k := range rng.Perm(len(orders)) {
					if orders[k].asked < orders[k].paid && !busy[orders[k]] {
						o = orders[k]
						break
					}
				}
			}
			if o == nil {
				o = pay(i*10 + j)
			}
			busy[o] = true
			left := o.paid - o.asked
			amount := left // a full refund of what is left, a third of the time
			if rng.IntN(3) > 0 && left > 1 {
				amount = gateway.Amount(1 + rng.Int64N(int64(left-1)))
			}
			a := ask{o, fmt.Sprintf("K%05d_%d", i, j), amount}
			o.asked += amount
			asked[a.refundID] = o
			asks = append(asks, a)
		}

		type result struct {
			rf  checkout.Refund
			err error
		}
		done := make(chan result, len(asks))
		for _, a := range asks {
			go func() {
				rf, _, err := post(a.o, a.refundID, a.amount)
				done <- result{rf, err}
			}()
		}
		time.Sleep(time.Duration(rng.Int64N(int64(*killMax) + 1)))
		d.Kill(t)
		kills++
		for range asks {
			r := <-done
			switch {
			case r.err != nil:
				answers["cut short"]++
			default:
				answers[string(r.rf.State)]++
			}
		}
		d = env.Start(t)
		restarts = append(restarts, d.Ready)
		if d.Ready > maxRestart {
			t.Errorf("round %d: restarted daemon served /healthz after %v, want within %v", i, d.Ready, maxRestart)
		}
		if p, err := cl.ListRefunds(ctx, checkout.RefundFilter{State: checkout.RefundPending}); err == nil {
			pendingAfter += len(p)
		}
		// The register asks again with the same refund_id: the refund
		// exists once, whether or not the first request got through.
		for _, a := range asks {
			rf, _, err := post(a.o, a.refundID, a.amount)
			if err != nil {
				t.Fatalf("round %d: refund %s of %s on %s again: %v", i, a.refundID, a.amount, a.o.id, err)
			}
			if rf.Amount != a.amount || rf.CheckoutID != a.o.id || rf.State == checkout.RefundFailed {
				t.Errorf("round %d: refund %s: %+v", i, a.refundID, rf)
			}
		}
		// Now and then, more than is left: always refused.
		if o := asks[0].o; rng.IntN(8) == 0 {
			overTries++
			_, _, err := post(o, fmt.Sprintf("X%05d", i), o.paid-o.asked+1)
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != checkout.CodeRefundExceedsPaid {
				t.Errorf("round %d: over-refund of %s: %v, want 409 REFUND_EXCEEDS_PAID", i, o.id, err)
			}
		}
	}
	roundsTook := time.Since(start)

	// The gateway heals; every refund must come to an end by itself.
	env.Sandbox.SetFaults(sandbox.Faults{})
	settleStart := time.Now()
	for {
		pending, err := cl.ListRefunds(ctx, checkout.RefundFilter{State: checkout.RefundPending})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Since(settleStart) > settleBound {
			t.Fatalf("%d refunds still pending %v after the faults were cleared, e.g. %+v", len(pending), settleBound, pending[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	settleTook := time.Since(settleStart)

	// The invariant, per trade.
	trades := map[string]sandbox.Trade{}
	for _, tr := range env.Sandbox.Trades() {
		trades[tr.OutTradeNo] = tr
	}
	states := map[string]int{}
	seen := map[string]bool{}
	full := 0
	for _, o := range orders {
		co, err := cl.GetCheckout(ctx, o.id, 0)
		if err != nil {
			t.Fatal(err)
		}
		rfs, err := cl.CheckoutRefunds(ctx, o.id)
		if err != nil {
			t.Fatal(err)
		}
		tr := trades[o.tradeN]
		var sum gateway.Amount
		local := map[string]gateway.Amount{}
		for _, rf := range rfs {
			states[string(rf.State)]++
			seen[rf.RefundID] = true
			if asked[rf.RefundID] != o {
				t.Errorf("checkout %s has a refund the driver did not ask for: %+v", o.id, rf)
			}
			if rf.State == checkout.RefundRefunded {
				sum += rf.Amount
				local[rf.OutRequestNo] = rf.Amount
			}
		}
		remote := map[string]gateway.Amount{}
		for _, x := range tr.Refunds {
			if _, dup := remote[x.OutRequestNo]; dup {
				t.Errorf("trade %s: out_request_no %s refunded twice on the gateway", o.tradeN, x.OutRequestNo)
			}
			remote[x.OutRequestNo] = x.Amount
		}
		if tr.RefundedAmount != sum || co.RefundedAmount != sum || sum > co.PaidAmount || sum != o.asked || len(local) != len(remote) {
			t.Errorf("checkout %s (trade %s): gateway refunded %s in %d refunds, posagent %s in %d (refunded_amount %s), paid %s, asked %s",
				o.id, o.tradeN, tr.RefundedAmount, len(remote), sum, len(local), co.RefundedAmount, co.PaidAmount, o.asked)
		}
		for k, v := range local {
			if remote[k] != v {
				t.Errorf("checkout %s: refund %s of %s, gateway %s", o.id, k, v, remote[k])
			}
		}
		if co.State != checkout.Paid || co.Refunded != (sum == co.PaidAmount) || tr.Refunded != co.Refunded {
			t.Errorf("checkout %s: state %s refunded %v, %s of %s refunded; gateway refunded %v", o.id, co.State, co.Refunded, sum, co.PaidAmount, tr.Refunded)
		}
		if co.Refunded {
			full++
		}
	}
	for id := range asked {
		if !seen[id] {
			t.Errorf("refund %s was asked for but does not exist", id)
		}
	}
	// Every trade_refund job is done (other kinds, such as the daily
	// reconcile of a day the sandbox has no bill for, are not this test's).
	for _, st := range []string{queue.StatePending, queue.StateFailed, queue.StateDead} {
		jobs, err := cl.ListJobs(ctx, queue.Filter{Kind: queue.KindTradeRefund, State: st})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			t.Errorf("trade_refund job %d (%s) is %s after settling: %s", j.ID, j.Key, j.State, j.LastError)
		}
	}

	t.Logf(`refund crash summary (seed %d)
  rounds %d, kills %d, in %v (%v a round); settled in %v
  restart to serving /healthz: max %v
  paid checkouts %d (refunded in full %d), refunds %d, over-refunds refused %d
  refunds pending right after a restart (resumed from the queue): %d
  first answer of each refund request: %s
  final refund states: %s`,
		seed, *roundsFlag, kills, roundsTook.Round(time.Millisecond),
		(roundsTook / time.Duration(max(1, *roundsFlag))).Round(time.Millisecond), settleTook.Round(time.Millisecond),
		maxOf(restarts).Round(time.Millisecond), len(orders), full, len(asked), overTries, pendingAfter, hist(answers), hist(states))
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
