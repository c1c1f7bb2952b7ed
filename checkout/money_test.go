package checkout_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// scripted wraps the sandbox client so a test can hold or replace answers
// (issue 10's sequences). Unset hooks pass calls through.
type scripted struct {
	*gateway.Client
	decode  chan struct{} // when set, every decode waits for it to close
	pay     func(ctx context.Context, n int, req gateway.TradePayRequest) (*gateway.TradePayResponse, error)
	query   func(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error)
	pays    atomic.Int32
	cancels atomic.Int32
}

func (s *scripted) TradePay(ctx context.Context, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
	n := int(s.pays.Add(1))
	if s.pay != nil {
		return s.pay(ctx, n, req)
	}
	return s.Client.TradePay(ctx, req)
}

func (s *scripted) TwoStageUse(ctx context.Context, req gateway.TwoStageUseRequest) (*gateway.TwoStageUseResponse, error) {
	if s.decode != nil {
		<-s.decode
	}
	return s.Client.TwoStageUse(ctx, req)
}

func (s *scripted) TradeQuery(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error) {
	if s.query != nil {
		return s.query(ctx, req)
	}
	return s.Client.TradeQuery(ctx, req)
}

func (s *scripted) TradeCancel(ctx context.Context, req gateway.TradeCancelRequest) (*gateway.TradeCancelResponse, error) {
	s.cancels.Add(1)
	return s.Client.TradeCancel(ctx, req)
}

func openScripted(t *testing.T, sb *sandbox.Sandbox, s *scripted, path string, opts checkout.Options) *Env {
	t.Helper()
	opts.PayPID = sb.PayPID()
	s.Client = sb.Client()
	env := openEngineOn(t, s.Client, s, path, opts)
	env.SB = sb
	return env
}

// waitCond polls cond (≤ 10 s).
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCancelNotExistWaitsForLatePay (issue 10 item 2): the register cancels
// while trade.pay is on the wire, the gateway (cancel_unseen_not_exist)
// answers the cancel ACQ.TRADE_NOT_EXIST and leaves the number open, then
// the pay lands. The cancel must be repeated within late_pay_window and
// give the money back, not call the checkout cancelled with nothing charged.
func TestCancelNotExistWaitsForLatePay(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{Faults: sandbox.Faults{CancelUnseenNotExist: true}})
	release := make(chan struct{})
	s := &scripted{}
	s.pay = func(ctx context.Context, _ int, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
		<-release // on the wire
		return s.Client.TradePay(context.Background(), req)
	}
	env := openScripted(t, sb, s, "", checkout.Options{})
	c := env.mustCreate(1200)
	env.mustScan(NormalCode())
	env.waitFor(c.ID, "paying", func(c checkout.Checkout) bool { return c.State == checkout.Paying })
	waitCond(t, "trade.pay sent", func() bool { return s.pays.Load() == 1 })
	c, err := env.E.Cancel(context.Background(), c.ID)
	if err != nil || c.State != checkout.Cancelling {
		t.Fatalf("cancel: %v %s", err, c.State)
	}
	// The first cancel's answer (ACQ.TRADE_NOT_EXIST) is taken before the
	// pay lands.
	waitCond(t, "the cancel job to run once", func() bool {
		j, err := env.Q.Lookup(queue.KindTradeCancel, c.OutTradeNo)
		// A wait (RetryIn) records its answer as LastError without
		// counting an attempt.
		return err == nil && (j.LastError != "" || j.Attempts >= 1 || j.State != queue.StatePending)
	})
	close(release)
	c = env.wait(c.ID)
	tr, ok := trade(sb, c.OutTradeNo)
	if !ok || tr.Status == gateway.TradeSuccess && !tr.Refunded {
		t.Fatalf("the late pay kept the customer's money: checkout %s refunded=%v, ledger %+v", c.State, c.Refunded, tr)
	}
	if c.State != checkout.Cancelled || !c.Refunded {
		t.Fatalf("checkout %s refunded=%v; ledger %+v", c.State, c.Refunded, tr)
	}
}

// TestNeedsAttentionKeepsCouponAndSettles (issue 10 item 5): a trade the
// gateway refuses to cancel leaves the checkout needs_attention with its
// coupon still reserved; when trade.query later shows the trade closed, the
// attention_recheck job settles it to cancelled and releases the coupon.
func TestNeedsAttentionKeepsCouponAndSettles(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	var closed atomic.Bool
	s := &scripted{}
	s.query = func(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error) {
		if closed.Load() {
			return &gateway.TradeQueryResponse{OutTradeNo: req.OutTradeNo, TradeStatus: gateway.TradeClosed}, nil
		}
		return s.Client.TradeQuery(ctx, req)
	}
	env := openScripted(t, sb, s, "", checkout.Options{AttentionRecheck: 20 * time.Millisecond})
	code := SandboxCode(scCancelNotAllowed, 0)
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-ATT", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 100}}); err != nil {
		t.Fatal(err)
	}
	c := env.mustCreate(1500)
	env.mustScan(code)
	c = env.wait(c.ID)
	if c.State != checkout.NeedsAttention || c.CouponID != "C-ATT" {
		t.Fatalf("%s coupon %q", c.State, c.CouponID)
	}
	if cp, _ := env.E.GetCoupon("C-ATT"); cp.State != checkout.CouponReserved {
		t.Fatalf("needs_attention released its coupon: %s (the trade may have been paid with it)", cp.State)
	}
	closed.Store(true)
	c = env.waitFor(c.ID, "cancelled", func(c checkout.Checkout) bool { return c.State == checkout.Cancelled })
	if cp, _ := env.E.GetCoupon("C-ATT"); cp.State != checkout.CouponAvailable {
		t.Fatalf("coupon %s after the trade showed closed", cp.State)
	}
}

// TestRestartPastDeadlineQueriesFirst (issue 10 item 6): posagent dies after
// sending a trade.pay that the gateway committed, and comes back after the
// decision deadline. It must query (→ paid), not cancel (and refund) a
// sale without asking.
func TestRestartPastDeadlineQueriesFirst(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	s := &scripted{}
	s.pay = func(ctx context.Context, _ int, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
		s.Client.TradePay(ctx, req) // committed, but the answer is lost: posagent dies
		<-ctx.Done()
		return nil, ctx.Err()
	}
	env := openScripted(t, sb, s, "", checkout.Options{})
	c := env.mustCreate(800)
	env.mustScan(NormalCode())
	waitCond(t, "trade.pay sent", func() bool { return s.pays.Load() == 1 })
	c, _ = env.E.Get(c.ID)
	waitCond(t, "the sandbox trade", func() bool { _, ok := trade(sb, c.OutTradeNo); return ok })
	env.Close()

	fc := clock.NewFake(time.Now().Add(time.Hour)) // long past the deadline
	env2 := MustOpenEngine(t, sb, env.Path, checkout.Options{Clock: fc})
	c = env2.wait(c.ID)
	if c.State != checkout.Paid {
		t.Fatalf("restart past the deadline: %s (error %+v); want paid after a query", c.State, c.Error)
	}
	if tr, _ := trade(sb, c.OutTradeNo); tr.Refunded || tr.Status != gateway.TradeSuccess {
		t.Fatalf("ledger %+v", tr)
	}
}

// TestResendRefusedQueriesThenCancels (issue 10 item 6): the first
// trade.pay has an unknown result, the query finds no trade, and the resend
// is refused. The first send may still land: the checkout must go to
// cancelling (query → cancel), never failed.
func TestResendRefusedQueriesThenCancels(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	s := &scripted{}
	s.pay = func(ctx context.Context, n int, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
		if n == 1 {
			return nil, &gateway.Error{Method: gateway.MethodTradePay, Kind: gateway.Unknown, Err: errors.New("connection reset")}
		}
		return nil, &gateway.Error{Method: gateway.MethodTradePay, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed",
			SubCode: "ACQ.PAYMENT_AUTH_CODE_INVALID", SubMsg: "code used"}
	}
	env := openScripted(t, sb, s, "", checkout.Options{})
	c := env.mustCreate(700)
	env.mustScan(NormalCode())
	c = env.wait(c.ID)
	if c.State != checkout.Cancelled {
		t.Fatalf("resend refused: %s (error %+v); want cancelled through a cancel", c.State, c.Error)
	}
	if s.cancels.Load() == 0 {
		t.Fatal("no trade.cancel was sent")
	}
	if tr, ok := trade(sb, c.OutTradeNo); !ok || tr.Status != gateway.TradeClosed {
		t.Fatalf("the number is not closed: %+v %v", tr, ok)
	}
}

// TestScanTimeout (issue 10 item 7): a checkout nobody scans for is
// cancelled with SCAN_TIMEOUT after scan_timeout (default 5 min), counted
// from its creation, also across a restart, so the next customer's scan
// cannot pay the old order.
func TestScanTimeout(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	start := time.Now()
	env := MustOpenEngine(t, sb, "", checkout.Options{Clock: clock.NewFake(start)})
	c := env.mustCreate(600)
	env.Close()
	fc := clock.NewFake(start.Add(6 * time.Minute))
	env2 := MustOpenEngine(t, sb, env.Path, checkout.Options{Clock: fc})
	got, _ := env2.E.Get(c.ID)
	if got.State != checkout.Cancelled || got.Error == nil || got.Error.Code != "SCAN_TIMEOUT" {
		t.Fatalf("after 6 min unscanned and a restart: %s %+v", got.State, got.Error)
	}
	if _, err := env2.E.Scan(context.Background(), NormalCode()); !errors.Is(err, checkout.ErrNoCheckoutAwaiting) {
		t.Fatalf("scan after the timeout: %v", err)
	}

	// While running: the housekeeping loop expires it.
	c = env2.mustCreate(600)
	for i := 0; i < 12; i++ {
		fc.Advance(30 * time.Second)
		if got, _ := env2.E.Get(c.ID); got.State == checkout.Cancelled {
			break
		}
		fc.BlockUntil(1, 2*time.Second)
	}
	c = env2.waitFor(c.ID, "scan timeout", func(c checkout.Checkout) bool { return c.State == checkout.Cancelled })
	if c.Error == nil || c.Error.Code != "SCAN_TIMEOUT" {
		t.Fatalf("%+v", c.Error)
	}

	// A wall step forward (NTP correcting a flat CMOS battery) is no
	// waiting: the checkout still takes the customer's scan.
	c = env2.mustCreate(600)
	fc.Step(6 * time.Minute)
	if _, err := env2.E.Scan(context.Background(), NormalCode()); err != nil {
		t.Fatalf("scan after a wall step forward: %v", err)
	}
	if got := env2.wait(c.ID); got.State != checkout.Paid {
		t.Fatalf("after a wall step forward: %s %+v", got.State, got.Error)
	}

	// A scan that comes after the timeout, before the loop looked, does
	// not pay the old order.
	c = env2.mustCreate(600)
	fc.Advance(6 * time.Minute)
	if _, err := env2.E.Scan(context.Background(), NormalCode()); !errors.Is(err, checkout.ErrNoCheckoutAwaiting) {
		t.Fatalf("scan into a timed-out checkout: %v", err)
	}
	if got, _ := env2.E.Get(c.ID); got.State != checkout.Cancelled || got.Error == nil || got.Error.Code != "SCAN_TIMEOUT" {
		t.Fatalf("after a late scan: %s %+v", got.State, got.Error)
	}
}

// TestDeadlineSurvivesWallSteps (issue 10 item 4, checkout side): the
// decision deadline and the polls of a waiting_buyer checkout are kept on
// the steady clock: a wall clock set back an hour does not make it poll an
// hour past its deadline, and one set forward does not cancel it early.
func TestDeadlineSurvivesWallSteps(t *testing.T) {
	for _, step := range []time.Duration{-time.Hour, time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			sb := MustOpenSandbox(t, sandbox.Config{})
			fc := clock.NewFake(time.Now())
			env := MustOpenEngine(t, sb, "", checkout.Options{
				Clock: fc, QueryInterval: 3 * time.Second, DecisionDeadline: 60 * time.Second,
			})
			c := env.mustCreate(990)
			env.mustScan(SandboxCode(scWaitForever, 0))
			env.waitFor(c.ID, "waiting_buyer", func(c checkout.Checkout) bool { return c.State == checkout.WaitingBuyer })
			fc.Step(step)
			for elapsed := time.Duration(0); elapsed < 57*time.Second; elapsed += 3 * time.Second {
				if !fc.BlockUntil(2, 5*time.Second) {
					t.Fatal("the engine is not waiting on the clock")
				}
				fc.Advance(3 * time.Second)
				if got, _ := env.E.Get(c.ID); got.State != checkout.WaitingBuyer {
					t.Fatalf("wall stepped %s: %s after %s, before the 60 s deadline", step, got.State, elapsed+3*time.Second)
				}
			}
			fc.BlockUntil(2, 5*time.Second)
			fc.Advance(3 * time.Second)
			c = env.wait(c.ID)
			if c.State != checkout.Cancelled || c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout {
				t.Fatalf("wall stepped %s: %+v", step, c)
			}
		})
	}
}

// TestConflictCodes (issue 10, SPEC §4): the 409s have distinct sentinels
// and codes; a scanner held by a decoding checkout says so.
func TestConflictCodes(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	s := &scripted{decode: make(chan struct{})}
	env := openScripted(t, sb, s, "", checkout.Options{})
	code := func(err error) string {
		var ce *checkout.Error
		if errors.As(err, &ce) {
			return ce.Code
		}
		return ""
	}
	c := env.mustCreate(500)
	_, _, err := env.E.Create(context.Background(), checkout.CreateRequest{OrderID: newOrderID(), Amount: 100, Subject: "x"})
	if !errors.Is(err, checkout.ErrScannerBusy) || !errors.Is(err, checkout.ErrConflict) || code(err) != checkout.CodeScannerBusy ||
		!strings.Contains(err.Error(), "awaiting a scan") {
		t.Fatalf("scanner awaiting: %v (%s)", err, code(err))
	}
	_, _, err = env.E.Create(context.Background(), checkout.CreateRequest{OrderID: c.OrderID, Amount: 501, Subject: "x"})
	if !errors.Is(err, checkout.ErrOrderAmountMismatch) || code(err) != checkout.CodeOrderAmountMismatch {
		t.Fatalf("amount mismatch: %v (%s)", err, code(err))
	}
	env.mustScan(NormalCode()) // the decode waits for s.decode
	_, _, err = env.E.Create(context.Background(), checkout.CreateRequest{OrderID: newOrderID(), Amount: 100, Subject: "x"})
	if !errors.Is(err, checkout.ErrScannerBusy) || code(err) != checkout.CodeScannerBusy ||
		!strings.Contains(err.Error(), "decoding") || strings.Contains(err.Error(), "awaiting a scan") {
		t.Fatalf("scanner decoding: %v (%s)", err, code(err))
	}
	close(s.decode)
	c = env.wait(c.ID)
	if c.State != checkout.Paid {
		t.Fatalf("%s %+v", c.State, c.Error)
	}
	if _, err := env.E.Cancel(context.Background(), c.ID); !errors.Is(err, checkout.ErrInvalidState) || code(err) != checkout.CodeInvalidState {
		t.Fatalf("cancel paid: %v (%s)", err, code(err))
	}
}

// TestLatePaidAfterCancelIsRefunded (issue 10 item 2): past
// late_pay_window a cancel answered ACQ.TRADE_NOT_EXIST settles the
// checkout cancelled; should the pay land even later, the trade is
// cancelled (refunded) at once and the log says so at error level.
func TestLatePaidAfterCancelIsRefunded(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{Faults: sandbox.Faults{CancelUnseenNotExist: true}})
	release := make(chan struct{})
	s := &scripted{}
	s.pay = func(ctx context.Context, _ int, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
		<-release
		return s.Client.TradePay(context.Background(), req)
	}
	env := openScripted(t, sb, s, "", checkout.Options{LatePayWindow: time.Nanosecond})
	c := env.mustCreate(1300)
	env.mustScan(NormalCode())
	env.waitFor(c.ID, "paying", func(c checkout.Checkout) bool { return c.State == checkout.Paying })
	waitCond(t, "trade.pay sent", func() bool { return s.pays.Load() == 1 })
	if _, err := env.E.Cancel(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	c = env.wait(c.ID)
	if c.State != checkout.Cancelled || c.Refunded {
		t.Fatalf("%s refunded=%v", c.State, c.Refunded)
	}
	close(release)
	c = env.waitFor(c.ID, "refunded", func(c checkout.Checkout) bool { return c.Refunded })
	if tr, _ := trade(sb, c.OutTradeNo); !tr.Refunded {
		t.Fatalf("ledger %+v", tr)
	}
	evs := env.Logs.Events("late_paid")
	if len(evs) == 0 || evs[0]["level"] != "error" {
		t.Fatalf("no error line for the late payment: %v\n%s", evs, env.Logs.Tail(20))
	}
}
