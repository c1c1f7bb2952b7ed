package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
	"posagent/reconcile"
	"posagent/reconcile/daily"
)

// mustOpenTakingsEnv is mustOpenAPIEnv with reports and reconciliations:
// an engine, a queue and a runner on a sandbox, behind the API.
func mustOpenTakingsEnv(tb testing.TB) (*apiEnv, *sandbox.Sandbox) {
	tb.Helper()
	dir := tb.TempDir()
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	gw := sb.Client()
	gw.Timeout = 2 * time.Second
	db, err := bolt.Open(filepath.Join(dir, "posagent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := checkout.New(db, q, gw, checkout.Options{TerminalID: "T01", StoreID: "S001", PayPID: sb.PayPID(),
		QueryInterval: 20 * time.Millisecond, DecisionDeadline: 2 * time.Second, DrainTimeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := daily.New(daily.Options{DB: db, Queue: q, Journal: e, Gateway: gw, Prefix: "T01_"})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx)
	}()
	if err := e.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	srv, err := api.New(api.Config{Token: testToken, Checkouts: e, Jobs: q, Users: gw, Version: "test", Reports: e, Reconciler: r})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		hs.Close()
		e.Close()
		stop()
		<-done
		db.Close()
	})
	tokenFile := filepath.Join(dir, "api.token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := writeConfig(tb, dir, "[api]\nlisten = '"+strings.TrimPrefix(hs.URL, "http://")+"'\ntoken_file = '"+tokenFile+"'\n")
	return &apiEnv{tb: tb, Engine: e, Queue: q, Server: hs, Config: cfg, Token: testToken}, sb
}

func (en *apiEnv) mustPay(op string, amount gateway.Amount) checkout.Checkout {
	en.tb.Helper()
	ctx := context.Background()
	c, _, err := en.Engine.Create(ctx, checkout.CreateRequest{OrderID: newOrder(), Amount: amount, Subject: "x", OperatorID: op})
	if err != nil {
		en.tb.Fatal(err)
	}
	if _, err := en.Engine.Scan(ctx, normalCode()); err != nil {
		en.tb.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c, err = en.Engine.Wait(wctx, c.ID); err != nil || c.State != checkout.Paid {
		en.tb.Fatalf("pay: %+v %v", c, err)
	}
	return c
}

func TestReportAndReconcileVerbs(t *testing.T) {
	en, sb := mustOpenTakingsEnv(t)
	a := en.mustPay("alice", 2500)
	b := en.mustPay("bob", 1000)
	day := a.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	if b.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly) != day {
		t.Skip("the test ran across midnight in Shanghai")
	}

	code, stdout, stderr := en.run("report", "--date", day)
	if code != 0 || !regexpMatch(`paid\s+2\s+35\.00`, stdout) || !regexpMatch(`net\s+-\s+35\.00`, stdout) || !regexpMatch(`bob\s+1\s+10\.00`, stdout) {
		t.Fatalf("report = %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("report", "--date", day, "--json")
	var rep checkout.DailyReport
	mustJSON(t, stdout, &rep)
	if code != 0 || rep.Paid.Amount != 3500 || len(rep.ByOperator) != 2 {
		t.Fatalf("report --json = %d %+v", code, rep)
	}
	if code, _, stderr := en.run("report", "--date", "tomorrow"); code != 2 || !strings.Contains(stderr, "--date") {
		t.Fatalf("bad --date = %d %s", code, stderr)
	}

	code, stdout, stderr = en.run("reconcile", "--date", day)
	if code != 0 || !strings.Contains(stdout, day+": matched") || !strings.Contains(stdout, "matched: 2 trades, 35.00") {
		t.Fatalf("reconcile = %d\n%s\n%s", code, stdout, stderr)
	}
	if err := sb.AddBillRows([]sandbox.BillRow{{Action: "alter", Date: day, OutTradeNo: b.OutTradeNo, Amount: "9.00"}}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = en.run("reconcile", "--date", day)
	if code != 1 || !strings.Contains(stdout, "mismatched") || !regexpMatch(`amount differs\s+`+b.ID+`\s+`+b.OutTradeNo+`\s+10\.00\s+9\.00`, stdout) ||
		!strings.Contains(stderr, "mismatched (1 differences)") {
		t.Fatalf("mismatched = %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("reconcile", "--date", day, "--show", "--json")
	var res reconcile.Result
	mustJSON(t, stdout, &res)
	if code != 1 || res.State != reconcile.StateMismatched || len(res.AmountMismatch) != 1 {
		t.Fatalf("--show --json = %d %+v", code, res)
	}
	code, stdout, stderr = en.run("reconcile", "--date", "2001-02-03")
	if code != 1 || !strings.Contains(stdout, "unavailable") || !strings.Contains(stderr, "no bill for 2001-02-03 and posagent recorded no trades") {
		t.Fatalf("unavailable = %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := en.run("reconcile", "--date", "2001-02-04", "--show"); code != 1 || !strings.Contains(stderr, "never reconciled") {
		t.Fatalf("never run = %d %s", code, stderr)
	}
}

// The daemon wires it all: a paid checkout is in today's report, today
// reconciles matched against the embedded sandbox, and the last result
// shows in /v1/status, posagent status and /metrics.
func TestDaemonReportsAndReconciles(t *testing.T) {
	dir := t.TempDir()
	d := mustStartDaemonIn(t, dir)
	id := d.pay(t, 1234)
	ctx := context.Background()
	co, err := d.Client.GetCheckout(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	day := co.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	rep, err := d.Client.DailyReport(ctx, day)
	if err != nil || rep.Paid != (checkout.Total{Count: 1, Amount: 1234}) {
		t.Fatalf("report %+v, %v", rep, err)
	}
	code, stdout, stderr := runMain(t, "reconcile", "--config", d.Config, "--date", day)
	if code != 0 || !strings.Contains(stdout, "matched: 1 trades, 12.34") {
		t.Fatalf("reconcile = %d\n%s\n%s", code, stdout, stderr)
	}
	st, err := d.Client.Status(ctx)
	if err != nil || st.Reconciliation == nil || st.Reconciliation.Date != day || st.Reconciliation.State != reconcile.StateMatched {
		t.Fatalf("status %+v, %v", st.Reconciliation, err)
	}
	code, stdout, _ = runMain(t, "status", "--config", d.Config)
	if code != 0 || !regexpMatch(`reconciliation\s+`+day+` matched, checked`, stdout) {
		t.Fatalf("status = %d\n%s", code, stdout)
	}
	req, _ := http.NewRequest("GET", d.Client.BaseURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+d.Client.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexpMatch(`(?m)^posagent_reconcile_mismatches 0$`, string(body)) {
		t.Fatalf("metrics:\n%s", body)
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("posagent run exited %d:\n%s", code, d.Stderr)
	}
}
