package checkout_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// attentionGateway is the sandbox's client, with a till that cannot see:
// while blind, trade.pay is sent but its answer is lost and trade.query
// gets no answer; while dropPay, trade.pay never reaches the gateway; and
// every trade.cancel is refused with ACQ.CANCEL_NOT_ALLOWED. So a checkout
// ends in needs_attention with its trade paid (blind) or absent (dropPay).
type attentionGateway struct {
	*gateway.Client
	blind, dropPay atomic.Bool
}

func lost(method string) error {
	return &gateway.Error{Method: method, Kind: gateway.Unknown, Err: errors.New("test: the answer was lost")}
}

func (g *attentionGateway) TradePay(ctx context.Context, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
	if g.dropPay.Load() {
		return nil, lost(gateway.MethodTradePay)
	}
	resp, err := g.Client.TradePay(ctx, req)
	if g.blind.Load() {
		return nil, lost(gateway.MethodTradePay)
	}
	return resp, err
}

func (g *attentionGateway) TradeQuery(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error) {
	if g.blind.Load() {
		return nil, lost(gateway.MethodTradeQuery)
	}
	return g.Client.TradeQuery(ctx, req)
}

func (g *attentionGateway) TradeCancel(context.Context, gateway.TradeCancelRequest) (*gateway.TradeCancelResponse, error) {
	return nil, &gateway.Error{Method: gateway.MethodTradeCancel, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed",
		SubCode: "ACQ.CANCEL_NOT_ALLOWED", SubMsg: "not allowed"}
}

// openAttentionEngine is openEngine with an attentionGateway.
func openAttentionEngine(tb testing.TB, sb *sandbox.Sandbox, opts checkout.Options) (*Env, *attentionGateway) {
	tb.Helper()
	gw := &attentionGateway{Client: sb.Client()}
	gw.Client.Timeout = 2 * time.Second
	def := fastOptions()
	opts.TerminalID, opts.StoreID, opts.PayPID = def.TerminalID, def.StoreID, sb.PayPID()
	opts.QueryInterval, opts.DecisionDeadline, opts.DrainTimeout = def.QueryInterval, def.DecisionDeadline, def.DrainTimeout
	logs := &logBuffer{}
	l := zerolog.New(logs).Level(zerolog.DebugLevel)
	opts.Logger = &l
	path := filepath.Join(tb.TempDir(), "posagent.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{Logger: &l, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := checkout.New(db, q, gw, opts)
	if err != nil {
		tb.Fatal(err)
	}
	env := &Env{tb: tb, SB: sb, GW: gw.Client, Path: path, DB: db, Q: q, E: e, Logs: logs, Opts: opts, qDone: make(chan struct{})}
	var ctx context.Context
	ctx, env.stopQ = context.WithCancel(context.Background())
	go func() {
		defer close(env.qDone)
		q.Run(ctx)
	}()
	if err := e.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	return env, gw
}

// mustNeedAttention pays amount blind (the trade is paid, the till never
// learns it) or with the pay dropped (no trade), so the checkout ends in
// needs_attention.
func mustNeedAttention(t *testing.T, env *Env, gw *attentionGateway, amount gateway.Amount, code string, dropPay bool) checkout.Checkout {
	t.Helper()
	gw.blind.Store(!dropPay)
	gw.dropPay.Store(dropPay)
	c := env.mustCreate(amount)
	env.mustScan(code)
	c = env.wait(c.ID)
	gw.blind.Store(false)
	gw.dropPay.Store(false)
	if c.State != checkout.NeedsAttention {
		t.Fatalf("want needs_attention: %+v", c)
	}
	return c
}

func TestResolveAccept(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env, gw := openAttentionEngine(t, sb, checkout.Options{})
	code := NormalCode()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-1", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 100}}); err != nil {
		t.Fatal(err)
	}
	c := mustNeedAttention(t, env, gw, 1000, code, false)
	ctx := context.Background()
	// The gateway says paid: closed is refused, naming what it says.
	_, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveClosed})
	if !errors.Is(err, checkout.ErrInvalidState) || errCode(err) != checkout.CodeInvalidState || !strings.Contains(err.Error(), "is paid (9.00") {
		t.Fatalf("closed on a paid trade: %v", err)
	}
	got, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveAccept, Note: "customer showed the receipt"})
	if err != nil || got.State != checkout.Paid || got.PaidAmount != 900 || got.TradeNo == "" || got.Error != nil {
		t.Fatalf("accept: %+v %v", got, err)
	}
	if cp, _ := env.E.GetCoupon("C-1"); cp.State != checkout.CouponRedeemed {
		t.Fatalf("coupon %+v", cp)
	}
	// Again: the same answer; another action: refused.
	if again, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveAccept}); err != nil || again.State != checkout.Paid {
		t.Fatalf("accept again: %+v %v", again, err)
	}
	if _, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveRefund}); !errors.Is(err, checkout.ErrInvalidState) {
		t.Fatalf("refund after accept: %v", err)
	}
	// A paid checkout now: it takes refunds like any other.
	if rf := env.mustRefund(c.ID, checkout.RefundRequest{Amount: 300}); rf.State != checkout.RefundRefunded {
		t.Fatalf("%+v", rf)
	}
	if len(env.Logs.Events("resolved")) != 1 {
		t.Fatalf("resolved lines: %v", env.Logs.Events("resolved"))
	}
}

func TestResolveRefund(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env, gw := openAttentionEngine(t, sb, checkout.Options{})
	code := NormalCode()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-1", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff, Value: 100}}); err != nil {
		t.Fatal(err)
	}
	c := mustNeedAttention(t, env, gw, 1000, code, false)
	ctx := context.Background()
	got, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveRefund, Note: "customer left"})
	if err != nil || got.PaidAmount != 900 {
		t.Fatalf("refund: %+v %v", got, err)
	}
	rfs, _ := env.E.RefundsOf(c.ID)
	if len(rfs) != 1 || rfs[0].Amount != 900 {
		t.Fatalf("refunds %+v", rfs)
	}
	env.waitRefund(rfs[0].ID)
	got = env.waitFor(c.ID, "cancelled", func(c checkout.Checkout) bool { return c.State == checkout.Cancelled })
	if !got.Refunded || got.RefundedAmount != 900 || got.Error != nil {
		t.Fatalf("after the refund: %+v", got)
	}
	if cp, _ := env.E.GetCoupon("C-1"); cp.State != checkout.CouponAvailable {
		t.Fatalf("coupon %+v", cp)
	}
	if tr, _ := trade(sb, c.OutTradeNo); !tr.Refunded || tr.RefundedAmount != 900 {
		t.Fatalf("ledger %+v", tr)
	}
	if again, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveRefund}); err != nil || again.State != checkout.Cancelled {
		t.Fatalf("refund again: %+v %v", again, err)
	}
	// The order is free for a new checkout.
	if _, _, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: c.OrderID, Amount: 1000, Subject: "again"}); err != nil {
		t.Fatalf("new checkout of the resolved order: %v", err)
	}
}

func TestResolveClosed(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env, gw := openAttentionEngine(t, sb, checkout.Options{LatePayWindow: 2 * time.Second})
	c := mustNeedAttention(t, env, gw, 1000, NormalCode(), true)
	ctx := context.Background()
	// No trade: accept and refund are contradicted.
	for _, a := range []checkout.ResolveAction{checkout.ResolveAccept, checkout.ResolveRefund} {
		_, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: a})
		if !errors.Is(err, checkout.ErrInvalidState) || !strings.Contains(err.Error(), "ACQ.TRADE_NOT_EXIST") {
			t.Fatalf("%s on an absent trade: %v", a, err)
		}
	}
	// Closed, but a pay may still arrive: not yet.
	if _, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveClosed}); !errors.Is(err, checkout.ErrInvalidState) || !strings.Contains(err.Error(), "may still arrive") {
		t.Fatalf("closed within late_pay_window: %v", err)
	}
	var got checkout.Checkout
	waitUntil(t, "late_pay_window to pass", func() bool {
		var err error
		got, err = env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveClosed, Note: "never paid"})
		return err == nil
	})
	if got.State != checkout.Cancelled || got.Refunded || got.Error == nil || got.Error.Code != checkout.CodeTradeClosed {
		t.Fatalf("closed: %+v", got)
	}
	if _, _, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: c.OrderID, Amount: 1000, Subject: "again"}); err != nil {
		t.Fatalf("new checkout of the resolved order: %v", err)
	}
}

func TestResolveRefusals(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env, gw := openAttentionEngine(t, sb, checkout.Options{})
	ctx := context.Background()
	paid := env.mustPay(1000, NormalCode())
	if _, err := env.E.Resolve(ctx, paid.ID, checkout.ResolveRequest{Action: checkout.ResolveAccept}); !errors.Is(err, checkout.ErrInvalidState) {
		t.Fatalf("resolve of a paid checkout: %v", err)
	}
	if _, err := env.E.Resolve(ctx, paid.ID, checkout.ResolveRequest{Action: "keep"}); !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatalf("bad action: %v", err)
	}
	if _, err := env.E.Resolve(ctx, "co_000000000999_XXXX", checkout.ResolveRequest{Action: checkout.ResolveAccept}); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("unknown checkout: %v", err)
	}
	// The gateway does not answer: nothing changes.
	c := mustNeedAttention(t, env, gw, 500, NormalCode(), false)
	gw.blind.Store(true)
	if _, err := env.E.Resolve(ctx, c.ID, checkout.ResolveRequest{Action: checkout.ResolveAccept}); !errors.Is(err, checkout.ErrGatewayUnavailable) {
		t.Fatalf("resolve while the gateway is silent: %v", err)
	}
	gw.blind.Store(false)
	if c, _ := env.E.Get(c.ID); c.State != checkout.NeedsAttention {
		t.Fatalf("%+v", c)
	}
	// A trade still waiting for the buyer: every action is contradicted.
	w := mustNeedAttention(t, env, gw, 500, SandboxCode(scCancelNotAllowed, 0), false)
	for _, a := range []checkout.ResolveAction{checkout.ResolveAccept, checkout.ResolveClosed} {
		if _, err := env.E.Resolve(ctx, w.ID, checkout.ResolveRequest{Action: a}); !errors.Is(err, checkout.ErrInvalidState) || !strings.Contains(err.Error(), "WAIT_BUYER_PAY") {
			t.Fatalf("%s on a waiting trade: %v", a, err)
		}
	}
}
