package checkout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/events"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// Refund scenarios of the sandbox (TESTCODES.md).
const (
	scRefundBalance     = 18 // refused ACQ.SELLER_BALANCE_NOT_ENOUGH for the first N calls (0: always)
	scRefundNotAllowed  = 19 // refused ACQ.TRADE_NOT_ALLOW_REFUND
	scRefundMadeUnknown = 20 // refund made, answered 20000
	scRefundNoneUnknown = 21 // 20000 once with no effect
)

// mustPay makes a paid checkout of amount with code.
func (env *Env) mustPay(amount gateway.Amount, code string) checkout.Checkout {
	env.tb.Helper()
	c := env.mustCreate(amount)
	env.mustScan(code)
	c = env.wait(c.ID)
	if c.State != checkout.Paid {
		env.tb.Fatalf("pay: %+v", c)
	}
	return c
}

// mustRefund asks for a refund and waits (≤ 10 s) for its outcome.
func (env *Env) mustRefund(id string, req checkout.RefundRequest) checkout.Refund {
	env.tb.Helper()
	rf, created, err := env.E.Refund(context.Background(), id, req)
	if err != nil || !created {
		env.tb.Fatalf("refund %s of %s: %v (created %v)", req.Amount, id, err, created)
	}
	if rf.State != checkout.RefundPending || rf.OutRequestNo == "" || rf.CheckoutID != id {
		env.tb.Fatalf("refund intent %+v", rf)
	}
	return env.waitRefund(rf.ID)
}

func (env *Env) waitRefund(id string) checkout.Refund {
	env.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rf, err := env.E.WaitRefund(ctx, id)
	if err != nil {
		env.tb.Fatal(err)
	}
	if rf.State == checkout.RefundPending {
		env.tb.Fatalf("refund %s still pending after 10 s", id)
	}
	return rf
}

// checkRefundLedger asserts, for checkout id, that the gateway refunded
// exactly the refunds posagent shows refunded (by out_request_no and
// amount), that refunded_amount is their sum, and that it is ≤ paid.
func checkRefundLedger(tb testing.TB, env *Env, id string) {
	tb.Helper()
	c, err := env.E.Get(id)
	if err != nil {
		tb.Fatal(err)
	}
	rfs, err := env.E.RefundsOf(id)
	if err != nil {
		tb.Fatal(err)
	}
	tr, ok := trade(env.SB, c.OutTradeNo)
	if !ok {
		tb.Fatalf("no trade %s", c.OutTradeNo)
	}
	local := map[string]gateway.Amount{}
	var sum gateway.Amount
	for _, rf := range rfs {
		if rf.State == checkout.RefundRefunded {
			local[rf.OutRequestNo] = rf.Amount
			sum += rf.Amount
		}
	}
	remote := map[string]gateway.Amount{}
	for _, x := range tr.Refunds {
		if _, dup := remote[x.OutRequestNo]; dup {
			tb.Errorf("gateway refunded %s twice", x.OutRequestNo)
		}
		remote[x.OutRequestNo] = x.Amount
	}
	if len(local) != len(remote) || tr.RefundedAmount != sum || c.RefundedAmount != sum || sum > c.PaidAmount {
		tb.Errorf("checkout %s: local refunds %v (refunded_amount %s, paid %s), gateway %v (refunded_amount %s)",
			id, local, c.RefundedAmount, c.PaidAmount, remote, tr.RefundedAmount)
	}
	for k, v := range local {
		if remote[k] != v {
			tb.Errorf("refund %s: local %s, gateway %s", k, v, remote[k])
		}
	}
	if c.Refunded != (sum == c.PaidAmount) {
		tb.Errorf("checkout %s: refunded=%v with %s of %s refunded", id, c.Refunded, sum, c.PaidAmount)
	}
}

func TestRefundFullRestoresCoupon(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	code := NormalCode()
	now := time.Now()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "C-5OFF", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 500, ValidUntil: now.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	c := env.mustPay(2500, code)
	if c.PaidAmount != 2000 || c.CouponID != "C-5OFF" || c.RefundedAmount != 0 {
		t.Fatalf("%+v", c)
	}
	rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 2000, Reason: "returned"})
	if rf.State != checkout.RefundRefunded || rf.Error != nil || rf.RefundID != rf.ID || rf.Reason != "returned" || rf.OutTradeNo != c.OutTradeNo {
		t.Fatalf("%+v", rf)
	}
	c, _ = env.E.Get(c.ID)
	if c.State != checkout.Paid || !c.Refunded || c.RefundedAmount != 2000 {
		t.Fatalf("after a full refund: %+v", c)
	}
	checkRefundLedger(t, env, c.ID)
	if tr, _ := trade(sb, c.OutTradeNo); !tr.Refunded || tr.Refunds[0].Reason != "returned" {
		t.Fatalf("ledger %+v", tr)
	}
	if cp, _ := env.E.GetCoupon("C-5OFF"); cp.State != checkout.CouponAvailable || cp.CheckoutID != "" {
		t.Fatalf("the coupon did not come back: %+v", cp)
	}
	// Nothing is left to refund.
	_, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 1})
	if !errorIs(err, checkout.ErrConflict) || errCode(err) != checkout.CodeRefundExceedsPaid {
		t.Fatalf("refund after a full refund: %v", err)
	}
	// The job is done, with the outcome as its result.
	j, err := env.Q.Lookup(queue.KindTradeRefund, rf.OutRequestNo)
	if err != nil || j.State != queue.StateDone {
		t.Fatalf("job %+v %v", j, err)
	}
}

func TestRefundExpiredCouponStaysRedeemed(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	code := NormalCode()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "C-SOON", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 100, ValidUntil: time.Now().Add(1500 * time.Millisecond)},
	}); err != nil {
		t.Fatal(err)
	}
	c := env.mustPay(1000, code)
	if c.CouponID != "C-SOON" {
		t.Fatalf("%+v", c)
	}
	for cp, _ := env.E.GetCoupon("C-SOON"); time.Now().Before(cp.ValidUntil.Add(10 * time.Millisecond)); {
		time.Sleep(20 * time.Millisecond)
	}
	env.mustRefund(c.ID, checkout.RefundRequest{Amount: c.PaidAmount})
	if cp, _ := env.E.GetCoupon("C-SOON"); cp.State != checkout.CouponRedeemed {
		t.Fatalf("an expired coupon came back: %+v", cp)
	}
}

func TestRefundPartialAndOverRefund(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	code := NormalCode()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-1", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 100}}); err != nil {
		t.Fatal(err)
	}
	c := env.mustPay(2600, code) // 25.00 after the coupon
	for _, a := range []gateway.Amount{1000, 500} {
		if rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: a}); rf.State != checkout.RefundRefunded {
			t.Fatalf("%+v", rf)
		}
	}
	c, _ = env.E.Get(c.ID)
	if c.Refunded || c.RefundedAmount != 1500 {
		t.Fatalf("after 15.00 of 25.00: %+v", c)
	}
	if cp, _ := env.E.GetCoupon("C-1"); cp.State != checkout.CouponRedeemed {
		t.Fatalf("a partial refund released the coupon: %+v", cp)
	}
	// 10.01 is more than is left.
	_, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 1001})
	if !errorIs(err, checkout.ErrConflict) || !errorIs(err, checkout.ErrRefundExceedsPaid) || errCode(err) != checkout.CodeRefundExceedsPaid {
		t.Fatalf("over-refund: %v", err)
	}
	rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 1000})
	if rf.State != checkout.RefundRefunded {
		t.Fatalf("%+v", rf)
	}
	c, _ = env.E.Get(c.ID)
	if !c.Refunded || c.RefundedAmount != 2500 {
		t.Fatalf("after 25.00 of 25.00: %+v", c)
	}
	if cp, _ := env.E.GetCoupon("C-1"); cp.State != checkout.CouponAvailable {
		t.Fatalf("the full refund did not release the coupon: %+v", cp)
	}
	checkRefundLedger(t, env, c.ID)
	rfs, _ := env.E.RefundsOf(c.ID)
	if len(rfs) != 3 || rfs[0].Amount != 1000 || rfs[2].Amount != 1000 {
		t.Fatalf("refunds %+v", rfs)
	}
	list, err := env.E.ListRefunds(checkout.RefundFilter{State: checkout.RefundRefunded})
	if err != nil || len(list) != 3 || list[0].ID != rfs[2].ID {
		t.Fatalf("list newest first: %+v %v", list, err)
	}
	today := time.Now().In(gateway.Shanghai).Format(time.DateOnly)
	if list, _ := env.E.ListRefunds(checkout.RefundFilter{Date: today, Limit: 2}); len(list) != 2 || list[0].ID != rfs[2].ID {
		t.Fatalf("list of today: %+v", list)
	}
	if list, _ := env.E.ListRefunds(checkout.RefundFilter{Date: "2001-01-01"}); len(list) != 0 {
		t.Fatalf("list of another day: %+v", list)
	}
	if _, err := env.E.ListRefunds(checkout.RefundFilter{State: "done"}); !errorIs(err, checkout.ErrBadRequest) {
		t.Fatalf("unknown state: %v", err)
	}
}

// TestRefundConcurrentNeverExceedsPaid: many refunds at once; the sum
// check commits with each intent, so at most the paid amount goes back.
func TestRefundConcurrentNeverExceedsPaid(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	c := env.mustPay(1000, NormalCode())
	var wg sync.WaitGroup
	var ok, exceeded atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 300})
			switch {
			case err == nil:
				ok.Add(1)
			case errCode(err) == checkout.CodeRefundExceedsPaid:
				exceeded.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 || exceeded.Load() != 5 {
		t.Fatalf("%d refunds taken, %d refused; want 3 and 5", ok.Load(), exceeded.Load())
	}
	rfs, _ := env.E.RefundsOf(c.ID)
	for _, rf := range rfs {
		env.waitRefund(rf.ID)
	}
	checkRefundLedger(t, env, c.ID)
}

func TestRefundIdempotentRefundID(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	c := env.mustPay(1000, NormalCode())
	req := checkout.RefundRequest{Amount: 400, RefundID: "RET-1"}
	first := env.mustRefund(c.ID, req)
	again, created, err := env.E.Refund(context.Background(), c.ID, req)
	if err != nil || created || again.ID != first.ID || again.State != checkout.RefundRefunded || again.RefundID != "RET-1" {
		t.Fatalf("same refund_id: %+v created %v %v", again, created, err)
	}
	// Another amount, or another checkout, under the same refund_id.
	if _, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 500, RefundID: "RET-1"}); !errorIs(err, checkout.ErrConflict) || errCode(err) != "CONFLICT" {
		t.Fatalf("same refund_id, other amount: %v", err)
	}
	c2 := env.mustPay(1000, NormalCode())
	if _, _, err := env.E.Refund(context.Background(), c2.ID, req); !errorIs(err, checkout.ErrConflict) {
		t.Fatalf("same refund_id, other checkout: %v", err)
	}
	checkRefundLedger(t, env, c.ID)
	if c, _ := env.E.Get(c.ID); c.RefundedAmount != 400 {
		t.Fatalf("%+v", c)
	}
}

func TestRefundRequiresPaid(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	c := env.mustCreate(1000) // awaiting a scan
	_, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 100})
	if !errorIs(err, checkout.ErrConflict) || !errorIs(err, checkout.ErrInvalidState) || errCode(err) != "INVALID_STATE" {
		t.Fatalf("refund of an unpaid checkout: %v", err)
	}
	if _, err := env.E.Cancel(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	failed := env.mustCreate(1000)
	env.mustScan(SandboxCode(scBalanceNotEnough, 0))
	if failed = env.wait(failed.ID); failed.State != checkout.Failed {
		t.Fatalf("%+v", failed)
	}
	if _, _, err := env.E.Refund(context.Background(), failed.ID, checkout.RefundRequest{Amount: 100}); errCode(err) != "INVALID_STATE" {
		t.Fatalf("refund of a failed checkout: %v", err)
	}
	if _, _, err := env.E.Refund(context.Background(), "co_000000000999_XXXX", checkout.RefundRequest{Amount: 100}); !errorIs(err, checkout.ErrNotFound) {
		t.Fatalf("unknown checkout: %v", err)
	}
	paid := env.mustPay(1000, NormalCode())
	for _, req := range []checkout.RefundRequest{{Amount: 0}, {Amount: -5}, {Amount: 100, RefundID: "bad\x01id"}} {
		if _, _, err := env.E.Refund(context.Background(), paid.ID, req); !errorIs(err, checkout.ErrBadRequest) {
			t.Errorf("%+v: %v", req, err)
		}
	}
	if rfs, _ := env.E.RefundsOf(paid.ID); len(rfs) != 0 {
		t.Fatalf("refused requests left refunds: %+v", rfs)
	}
}

func TestRefundRefused(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	for _, tc := range []struct {
		sc   int
		code string
	}{
		{scRefundBalance, "ACQ.SELLER_BALANCE_NOT_ENOUGH"},
		{scRefundNotAllowed, "ACQ.TRADE_NOT_ALLOW_REFUND"},
	} {
		c := env.mustPay(1000, SandboxCode(tc.sc, 0))
		rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 1000})
		if rf.State != checkout.RefundFailed || rf.Error == nil || rf.Error.Code != tc.code || rf.Error.Message == "" {
			t.Fatalf("scenario %d: %+v", tc.sc, rf)
		}
		c, _ = env.E.Get(c.ID)
		if c.Refunded || c.RefundedAmount != 0 {
			t.Fatalf("%+v", c)
		}
		checkRefundLedger(t, env, c.ID)
		// A failed refund does not count against what is left: the full
		// amount may be asked again (and is refused again).
		if rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 1000}); rf.State != checkout.RefundFailed {
			t.Fatalf("%+v", rf)
		}
		if j, _ := env.Q.Lookup(queue.KindTradeRefund, rf.OutRequestNo); j.State != queue.StateDone {
			t.Fatalf("a refused refund's job is %s, want done", j.State)
		}
	}
	if len(env.Logs.Events("refund_failed")) == 0 {
		t.Error("no refund_failed log line")
	}

	// Scenario 18 with N = 2: two refusals, then the third refund works.
	c := env.mustPay(1000, SandboxCode(scRefundBalance, 2))
	for i := range 2 {
		if rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 600}); rf.State != checkout.RefundFailed {
			t.Fatalf("refund %d: %+v", i, rf)
		}
	}
	if rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 600}); rf.State != checkout.RefundRefunded {
		t.Fatalf("third refund: %+v", rf)
	}
	checkRefundLedger(t, env, c.ID)
}

// TestRefundUnknownSettledByQuery: a 20000 answer is settled by the refund
// query: made (scenario 20) → refunded, not made (21) → the same
// out_request_no is sent again and refunds once.
func TestRefundUnknownSettledByQuery(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	for _, sc := range []int{scRefundMadeUnknown, scRefundNoneUnknown} {
		c := env.mustPay(1000, SandboxCode(sc, 0))
		rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 700})
		if rf.State != checkout.RefundRefunded {
			t.Fatalf("scenario %d: %+v", sc, rf)
		}
		checkRefundLedger(t, env, c.ID)
		if tr, _ := trade(sb, c.OutTradeNo); len(tr.Refunds) != 1 || tr.Refunds[0].OutRequestNo != rf.OutRequestNo {
			t.Fatalf("scenario %d: ledger %+v", sc, tr)
		}
	}
	if len(env.Logs.Events("refund_query")) == 0 {
		t.Error("no refund_query log line")
	}
}

// TestRefundDroppedReplies: every refund and refund query reply is lost
// after the gateway committed it; once replies come back, every refund
// settles, each refunded exactly once. Then the same across a restart.
func TestRefundDroppedReplies(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	var cs []checkout.Checkout
	for range 3 {
		cs = append(cs, env.mustPay(1000, NormalCode()))
	}
	sb.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradeRefund, gateway.MethodTradeRefundQuery}})
	var ids []string
	for _, c := range cs {
		for _, a := range []gateway.Amount{400, 600} {
			rf, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: a})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rf.ID)
		}
	}
	// Every refund reached the gateway at least once, unanswered.
	waitUntil(t, "every refund sent", func() bool {
		for _, c := range cs {
			if tr, _ := trade(sb, c.OutTradeNo); len(tr.Refunds) != 2 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if rf, _ := env.E.GetRefund(id); rf.State != checkout.RefundPending {
			t.Fatalf("refund settled without an answer: %+v", rf)
		}
	}
	// A restart while unanswered: the jobs resume from the queue.
	env = env.Reopen(checkout.Options{})
	sb.SetFaults(sandbox.Faults{})
	for _, id := range ids {
		if rf := env.waitRefund(id); rf.State != checkout.RefundRefunded {
			t.Fatalf("%+v", rf)
		}
	}
	for _, c := range cs {
		checkRefundLedger(t, env, c.ID)
		if c, _ := env.E.Get(c.ID); !c.Refunded {
			t.Fatalf("%+v", c)
		}
	}
}

// flakyTransport cuts the gateway off: "down" fails every call before
// sending it; "lose" sends it and loses the reply.
type flakyTransport struct {
	mode  atomic.Value // "", "down" or "lose"
	calls atomic.Int64 // calls made while not up
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	m, _ := f.mode.Load().(string)
	if m != "" {
		f.calls.Add(1)
	}
	if m == "down" {
		return nil, errors.New("dial tcp: connection refused (test outage)")
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if m == "lose" && err == nil {
		resp.Body.Close()
		return nil, errors.New("read: connection reset by peer (test outage)")
	}
	return resp, err
}

// TestRefundOutageResolvedAfterReturn: the first trade.refund reaches the
// gateway and its reply is lost, then the gateway is unreachable for a
// while; once it is back the refund is settled, refunded once.
func TestRefundOutageResolvedAfterReturn(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	ft := &flakyTransport{}
	gw := sb.Client()
	gw.HTTPClient = &http.Client{Transport: ft}
	env := openEngine(t, gw, "", checkout.Options{PayPID: sb.PayPID()})
	env.SB = sb
	c := env.mustPay(2000, NormalCode())

	ft.mode.Store("lose")
	rf, _, err := env.E.Refund(context.Background(), c.ID, checkout.RefundRequest{Amount: 2000})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the refund made on the gateway", func() bool {
		tr, _ := trade(sb, c.OutTradeNo)
		return tr.RefundedAmount == 2000
	})
	ft.mode.Store("down")
	n := ft.calls.Load()
	waitUntil(t, "calls during the outage", func() bool { return ft.calls.Load() >= n+3 })
	if rf, _ := env.E.GetRefund(rf.ID); rf.State != checkout.RefundPending {
		t.Fatalf("settled during the outage: %+v", rf)
	}
	if j, _ := env.Q.Lookup(queue.KindTradeRefund, rf.OutRequestNo); j.State != queue.StatePending {
		t.Fatalf("job during the outage: %+v", j)
	}
	ft.mode.Store("")
	if rf := env.waitRefund(rf.ID); rf.State != checkout.RefundRefunded {
		t.Fatalf("%+v", rf)
	}
	checkRefundLedger(t, env, c.ID)
}

func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRefundEvents: every committed change of a refund is published to the
// change feed as kind "refund", with the checkout's own change.
func TestRefundEvents(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	broker := events.New(events.Options{})
	env := MustOpenEngine(t, sb, "", checkout.Options{Events: broker})
	c := env.mustPay(1000, NormalCode())
	sub, _, _, err := broker.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 1000})
	var states []string
	sawCheckout := false
	for len(states) < 2 || !sawCheckout {
		select {
		case ev := <-sub.C:
			switch ev.Kind {
			case "refund":
				var got checkout.Refund
				if err := json.Unmarshal(ev.Data, &got); err != nil || got.ID != rf.ID {
					t.Fatalf("refund event %s: %v", ev.Data, err)
				}
				states = append(states, string(got.State))
			case "checkout":
				var got checkout.Checkout
				if err := json.Unmarshal(ev.Data, &got); err != nil {
					t.Fatal(err)
				}
				sawCheckout = sawCheckout || got.ID == c.ID && got.RefundedAmount == 1000 && got.Refunded
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("refund events %v, checkout event %v", states, sawCheckout)
		}
	}
	if states[0] != "pending" || states[1] != "refunded" {
		t.Fatalf("refund events %v", states)
	}
}

// TestRefundsInDailyReport: the refunds that reached refunded on a store
// day are in that day's takings and trades, per operator, in the store's
// zone.
func TestRefundsInDailyReport(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	zone := time.FixedZone("UTC-11", -11*3600) // another day than Shanghai for half the clock
	env := MustOpenEngine(t, sb, "", checkout.Options{Location: zone})
	c := env.mustPay(2500, NormalCode()) // operator op1 (mustCreate)
	env.mustRefund(c.ID, checkout.RefundRequest{Amount: 500})
	rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 700})
	refused := env.mustPay(900, SandboxCode(scRefundBalance, 0))
	env.mustRefund(refused.ID, checkout.RefundRequest{Amount: 900}) // failed: not takings
	today := env.E.Today()
	rep, err := env.E.DailyReport(today)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refunds.Count != 2 || rep.Refunds.Amount != 1200 || rep.Net != rep.Paid.Amount-1200 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.ByOperator) != 1 || rep.ByOperator[0].OperatorID != "op1" || rep.ByOperator[0].Refunds.Amount != 1200 {
		t.Fatalf("by operator %+v", rep.ByOperator)
	}
	_, refunds, err := env.E.DayTrades(today)
	if err != nil || len(refunds) != 2 || refunds[1].OutRequestNo != rf.OutRequestNo || refunds[1].OutTradeNo != c.OutTradeNo || refunds[1].Amount != 700 {
		t.Fatalf("day refunds %+v %v", refunds, err)
	}
	for _, day := range []string{time.Now().In(zone).AddDate(0, 0, -1).Format(time.DateOnly), time.Now().In(zone).AddDate(0, 0, 1).Format(time.DateOnly)} {
		if rep, _ := env.E.DailyReport(day); rep.Refunds.Count != 0 {
			t.Fatalf("refunds on %s: %+v", day, rep.Refunds)
		}
	}
}
