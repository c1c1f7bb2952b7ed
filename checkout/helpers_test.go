package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	"posagent/internal/logtest"
	"posagent/queue"
)

// TestMain-free loopback guard: every gateway URL the tests use is checked.
func mustLoopback(tb testing.TB, url string) {
	tb.Helper()
	host := strings.TrimPrefix(url, "http://")
	host = host[:strings.IndexByte(host, '/')]
	h, _, err := net.SplitHostPort(host)
	if err != nil || !net.ParseIP(h).IsLoopback() {
		tb.Fatalf("refusing non-loopback gateway %q", url)
	}
}

// MustOpenSandbox starts the gateway simulator on 127.0.0.1:0.
func MustOpenSandbox(tb testing.TB, cfg sandbox.Config) *sandbox.Sandbox {
	tb.Helper()
	s, err := sandbox.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	mustLoopback(tb, s.URL())
	tb.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects the log lines of the code under test.
type logBuffer = logtest.Buffer

// fastOptions are engine options for tests: short intervals and deadlines.
func fastOptions() checkout.Options {
	return checkout.Options{
		TerminalID:        "T01",
		StoreID:           "S001",
		QueryInterval:     10 * time.Millisecond,
		DecisionDeadline:  400 * time.Millisecond,
		DecodeRetryWindow: 250 * time.Millisecond,
		DrainTimeout:      time.Second,
	}
}

// Env is one engine on one bbolt file, with its queue running.
type Env struct {
	tb   testing.TB
	SB   *sandbox.Sandbox
	GW   *gateway.Client
	Path string
	DB   *bolt.DB
	Q    *queue.Queue
	E    *checkout.Engine
	Logs *logBuffer
	Opts checkout.Options

	stopQ  context.CancelFunc
	qDone  chan struct{}
	closed bool
}

// MustOpenEngine opens (or reopens) the engine on path with opts (zero
// fields from fastOptions) against sb, starts its queue and recovery, and
// closes everything at cleanup.
func MustOpenEngine(tb testing.TB, sb *sandbox.Sandbox, path string, opts checkout.Options) *Env {
	tb.Helper()
	if opts.PayPID == "" {
		opts.PayPID = sb.PayPID()
	}
	env := openEngine(tb, sb.Client(), path, opts)
	env.SB = sb
	return env
}

// openEngine is MustOpenEngine with any gateway client.
func openEngine(tb testing.TB, gw *gateway.Client, path string, opts checkout.Options) *Env {
	tb.Helper()
	return openEngineOn(tb, gw, gw, path, opts)
}

// openEngineOn is openEngine with the engine calling via (which may wrap gw
// to script answers).
func openEngineOn(tb testing.TB, gw *gateway.Client, via checkout.Gateway, path string, opts checkout.Options) *Env {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "posagent.db")
	}
	def := fastOptions()
	if opts.TerminalID == "" {
		opts.TerminalID = def.TerminalID
	}
	if opts.StoreID == "" {
		opts.StoreID = def.StoreID
	}
	if opts.QueryInterval == 0 {
		opts.QueryInterval = def.QueryInterval
	}
	if opts.DecisionDeadline == 0 {
		opts.DecisionDeadline = def.DecisionDeadline
	}
	if opts.DecodeRetryWindow == 0 {
		opts.DecodeRetryWindow = def.DecodeRetryWindow
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = def.DrainTimeout
	}
	logs := &logBuffer{}
	if opts.Logger == nil {
		l := zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		opts.Logger = &l
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{
		Logger:        opts.Logger,
		BaseBackoff:   10 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond,
		JobTimeout:    5 * time.Second,
	})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	gw.Timeout = 2 * time.Second
	e, err := checkout.New(db, q, via, opts)
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	env := &Env{tb: tb, GW: gw, Path: path, DB: db, Q: q, E: e, Logs: logs, Opts: opts, qDone: make(chan struct{})}
	var ctx context.Context
	ctx, env.stopQ = context.WithCancel(context.Background())
	go func() {
		defer close(env.qDone)
		if err := q.Run(ctx); err != nil {
			tb.Errorf("queue.Run: %v", err)
		}
	}()
	if err := e.Start(context.Background()); err != nil {
		env.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	return env
}

// Close stops the engine and the queue and closes the database.
func (env *Env) Close() {
	if env.closed {
		return
	}
	env.closed = true
	env.E.Close()
	env.stopQ()
	<-env.qDone
	if err := env.DB.Close(); err != nil {
		env.tb.Errorf("close db: %v", err)
	}
}

// Reopen closes env and opens a new engine on the same file.
func (env *Env) Reopen(opts checkout.Options) *Env {
	env.Close()
	if env.SB == nil {
		return openEngine(env.tb, env.GW, env.Path, opts)
	}
	return MustOpenEngine(env.tb, env.SB, env.Path, opts)
}

var codeSeq atomic.Int64

func init() { codeSeq.Store(time.Now().UnixNano() % 1e9) }

// NormalCode is a fresh ordinary payment code (18 digits, prefix 28, never
// the test-code marker).
func NormalCode() string {
	return fmt.Sprintf("28%016d", codeSeq.Add(1)%1e16)
}

// SandboxCode is a fresh sandbox test code of scenario sc with parameter n.
func SandboxCode(sc, n int) string {
	return fmt.Sprintf("%s%02d%d%05d", sandbox.TestCodeMarker, sc, n, codeSeq.Add(1)%1e5)
}

// Sandbox scenarios (gateway/sandbox/testcodes.go).
const (
	scWaitThenPaid       = 1
	scWaitForever        = 2
	scWaitThenClosed     = 3
	scBalanceNotEnough   = 4
	scCodeExpired        = 5
	scIllegalCode        = 6
	scUserUnAuth         = 7
	scIndexNotExist      = 8
	scDecodeFailed       = 9
	scDecodeSystemError  = 10
	scDecodeUnknown      = 11
	scFrozen             = 12
	scCancelNotAllowed   = 13
	scCancelRetry        = 14
	scCancelTimeOut      = 15
	scPayUnknownPaid     = 16
	scPayUnknownNotFound = 17
)

var orderSeq atomic.Int64

func newOrderID() string { return fmt.Sprintf("ORD-%d-%d", time.Now().UnixNano()%1e6, orderSeq.Add(1)) }

// mustCreate creates a checkout for a new order of amount.
func (env *Env) mustCreate(amount gateway.Amount) checkout.Checkout {
	env.tb.Helper()
	c, created, err := env.E.Create(context.Background(), checkout.CreateRequest{
		OrderID: newOrderID(), Amount: amount, Subject: "test order", OperatorID: "op1",
	})
	if err != nil || !created {
		env.tb.Fatalf("create: %v (created %v)", err, created)
	}
	return c
}

// mustScan scans code into the awaiting checkout.
func (env *Env) mustScan(code string) checkout.Checkout {
	env.tb.Helper()
	c, err := env.E.Scan(context.Background(), code)
	if err != nil {
		env.tb.Fatalf("scan: %v", err)
	}
	return c
}

// wait waits (≤ 10 s) for checkout id to end.
func (env *Env) wait(id string) checkout.Checkout {
	env.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := env.E.Wait(ctx, id)
	if err != nil {
		env.tb.Fatalf("wait %s: %v", id, err)
	}
	if !c.State.Terminal() {
		env.tb.Fatalf("checkout %s still %s after 10 s", id, c.State)
	}
	return c
}

// waitFor polls checkout id until cond holds (≤ 10 s).
func (env *Env) waitFor(id string, what string, cond func(checkout.Checkout) bool) checkout.Checkout {
	env.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := env.E.Get(id)
		if err != nil {
			env.tb.Fatal(err)
		}
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			env.tb.Fatalf("checkout %s: waited 10 s for %s; it is %s (error %+v)", id, what, c.State, c.Error)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// trade returns the sandbox's trade with outTradeNo.
func trade(sb *sandbox.Sandbox, outTradeNo string) (sandbox.Trade, bool) {
	for _, t := range sb.Trades() {
		if t.OutTradeNo == outTradeNo {
			return t, true
		}
	}
	return sandbox.Trade{}, false
}

// allCheckouts lists every checkout of e (paging through List).
func allCheckouts(tb testing.TB, e *checkout.Engine) []checkout.Checkout {
	tb.Helper()
	var out []checkout.Checkout
	before := ""
	for {
		page, err := e.List(checkout.ListFilter{Limit: checkout.MaxListLimit, Before: before})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < checkout.MaxListLimit {
			return out
		}
		before = page[len(page)-1].ID
	}
}

// checkLedger asserts the money invariants between the checkouts and the
// sandbox ledger:
//   - every checkout is terminal (when requireTerminal);
//   - a paid checkout has exactly one successful, unrefunded trade: its
//     out_trade_no, amount - discount, its trade_no, its sence_no;
//   - no order has more than one paid checkout or more than one successful
//     unrefunded trade;
//   - every successful unrefunded trade belongs to a paid (or
//     needs_attention) checkout;
//   - a cancelled checkout with refunded=true has a refunded trade.
func checkLedger(tb testing.TB, cs []checkout.Checkout, trades []sandbox.Trade, requireTerminal bool) {
	tb.Helper()
	byOut := map[string]checkout.Checkout{}
	for _, c := range cs {
		if requireTerminal && !c.State.Terminal() {
			tb.Errorf("checkout %s (order %s) left %s", c.ID, c.OrderID, c.State)
		}
		if c.OutTradeNo != "" {
			if o, dup := byOut[c.OutTradeNo]; dup {
				tb.Errorf("out_trade_no %s used by %s and %s", c.OutTradeNo, o.ID, c.ID)
			}
			byOut[c.OutTradeNo] = c
		}
	}
	live := map[string][]sandbox.Trade{} // out_trade_no → successful, unrefunded
	tradeOf := map[string]sandbox.Trade{}
	for _, t := range trades {
		tradeOf[t.OutTradeNo] = t
		if t.Status == gateway.TradeSuccess && !t.Refunded {
			live[t.OutTradeNo] = append(live[t.OutTradeNo], t)
			c, ok := byOut[t.OutTradeNo]
			if !ok {
				tb.Errorf("trade %s (%s) was charged but belongs to no checkout", t.OutTradeNo, t.TotalAmount)
				continue
			}
			if c.State != checkout.Paid && c.State != checkout.NeedsAttention {
				tb.Errorf("trade %s charged %s but checkout %s is %s", t.OutTradeNo, t.TotalAmount, c.ID, c.State)
			}
		}
	}
	paidPerOrder := map[string]int{}
	chargedPerOrder := map[string]int{}
	for _, c := range cs {
		chargedPerOrder[c.OrderID] += len(live[c.OutTradeNo])
		switch c.State {
		case checkout.Paid:
			paidPerOrder[c.OrderID]++
			ts := live[c.OutTradeNo]
			if len(ts) != 1 {
				tb.Errorf("paid checkout %s has %d successful trades", c.ID, len(ts))
				continue
			}
			t := ts[0]
			if want := c.Amount - c.Discount; t.TotalAmount != want || c.PaidAmount != want {
				tb.Errorf("checkout %s: charged %s, paid_amount %s, want %s", c.ID, t.TotalAmount, c.PaidAmount, want)
			}
			if t.TradeNo != c.TradeNo {
				tb.Errorf("checkout %s: trade_no %q, ledger %q", c.ID, c.TradeNo, t.TradeNo)
			}
			if c.SenceNo == "" || t.SenceNo != c.SenceNo {
				tb.Errorf("checkout %s: sence_no %q, ledger DYNAMIC_TOKEN_OUT_BIZ_NO %q", c.ID, c.SenceNo, t.SenceNo)
			}
		case checkout.Cancelled:
			if c.Refunded {
				if t, ok := tradeOf[c.OutTradeNo]; !ok || !t.Refunded {
					tb.Errorf("checkout %s says refunded, ledger %+v", c.ID, t)
				}
			}
		}
	}
	for o, n := range paidPerOrder {
		if n > 1 {
			tb.Errorf("order %s paid %d times", o, n)
		}
	}
	for o, n := range chargedPerOrder {
		if n > 1 {
			tb.Errorf("order %s charged %d times", o, n)
		}
	}
}

func errCode(err error) string {
	var ce *checkout.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

func errorIs(err, target error) bool { return errors.Is(err, target) }
