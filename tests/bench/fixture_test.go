//go:build bench && linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// The fixture is a data_dir as a busy store's would look after about a
// year: every record is written by the checkout engine and the queue
// through their own APIs (so the bucket layout, indexes and JSON are the
// real ones); only the gateway is a stub (stubGateway: the sandbox's
// answers without RSA, which would take ~10 min for 100k checkouts), the
// clock is a fake one moved 5 minutes per checkout, and the file is
// written without fsync (the bytes are the same).
//
// Checkouts (BENCH_CHECKOUTS, default 100,000), in order:
//   - 95.5 % paid, each redeeming a coupon imported for its customer just
//     before (20,000 customers), which queues a coupon_report job;
//   - 1 % waited for the buyer's password (10003, then paid by query);
//   - 1 % had a first code refused (CODE_EXPIRED), then paid on a rescan;
//   - 2 % declined (ACQ.BUYER_BALANCE_NOT_ENOUGH) → failed, coupon released;
//   - 0.5 % abandoned by the register before a scan → cancelled;
//   - at the end, 3 unresolved at the decision deadline → cancelling with
//     their trade_cancel job pending (gateway down), 2 cut off by a power
//     failure while paying → paying (resumed by query on start), and 1
//     awaiting_scan (the register's current order).
//
// Jobs (BENCH_JOBS, default 100,000): the engine's coupon_report jobs,
// plus award_receive jobs queued evenly in between (as POST /v1/awards
// does) to make up the number, plus the 3 trade_cancel jobs. The queue then
// runs them with the real handlers: reports go to a local backend that
// answers 200 until the last BENCH_PENDING (default 10,000), then 503 with
// Retry-After: 3600, as when the merchant backend has been down for weeks:
// those queued in the last 72 h stay pending (attempted once, next run in
// an hour), older ones are dead-lettered (max_age); awards are answered by
// a stub gateway (done). With the defaults: 97,494 paid, 2,000 failed, 500
// cancelled, 3 cancelling, 2 paying, 1 awaiting_scan; jobs 89,997 done,
// 9,159 dead, 844 pending; posagent.db 385 MB (records pages are ~35 %
// full: bbolt splits at 50 % and records grow after insertion). Building
// it takes 7 min on a loaded 2-core VM.

// fixtureInfo describes a generated data_dir; it is saved next to it.
type fixtureInfo struct {
	Checkouts   int                    `json:"checkouts"`
	Jobs        int                    `json:"jobs"`
	Pending     int                    `json:"pending"`
	States      map[checkout.State]int `json:"states"`
	Queue       queue.Stats            `json:"queue"`
	DBBytes     int64                  `json:"db_bytes"`
	Generated   time.Time              `json:"generated"`
	BuildTime   string                 `json:"build_time"`
	JobsByState map[string]int         `json:"jobs_by_state"`
}

// fixture returns a folder holding data/posagent.db and data/sandbox (the
// sandbox keys) as described above, built once (into BENCH_FIXTURE when
// set, and then reused).
func fixture(tb testing.TB) (string, fixtureInfo) {
	tb.Helper()
	n := envInt(tb, "BENCH_CHECKOUTS", 100_000)
	jobs := envInt(tb, "BENCH_JOBS", 100_000)
	pending := envInt(tb, "BENCH_PENDING", 10_000)
	dir := os.Getenv("BENCH_FIXTURE")
	if dir == "" {
		dir = tb.TempDir()
	}
	var info fixtureInfo
	if b, err := os.ReadFile(filepath.Join(dir, "fixture.json")); err == nil && json.Unmarshal(b, &info) == nil &&
		info.Checkouts == n && info.Jobs == jobs && info.Pending == pending {
		tb.Logf("reusing the fixture in %s (generated %s)", dir, info.Generated.Format(time.RFC3339))
		return dir, info
	}
	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		tb.Fatal(err)
	}
	copyKeys(tb, filepath.Join(dir, "data", "sandbox"))
	start := time.Now()
	info = buildFixture(tb, filepath.Join(dir, "data", "posagent.db"), n, jobs, pending)
	info.BuildTime = time.Since(start).Round(time.Second).String()
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "fixture.json"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("fixture built in %s: %s", info.BuildTime, b)
	return dir, info
}

// What the stub gateway does with one payment code.
type behaviour int

const (
	bPaid     behaviour = iota
	bWait               // 10003, then TRADE_SUCCESS on query
	bExpired            // decode refused CODE_EXPIRED
	bDeclined           // pay refused ACQ.BUYER_BALANCE_NOT_ENOUGH
	bUnknown            // pay, query and cancel: 20000, no outcome
	bHang               // pay never answers (the power fails)
)

// stubGateway answers like the sandbox (same fields, codes and formats),
// without signatures or HTTP, so that 100k checkouts take a minute.
type stubGateway struct {
	clk clock.Clock
	seq atomic.Int64

	mu    sync.Mutex
	codes map[string]behaviour // by payment code
	out   map[string]behaviour // by out_trade_no
	paid  map[string]*gateway.TradePayResponse
}

func newStubGateway(clk clock.Clock) *stubGateway {
	return &stubGateway{clk: clk, codes: map[string]behaviour{}, out: map[string]behaviour{}, paid: map[string]*gateway.TradePayResponse{}}
}

func (g *stubGateway) set(code string, b behaviour) {
	g.mu.Lock()
	g.codes[code] = b
	g.mu.Unlock()
}

func (g *stubGateway) of(code string) behaviour {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.codes[code]
}

var (
	ok10000 = gateway.Common{Code: "10000", Msg: "Success"}
	unknown = func(method string) error {
		return &gateway.Error{Method: method, Kind: gateway.Unknown, Code: "20000", Msg: "Service Currently Unavailable", SubCode: "isp.unknow-error", SubMsg: "系统繁忙"}
	}
)

func failure(method, sub, msg string) error {
	return &gateway.Error{Method: method, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed", SubCode: sub, SubMsg: msg}
}

func (g *stubGateway) TwoStageUse(ctx context.Context, req gateway.TwoStageUseRequest) (*gateway.TwoStageUseResponse, error) {
	if g.of(req.DynamicID) == bExpired {
		c := gateway.Common{Code: "40004", Msg: "Business Failed", SubCode: "CODE_EXPIRED", SubMsg: "码已过期"}
		return &gateway.TwoStageUseResponse{Common: c}, failure(gateway.MethodTwoStageUse, c.SubCode, c.SubMsg)
	}
	return &gateway.TwoStageUseResponse{Common: ok10000, UserID: sandbox.UserIDOf(req.DynamicID)}, nil
}

func (g *stubGateway) TradePay(ctx context.Context, req gateway.TradePayRequest) (*gateway.TradePayResponse, error) {
	b := g.of(req.AuthCode)
	g.mu.Lock()
	g.out[req.OutTradeNo] = b
	g.mu.Unlock()
	now := g.clk.Now().In(gateway.Shanghai)
	user := sandbox.UserIDOf(req.AuthCode)
	resp := &gateway.TradePayResponse{
		Common: ok10000, OutTradeNo: req.OutTradeNo, BuyerUserID: user,
		BuyerLogonID: "138******" + user[len(user)-2:], TotalAmount: req.TotalAmount,
	}
	switch b {
	case bHang:
		<-ctx.Done()
		return nil, &gateway.Error{Method: gateway.MethodTradePay, Kind: gateway.Unknown, Err: ctx.Err()}
	case bUnknown:
		return nil, unknown(gateway.MethodTradePay)
	case bDeclined:
		resp.Common = gateway.Common{Code: "40004", Msg: "Business Failed", SubCode: "ACQ.BUYER_BALANCE_NOT_ENOUGH", SubMsg: "买家余额不足"}
		return resp, failure(gateway.MethodTradePay, resp.SubCode, resp.SubMsg)
	}
	resp.TradeNo = fmt.Sprintf("%s22001%015d", now.Format("20060102"), g.seq.Add(1))
	g.mu.Lock()
	g.paid[req.OutTradeNo] = resp
	g.mu.Unlock()
	if b == bWait {
		resp.Common = gateway.Common{Code: "10003", Msg: "等待用户付款"}
		return resp, &gateway.Error{Method: gateway.MethodTradePay, Kind: gateway.InProgress, Code: "10003", Msg: resp.Msg}
	}
	resp.ReceiptAmount, resp.BuyerPayAmount = req.TotalAmount, req.TotalAmount
	resp.GmtPayment = now.Format(gateway.TimestampLayout)
	return resp, nil
}

func (g *stubGateway) TradeQuery(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error) {
	g.mu.Lock()
	b, p := g.out[req.OutTradeNo], g.paid[req.OutTradeNo]
	g.mu.Unlock()
	if b == bUnknown {
		return nil, unknown(gateway.MethodTradeQuery)
	}
	if p == nil {
		c := gateway.Common{Code: "40004", Msg: "Business Failed", SubCode: "ACQ.TRADE_NOT_EXIST", SubMsg: "交易不存在"}
		return &gateway.TradeQueryResponse{Common: c}, failure(gateway.MethodTradeQuery, c.SubCode, c.SubMsg)
	}
	return &gateway.TradeQueryResponse{
		Common: ok10000, TradeNo: p.TradeNo, OutTradeNo: p.OutTradeNo, TradeStatus: gateway.TradeSuccess,
		TotalAmount: p.TotalAmount, BuyerLogonID: p.BuyerLogonID, BuyerUserID: p.BuyerUserID,
		SendPayDate: g.clk.Now().In(gateway.Shanghai).Format(gateway.TimestampLayout),
	}, nil
}

func (g *stubGateway) TradeCancel(ctx context.Context, req gateway.TradeCancelRequest) (*gateway.TradeCancelResponse, error) {
	// Only the unresolved trades are cancelled, while "the gateway is down".
	return nil, unknown(gateway.MethodTradeCancel)
}

func (g *stubGateway) SceneConsult(ctx context.Context, req gateway.ConsultRequest) (*gateway.ConsultResponse, error) {
	return nil, unknown(gateway.MethodSceneConsult)
}

func (g *stubGateway) InviteAward(ctx context.Context, req gateway.AwardRequest) (*gateway.AwardResponse, error) {
	return &gateway.AwardResponse{Common: ok10000, BizResultCode: "SUCCESS", BizResultDesc: "发奖成功", UserAttr: "NEW"}, nil
}

// fixturePlan is what happens to checkout i of n (before the 6 special
// ones at the end).
func fixturePlan(i int) behaviour {
	switch r := i % 200; {
	case r < 2: // 1 %
		return bWait
	case r < 4: // 1 %
		return bExpired
	case r < 8: // 2 %
		return bDeclined
	case r == 8: // 0.5 %: cancelled by the register (no scan)
		return -1
	}
	return bPaid
}

const (
	fixtureStep      = 5 * time.Minute
	fixtureCustomers = 20_000
)

func buildFixture(tb testing.TB, path string, n, jobs, pending int) fixtureInfo {
	tb.Helper()
	const special = 6
	plain := n - special
	if plain < 1 {
		tb.Fatalf("BENCH_CHECKOUTS=%d: want more than %d", n, special)
	}
	reports := 0
	for i := 0; i < plain; i++ {
		if b := fixturePlan(i); b == bPaid || b == bWait || b == bExpired {
			reports++
		}
	}
	awards := max(0, jobs-reports-3)
	pending = min(pending, reports)

	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	realStart := time.Now()
	clk := clock.NewFake(realStart.Add(-time.Duration(n+1) * fixtureStep))
	q, err := queue.Open(db, queue.Options{Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	gw := newStubGateway(clk)
	e, err := checkout.New(db, q, gw, checkout.Options{
		TerminalID: "T01", StoreID: "S001", PayPID: sandbox.DefaultPayPID,
		ReportCoupons: true, Clock: clk,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	code := func(i, attempt int) string {
		return fmt.Sprintf("28%05d%d%012d", i%100_000, attempt, 208_800_000_000+i%fixtureCustomers)
	}
	create := func(i int) checkout.Checkout {
		c, created, err := e.Create(ctx, checkout.CreateRequest{
			OrderID: fmt.Sprintf("S001-%08d", i+1), Amount: gateway.Amount(1000 + rng.IntN(30_000)),
			Subject: "门店消费 order", OperatorID: fmt.Sprintf("op%d", 1+i%4),
		})
		if err != nil || !created {
			tb.Fatalf("checkout %d: create: %v (created %v)", i, err, created)
		}
		return c
	}
	// settle waits until checkout id is in one of want. With tick, it
	// moves the fake clock on while it waits (flows wait on it between
	// queries).
	settle := func(id string, tick bool, want ...checkout.State) checkout.Checkout {
		wait := time.Second
		for _, s := range want {
			if !s.Terminal() {
				wait = time.Millisecond
			}
		}
		if tick {
			wait = time.Millisecond
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			wctx, cancel := context.WithTimeout(ctx, wait)
			c, err := e.Wait(wctx, id) // returns early on a terminal state
			cancel()
			if err != nil {
				tb.Fatal(err)
			}
			if slices.Contains(want, c.State) {
				return c
			}
			if time.Now().After(deadline) {
				tb.Fatalf("checkout %s stuck in %s for 30 s (want %v)", id, c.State, want)
			}
			if tick {
				clk.Advance(time.Second)
			}
		}
	}
	scan := func(id, code string, b behaviour, want ...checkout.State) checkout.Checkout {
		gw.set(code, b)
		if _, err := e.Scan(ctx, code); err != nil {
			tb.Fatalf("scan into %s: %v", id, err)
		}
		return settle(id, b == bWait || b == bUnknown, want...)
	}
	awardEvery := 0
	if awards > 0 {
		awardEvery = max(1, plain/awards)
	}
	awarded := 0
	lastReport := time.Now()
	for i := 0; i < plain; i++ {
		clk.Advance(fixtureStep)
		if i%1000 == 0 {
			// This batch's customers get a coupon each.
			var cs []checkout.Coupon
			for j := i; j < min(i+1000, plain); j++ {
				c := checkout.Coupon{
					ID: fmt.Sprintf("CP%07d", j), UserID: sandbox.UserIDOf(code(j, 1)), Title: "满减券",
					Kind: checkout.AmountOff, Value: gateway.Amount(100 * (1 + j%5)),
				}
				cs = append(cs, c)
			}
			if _, err := e.ImportCoupons(cs); err != nil {
				tb.Fatal(err)
			}
		}
		c := create(i)
		switch b := fixturePlan(i); b {
		case -1:
			if _, err := e.Cancel(ctx, c.ID); err != nil {
				tb.Fatal(err)
			}
		case bExpired:
			scan(c.ID, code(i, 2), bExpired, checkout.AwaitingScan)
			scan(c.ID, code(i, 1), bPaid, checkout.Paid)
		case bDeclined:
			scan(c.ID, code(i, 1), bDeclined, checkout.Failed)
		default:
			scan(c.ID, code(i, 1), b, checkout.Paid)
		}
		for awardEvery > 0 && awarded < awards && awarded*awardEvery <= i {
			awarded++
			key := fmt.Sprintf("INV%08d", awarded)
			req := gateway.AwardRequest{UserID: sandbox.UserIDOf(code(i, 1)), OutBizNo: key, OutBizCode: "invite"}
			if _, _, err := q.Enqueue(queue.KindAwardReceive, key, req); err != nil {
				tb.Fatal(err)
			}
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			tb.Logf("fixture: %d/%d checkouts", i+1, n)
		}
	}
	for awarded < awards {
		awarded++
		key := fmt.Sprintf("INV%08d", awarded)
		if _, _, err := q.Enqueue(queue.KindAwardReceive, key, gateway.AwardRequest{UserID: "2088000000000001", OutBizNo: key}); err != nil {
			tb.Fatal(err)
		}
	}
	// Three trades left unresolved at the decision deadline: cancelling.
	for k := 0; k < 3; k++ {
		clk.Advance(fixtureStep)
		c := create(plain + k)
		scan(c.ID, code(plain+k, 1), bUnknown, checkout.Cancelling)
	}

	// Run the queue: reports to a backend that stops answering 200 for the
	// last `pending` of them; awards to the stub gateway.
	var reported, attempted atomic.Int64
	okReports := int64(reports - pending)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reported.Add(1) > okReports {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, `{"error":"maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	report := queue.NewCouponReportHandler(srv.URL, srv.Client())
	q.Handle(queue.KindCouponReport, func(ctx context.Context, j queue.Job) (any, error) {
		defer attempted.Add(1)
		return report(ctx, j)
	})
	award := queue.NewAwardHandler(gw)
	q.Handle(queue.KindAwardReceive, func(ctx context.Context, j queue.Job) (any, error) {
		defer attempted.Add(1)
		return award(ctx, j)
	})
	qctx, stop := context.WithCancel(ctx)
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(qctx) }()
	want := int64(reports + awards)
	for attempted.Load() < want {
		time.Sleep(50 * time.Millisecond)
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			tb.Logf("fixture: %d/%d jobs run", attempted.Load(), want)
		}
	}
	// Let the last outcomes commit.
	for {
		st, err := q.Stats()
		if err != nil {
			tb.Fatal(err)
		}
		if st.Pending <= pending+3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-qdone; err != nil {
		tb.Fatal(err)
	}

	// A power failure while paying two trades, with the register's next
	// order waiting for its scan.
	for k := 3; k < 5; k++ {
		clk.Advance(fixtureStep)
		c := create(plain + k)
		gw.set(code(plain+k, 1), bHang)
		if _, err := e.Scan(ctx, code(plain+k, 1)); err != nil {
			tb.Fatal(err)
		}
		settle(c.ID, false, checkout.Paying)
	}
	clk.Advance(time.Minute)
	create(plain + 5)
	cut, cancel := context.WithCancel(ctx)
	cancel()
	e.Shutdown(cut)

	info := fixtureInfo{Checkouts: n, Jobs: reports + awards + 3, Pending: envInt(tb, "BENCH_PENDING", 10_000), Generated: realStart}
	states, err := e.CountByState()
	if err != nil {
		tb.Fatal(err)
	}
	info.States = states
	if info.Queue, err = q.Stats(); err != nil {
		tb.Fatal(err)
	}
	info.JobsByState = map[string]int{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("queue.jobs")).ForEach(func(_, v []byte) error {
			var j queue.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			info.JobsByState[j.Kind+"/"+j.State]++
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		tb.Fatal(err)
	}
	if fi, err := os.Stat(path); err == nil {
		info.DBBytes = fi.Size()
	}
	return info
}
