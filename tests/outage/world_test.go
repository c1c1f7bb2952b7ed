package outage_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/internal/logtest"
	"posagent/probe"
	"posagent/queue"
)

// t0 is when every world's clock starts (a Saturday morning in Shanghai).
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, gateway.Shanghai)

// world is posagent's payment core in one synctest bubble: engine, queue
// and gateway client on one bbolt file, the sandbox and the report backend
// behind links that can be cut, and one fake clock for all of them.
type world struct {
	t   *testing.T
	clk *clock.Fake
	log *logBuf

	sb      *sandbox.Sandbox
	gwLink  *link
	gwFront *gatewayFront
	gwCalls *callLog
	rpLink  *link
	backend *reportBackend
	rpCalls *callLog

	db *bolt.DB
	q  *queue.Queue
	e  *checkout.Engine

	// onStep, when set, is called with every engine step (StepHook).
	onStep atomic.Pointer[func(step string)]
}

// reportPath is where the backend takes reports.
const reportPath = "/posagent/coupon-reports"

// newWorld builds and starts a world; it must run inside synctest.Test.
// Everything is stopped at cleanup, inside the bubble.
func newWorld(t *testing.T, maxAge time.Duration, failure linkFailure) *world {
	t.Helper()
	w := &world{t: t, clk: clock.NewFake(t0), log: &logBuf{}}
	logger := zerolog.New(w.log).Level(zerolog.DebugLevel)

	sb, err := sandbox.New(sandbox.Config{Dir: keysDir, Now: w.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.sb = sb

	// The gateway, on its link.
	w.gwLink = newLink("gateway", 9090, failure)
	w.gwLink.dialTimeout = 5 * time.Second // gateway.Client's own transport
	w.gwFront = &gatewayFront{sandbox: sb.Handler(), link: w.gwLink, handled: map[string]int{}}
	gwSrv := &http.Server{Handler: w.gwFront, ReadHeaderTimeout: 10 * time.Second}
	go gwSrv.Serve(w.gwLink)
	gwTr := &http.Transport{DialContext: w.gwLink.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}
	w.gwCalls = &callLog{clk: w.clk, next: gwTr, describe: func(r *http.Request, body []byte) (string, string) {
		return gatewayCall(r.URL.RawQuery, body)
	}}
	gw := sb.Client() // the sandbox's keys and clock; URL and transport below
	gw.URL = w.gwLink.URL("/gateway.do")
	gw.HTTPClient = &http.Client{Transport: w.gwCalls}

	// The merchant backend for coupon reports, on its link.
	w.rpLink = newLink("report", 8443, failure)
	w.rpLink.dialTimeout = 30 * time.Second // http.DefaultTransport
	w.backend = &reportBackend{link: w.rpLink, received: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("POST "+reportPath, w.backend)
	rpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go rpSrv.Serve(w.rpLink)
	rpTr := &http.Transport{DialContext: w.rpLink.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}
	w.rpCalls = &callLog{clk: w.clk, next: rpTr, describe: func(r *http.Request, _ []byte) (string, string) {
		return queue.KindCouponReport, r.Header.Get("Idempotency-Key")
	}}

	db, err := bolt.Open(filepath.Join(t.TempDir(), "posagent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.db = db
	// Production settings: probe every 5 s (the default), 4 at a time.
	gwProbe, err := probe.New(probe.Options{Name: queue.RemoteGateway, Clock: w.clk, Check: probe.GatewayCheck(gw)})
	if err != nil {
		t.Fatal(err)
	}
	rpProbe, err := probe.New(probe.Options{Name: queue.RemoteReport, Clock: w.clk,
		Check: probe.HTTPCheck(w.rpLink.URL(reportPath), &http.Client{Transport: w.rpCalls})})
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{Clock: w.clk, Logger: &logger, MaxAge: maxAge, Rand: func() float64 { return 0.5 },
		Gateway: gwProbe, Report: rpProbe})
	if err != nil {
		t.Fatal(err)
	}
	w.q = q
	q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
	q.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(w.rpLink.URL(reportPath),
		&http.Client{Transport: w.rpCalls, Timeout: queue.DefaultReportTimeout}))
	// Production intervals: query every 3 s, decide after 60 s.
	e, err := checkout.New(db, q, gw, checkout.Options{
		TerminalID:    "T01",
		StoreID:       "S001",
		PayPID:        sb.PayPID(),
		ReportCoupons: true,
		// The cashier keeps C6 waiting through the outage and scans it
		// again after; this world is about the outage, not the scan
		// timeout (TestScanTimeout covers that).
		ScanTimeout: 100 * time.Hour,
		Clock:       w.clk,
		Logger:      &logger,
		StepHook: func(step string) {
			if f := w.onStep.Load(); f != nil {
				(*f)(step)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.e = e

	ctx, stopQ := context.WithCancel(context.Background())
	qDone := make(chan error, 1)
	go func() { qDone <- q.Run(ctx) }()
	go gwProbe.Run(ctx)
	go rpProbe.Run(ctx)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		stopQ()
		if err := <-qDone; err != nil {
			t.Errorf("queue.Run: %v", err)
		}
		gwSrv.Close()
		rpSrv.Close()
		gwTr.CloseIdleConnections()
		rpTr.CloseIdleConnections()
		if err := db.Close(); err != nil {
			t.Errorf("close db: %v", err)
		}
		if t.Failed() {
			t.Logf("log tail:\n%s", w.log.Tail(60))
		}
	})
	synctest.Wait()
	return w
}

// advance moves the clock by d and waits until the world has settled.
// The bubble's own clock, which times HTTP calls and connections out,
// moves along with it.
func (w *world) advance(d time.Duration) {
	w.clk.Advance(d)
	time.Sleep(d)
	synctest.Wait()
}

// userOf is the sandbox buyer of a payment code: 2088 + its last 12 digits.
func userOf(code string) string { return "2088" + code[len(code)-12:] }

// ordinaryCode is the n-th ordinary payment code of a test.
func ordinaryCode(n int) string { return fmt.Sprintf("28%016d", 7_000_000_000+n) }

// testCode is a sandbox test code of scenario sc with parameter k.
func testCode(sc, k, n int) string {
	return fmt.Sprintf("%s%02d%d%05d", sandbox.TestCodeMarker, sc, k, n)
}

func money(s string) gateway.Amount {
	a, err := gateway.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// startCheckout creates a checkout for order and scans code into it, then
// lets the world settle.
func (w *world) startCheckout(order, amount, code string) checkout.Checkout {
	w.t.Helper()
	c, created, err := w.e.Create(context.Background(), checkout.CreateRequest{
		OrderID: order, Amount: money(amount), Subject: "order " + order, OperatorID: "op1",
	})
	if err != nil || !created {
		w.t.Fatalf("create %s: %v (created %v)", order, err, created)
	}
	if _, err := w.e.Scan(context.Background(), code); err != nil {
		w.t.Fatalf("scan for %s: %v", order, err)
	}
	synctest.Wait()
	return w.get(c.ID)
}

func (w *world) get(id string) checkout.Checkout {
	w.t.Helper()
	c, err := w.e.Get(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// award queues an invite award as POST /v1/awards does.
func (w *world) award(outBizNo string, req gateway.AwardRequest) queue.Job {
	w.t.Helper()
	req.OutBizNo = outBizNo
	j, existed, err := w.q.Enqueue(queue.KindAwardReceive, outBizNo, req)
	if err != nil || existed {
		w.t.Fatalf("award %s: %v (existed %v)", outBizNo, err, existed)
	}
	w.q.Notify()
	synctest.Wait()
	return j
}

func (w *world) job(id uint64) queue.Job {
	w.t.Helper()
	j, err := w.q.Get(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return j
}

// jobs lists every job (the suite makes far fewer than a page).
func (w *world) jobs(state string) []queue.Job {
	w.t.Helper()
	js, err := w.q.List(queue.Filter{State: state, Limit: queue.MaxListLimit})
	if err != nil {
		w.t.Fatal(err)
	}
	return js
}

// logBuf collects the log lines of the code under test.
type logBuf = logtest.Buffer
