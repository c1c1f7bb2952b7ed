package daily_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/internal/logtest"
	"posagent/queue"
	"posagent/reconcile"
	"posagent/reconcile/daily"
)

// env is a checkout engine, a queue and a runner on one bbolt file,
// against an in-process sandbox.
type env struct {
	SB   *sandbox.Sandbox
	DB   *bolt.DB
	Q    *queue.Queue
	E    *checkout.Engine
	R    *daily.Runner
	Logs *logtest.Buffer
}

func mustOpenEnv(t *testing.T, ropts daily.Options) *env {
	t.Helper()
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	db, err := bolt.Open(filepath.Join(t.TempDir(), "posagent.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	q, err := queue.Open(db, queue.Options{Logger: &log, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond, JobTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gw := sb.Client()
	gw.Timeout = 2 * time.Second
	e, err := checkout.New(db, q, gw, checkout.Options{TerminalID: "T01", StoreID: "S001", PayPID: sb.PayPID(),
		QueryInterval: 10 * time.Millisecond, DecisionDeadline: 400 * time.Millisecond, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	ropts.DB, ropts.Queue, ropts.Journal, ropts.Gateway, ropts.Prefix, ropts.Logger = db, q, e, gw, "T01_", &log
	r, err := daily.New(ropts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		q.Run(ctx)
	}()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		e.Close()
		stop()
		<-qdone
		db.Close()
	})
	return &env{SB: sb, DB: db, Q: q, E: e, R: r, Logs: logs}
}

var codeSeq = time.Now().UnixNano() % 1e9

func (v *env) mustPay(t *testing.T, amount gateway.Amount) checkout.Checkout {
	t.Helper()
	ctx := context.Background()
	c, _, err := v.E.Create(ctx, checkout.CreateRequest{OrderID: "ORD-" + time.Now().Format("150405.000000000"), Amount: amount, Subject: "x", OperatorID: "op1"})
	if err != nil {
		t.Fatal(err)
	}
	codeSeq++
	if _, err := v.E.Scan(ctx, fmt.Sprintf("28%016d", codeSeq)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err = v.E.Wait(wctx, c.ID)
	if err != nil || c.State != checkout.Paid {
		t.Fatalf("pay: %+v %v", c, err)
	}
	return c
}

// TestReconcileAgainstTheSandbox: a day with payments matches; altered,
// deleted and added bill rows make it mismatched with the right
// checkouts; a day without trades is unavailable and queued.
func TestReconcileAgainstTheSandbox(t *testing.T) {
	v := mustOpenEnv(t, daily.Options{})
	ctx := context.Background()
	a, b, c := v.mustPay(t, 2500), v.mustPay(t, 1000), v.mustPay(t, 300)
	day := a.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	if c.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly) != day {
		t.Skip("the test ran across midnight in Shanghai")
	}
	// Another terminal's trade is in the bill, not ours.
	if _, err := v.SB.Client().TradePay(ctx, gateway.TradePayRequest{OutTradeNo: "T02_1", AuthCode: "281234567890123457", Subject: "x", TotalAmount: 100, TerminalID: "T02"}); err != nil {
		t.Fatal(err)
	}

	if _, ok, _ := v.R.Result(day); ok {
		t.Fatal("a result before any run")
	}
	res, queued, err := v.R.Reconcile(ctx, day)
	if err != nil || queued || res.State != reconcile.StateMatched || res.Matched.Count != 3 || res.Matched.Amount != 3800 || res.CheckedAt.IsZero() {
		t.Fatalf("matched day: %+v queued %v, %v", res, queued, err)
	}
	if got, ok, err := v.R.Result(day); !ok || err != nil || got.State != reconcile.StateMatched {
		t.Fatalf("stored %+v %v %v", got, ok, err)
	}
	if len(v.Logs.Events("reconcile_matched")) != 1 {
		t.Fatalf("no reconcile_matched line:\n%s", v.Logs.Tail(5))
	}

	// The bill says 24.00 for a, lacks b, and has a trade of ours that the
	// journal does not.
	if err := v.SB.AddBillRows([]sandbox.BillRow{
		{Action: "alter", Date: day, OutTradeNo: a.OutTradeNo, Amount: "24.00"},
		{Action: "delete", Date: day, OutTradeNo: b.OutTradeNo},
		{Action: "add", Date: day, OutTradeNo: "T01_20260101000000000_GHOST", TerminalID: "T01", Amount: "9.99"},
	}); err != nil {
		t.Fatal(err)
	}
	res, _, err = v.R.Reconcile(ctx, day)
	if err != nil || res.State != reconcile.StateMismatched {
		t.Fatalf("mismatched day: %+v, %v", res, err)
	}
	if len(res.AmountMismatch) != 1 || res.AmountMismatch[0].CheckoutID != a.ID || res.AmountMismatch[0].Local != 2500 || res.AmountMismatch[0].Bill != 2400 {
		t.Errorf("amount_mismatch %+v", res.AmountMismatch)
	}
	if !slices.Equal(res.MissingInBill, []string{b.ID}) {
		t.Errorf("missing_in_bill %v, want [%s]", res.MissingInBill, b.ID)
	}
	if len(res.MissingLocally) != 1 || res.MissingLocally[0].OutTradeNo != "T01_20260101000000000_GHOST" || res.MissingLocally[0].Amount != 999 {
		t.Errorf("missing_locally %+v", res.MissingLocally)
	}
	if res.Matched.Count != 1 || res.Matched.Amount != 300 {
		t.Errorf("matched %+v", res.Matched)
	}
	mm := v.Logs.Events("reconcile_mismatch")
	if len(mm) != 1 || mm[0]["level"] != "error" {
		t.Fatalf("reconcile_mismatch lines %v", mm)
	}
	if last, ok := v.R.Last(); !ok || last.State != reconcile.StateMismatched || daily.Mismatches(last) != 3 {
		t.Fatalf("last %+v", last)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.R.Collector())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "posagent_reconcile_mismatches" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 3 {
		t.Fatalf("metrics %v, %v", mfs, err)
	}

	// A day whose bill is not there yet: unavailable, stored, and its job
	// queued to ask again.
	tomorrow := time.Now().In(gateway.Shanghai).AddDate(0, 0, 1).Format(time.DateOnly)
	res, queued, err = v.R.Reconcile(ctx, tomorrow)
	if err != nil || !queued || res.State != reconcile.StateUnavailable {
		t.Fatalf("no bill yet: %+v queued %v, %v", res, queued, err)
	}
	if got, ok, _ := v.R.Result(tomorrow); !ok || got.State != reconcile.StateUnavailable {
		t.Fatalf("stored %+v", got)
	}
	jobs, err := v.Q.List(queue.Filter{Kind: queue.KindReconcile})
	if err != nil || len(jobs) != 1 || jobs[0].Key != tomorrow || jobs[0].State != queue.StatePending {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	// A long past day without trades and without a bill: unavailable for
	// good, no job.
	res, queued, err = v.R.Reconcile(ctx, "2001-02-03")
	if err != nil || queued || res.State != reconcile.StateUnavailable {
		t.Fatalf("empty day: %+v queued %v, %v", res, queued, err)
	}
	if jobs, _ := v.Q.List(queue.Filter{Kind: queue.KindReconcile}); len(jobs) != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
	// Alipay cannot be reached: pending, stored, and the job queued.
	v.SB.Close()
	res, queued, err = v.R.Reconcile(ctx, "2002-02-02")
	if err != nil || !queued || res.State != reconcile.StatePending {
		t.Fatalf("unreachable: %+v queued %v, %v", res, queued, err)
	}
	if got, ok, _ := v.R.Result("2002-02-02"); !ok || got.State != reconcile.StatePending {
		t.Fatalf("stored %+v", got)
	}
	if jobs, _ := v.Q.List(queue.Filter{Kind: queue.KindReconcile}); len(jobs) != 2 || jobs[0].Key != "2002-02-02" {
		t.Fatalf("jobs %+v", jobs)
	}
	if len(v.Logs.Events("reconcile_failed")) == 0 {
		t.Fatal("no reconcile_failed line")
	}
	if _, _, err := v.R.Reconcile(ctx, "03/02/2001"); !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatalf("bad day: %v", err)
	}
}

// TestReconcileJobAndSchedule: the schedule queues yesterday's job once
// the clock passes At, and the queue runs it; an unreachable gateway
// leaves a pending result and the job waiting.
func TestReconcileJobAndSchedule(t *testing.T) {
	now := time.Now().In(gateway.Shanghai)
	fake := clock.NewFake(time.Date(now.Year(), now.Month(), now.Day(), 9, 59, 0, 0, gateway.Shanghai))
	v := mustOpenEnv(t, daily.Options{At: "10:00", Clock: fake})
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	jobs := func() []queue.Job {
		js, err := v.Q.List(queue.Filter{Kind: queue.KindReconcile})
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	// Before At: nothing. (The scheduler sleeps on the fake clock.)
	waitFor(t, "the scheduler to sleep", func() bool { return fake.Waiters() > 0 })
	if js := jobs(); len(js) != 0 {
		t.Fatalf("queued before At: %+v", js)
	}
	fake.Advance(time.Minute)
	waitFor(t, "yesterday's job", func() bool { js := jobs(); return len(js) == 1 && js[0].Key == yesterday })
	// The sandbox has no trades yesterday: unavailable, stored by the job.
	waitFor(t, "the unavailable result", func() bool {
		res, ok, _ := v.R.Result(yesterday)
		return ok && res.State == reconcile.StateUnavailable
	})
	if js := jobs(); js[0].State != queue.StatePending {
		t.Fatalf("job %+v, want pending (retried later)", js[0])
	}
	// A day later the next job comes, once.
	fake.Advance(24 * time.Hour)
	waitFor(t, "the next day's job", func() bool { return len(jobs()) == 2 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
