package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
	"posagent/reconcile"
	"posagent/reconcile/daily"
)

// takingsEnv is an engine, a queue and a reconciliation runner against an
// in-process sandbox, behind the API with Reports and Reconciler set.
type takingsEnv struct {
	SB     *sandbox.Sandbox
	E      *checkout.Engine
	HTTP   *httptest.Server
	Client *api.Client
	Logs   *logBuf
	do     func(method, path, body string) (int, map[string]any)
}

func mustOpenTakingsEnv(t *testing.T) *takingsEnv {
	t.Helper()
	logs := &logBuf{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gw := sb.Client()
	gw.Timeout = 2 * time.Second
	db, err := bolt.Open(filepath.Join(t.TempDir(), "posagent.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{Logger: &log, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond, JobTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e, err := checkout.New(db, q, gw, checkout.Options{TerminalID: "T01", StoreID: "S001", PayPID: sb.PayPID(),
		QueryInterval: 20 * time.Millisecond, DecisionDeadline: 2 * time.Second, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	r, err := daily.New(daily.Options{DB: db, Queue: q, Journal: e, Gateway: gw, Prefix: "T01_", Logger: &log})
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
	token := "test-token-0123456789abcdef"
	srv, err := api.New(api.Config{Token: token, Checkouts: e, Jobs: q, Users: gw, Logger: &log, Reports: e, Reconciler: r})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		e.Close()
		stop()
		<-qdone
		db.Close()
	})
	en := &env{tb: t, HTTP: hs, Token: token}
	return &takingsEnv{SB: sb, E: e, HTTP: hs, Client: api.NewClient(hs.URL, token), Logs: logs,
		do: func(method, path, body string) (int, map[string]any) {
			t.Helper()
			status, _, m := en.do(method, path, body)
			return status, m
		}}
}

var takingsSeq = time.Now().UnixNano() % 1e9

func (v *takingsEnv) mustPay(t *testing.T, op string, amount gateway.Amount) checkout.Checkout {
	t.Helper()
	ctx := context.Background()
	takingsSeq++
	c, _, err := v.E.Create(ctx, checkout.CreateRequest{OrderID: fmt.Sprintf("R-%d", takingsSeq), Amount: amount, Subject: "x", OperatorID: op})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.E.Scan(ctx, fmt.Sprintf("28%016d", takingsSeq)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c, err = v.E.Wait(wctx, c.ID); err != nil || c.State != checkout.Paid {
		t.Fatalf("pay: %+v %v", c, err)
	}
	return c
}

func TestDailyReportRoute(t *testing.T) {
	v := mustOpenTakingsEnv(t)
	a := v.mustPay(t, "op1", 2500)
	v.mustPay(t, "op2", 1000)
	day := a.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	if day != v.E.Today() {
		t.Skip("the test ran across midnight in Shanghai")
	}
	ctx := context.Background()
	for _, d := range []string{day, ""} { // "": today
		rep, err := v.Client.DailyReport(ctx, d)
		if err != nil || rep.Date != day || rep.Paid != (checkout.Total{Count: 2, Amount: 3500}) || rep.Net != 3500 ||
			len(rep.ByOperator) != 2 || rep.ByOperator[1].OperatorID != "op2" || rep.TerminalID != "T01" {
			t.Fatalf("report(%q): %+v, %v", d, rep, err)
		}
	}
	status, m := v.do("GET", "/v1/reports/daily?date="+day, "")
	paid, _ := m["paid"].(map[string]any)
	if status != 200 || paid["amount"] != "35.00" || m["discounts"] != "0.00" || m["net"] != "35.00" {
		t.Fatalf("%d %v", status, m)
	}
	if status, m := v.do("GET", "/v1/reports/daily?date=31-01-2026", ""); status != 400 || errCode(m) != api.CodeBadRequest {
		t.Fatalf("bad date: %d %v", status, m)
	}
}

func TestReconciliationRoutes(t *testing.T) {
	v := mustOpenTakingsEnv(t)
	a := v.mustPay(t, "op1", 2500)
	b := v.mustPay(t, "op1", 1200)
	day := a.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	if b.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly) != day {
		t.Skip("the test ran across midnight in Shanghai")
	}
	ctx := context.Background()
	var ae *api.Error
	if _, err := v.Client.Reconciliation(ctx, day); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("never run: %v", err)
	}
	res, queued, err := v.Client.Reconcile(ctx, day)
	if err != nil || queued || res.State != reconcile.StateMatched || res.Matched.Count != 2 {
		t.Fatalf("matched: %+v %v %v", res, queued, err)
	}
	// The bill says 11.00 for b: mismatched, in the API, and in the log.
	if err := v.SB.AddBillRows([]sandbox.BillRow{{Action: "alter", Date: day, OutTradeNo: b.OutTradeNo, Amount: "11.00"}}); err != nil {
		t.Fatal(err)
	}
	status, m := v.do("POST", "/v1/reconciliations", `{"date":"`+day+`"}`)
	if status != 200 || m["state"] != "mismatched" {
		t.Fatalf("%d %v", status, m)
	}
	got, err := v.Client.Reconciliation(ctx, day)
	if err != nil || got.State != reconcile.StateMismatched || len(got.AmountMismatch) != 1 ||
		got.AmountMismatch[0].CheckoutID != b.ID || got.AmountMismatch[0].Bill != 1100 || len(got.MissingInBill) != 0 {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if lines := v.Logs.Events("reconcile_mismatch"); len(lines) != 1 || lines[0]["level"] != "error" {
		t.Fatalf("log: %v", lines)
	}
	// A day whose bill is not there yet: 202 unavailable; a long past day
	// without trades or a bill: 200 unavailable, for good.
	tomorrow := time.Now().In(gateway.Shanghai).AddDate(0, 0, 1).Format(time.DateOnly)
	res, queued, err = v.Client.Reconcile(ctx, tomorrow)
	if err != nil || !queued || res.State != reconcile.StateUnavailable {
		t.Fatalf("unavailable: %+v %v %v", res, queued, err)
	}
	res, queued, err = v.Client.Reconcile(ctx, "2001-02-03")
	if err != nil || queued || res.State != reconcile.StateUnavailable {
		t.Fatalf("unavailable for good: %+v %v %v", res, queued, err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/reconciliations", `{}`},
		{"POST", "/v1/reconciliations", `{"date":"yesterday"}`},
		{"GET", "/v1/reconciliations/2026-13-45", ""},
	} {
		if status, m := v.do(c.method, c.path, c.body); status != 400 {
			t.Errorf("%s %s %s: %d %v", c.method, c.path, c.body, status, m)
		}
	}
}
