package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway/sandbox"
)

var codeSeq atomic.Int64

func init() { codeSeq.Store(time.Now().UnixNano() % 1e8) }

// normalCode is a fresh ordinary payment code.
func normalCode() string { return fmt.Sprintf("28%016d", codeSeq.Add(1)%1e16) }

// testCode is a fresh sandbox test code of scenario sc (TESTCODES.md).
func testCode(sc int) string {
	return fmt.Sprintf("%s%02d0%05d", sandbox.TestCodeMarker, sc, codeSeq.Add(1)%1e5)
}

func newOrder() string { return fmt.Sprintf("CLI-%d", codeSeq.Add(1)) }

// runMainStdin is runMain with stdin.
func runMainStdin(tb testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Streams{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}}
	code = m.Run(context.Background(), args)
	return code, out.String(), errOut.String()
}

func mustJSON(tb testing.TB, s string, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, s)
	}
}

// Once a code is scanned, pay follows the payment past --wait to its end:
// a buyer who never confirms is cancelled at the decision deadline (2 s in
// this env), and pay reports that, not "still waiting_buyer".
func TestPayFollowsAScannedPaymentPastWait(t *testing.T) {
	en := mustOpenAPIEnv(t)
	code, stdout, stderr := en.run("pay", "--order", newOrder(), "--amount", "4.00", "--code", testCode(2), "--wait", "300ms")
	if code != 1 || !regexpMatch(`state\s+cancelled`, stdout) || strings.Contains(stderr, "is still") {
		t.Fatalf("pay of a never-confirmed payment = %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestPay(t *testing.T) {
	en := mustOpenAPIEnv(t)

	// A code given on the command line: paid, exit 0.
	code, stdout, stderr := en.run("pay", "--order", newOrder(), "--amount", "25.00", "--code", normalCode(), "--operator", "op1")
	if code != 0 || !regexpMatch(`state\s+paid`, stdout) || !regexpMatch(`paid_amount\s+25.00`, stdout) {
		t.Fatalf("pay --code = %d\n%s\n%s", code, stdout, stderr)
	}

	// --json, and the code from stdin (--auth-code -).
	code, stdout, stderr = runMainStdin(t, normalCode()+"\n", "pay", "--config", en.Config, "--json", "--order", newOrder(), "--amount", "3.5", "--auth-code", "-")
	var co checkout.Checkout
	if code != 0 {
		t.Fatalf("pay --json = %d\n%s\n%s", code, stdout, stderr)
	}
	mustJSON(t, stdout, &co)
	if co.State != checkout.Paid || co.Amount != 350 {
		t.Fatalf("pay --json = %+v", co)
	}

	// A declined payment: exit 1 with the gateway's sub_code.
	code, stdout, stderr = en.run("pay", "--order", newOrder(), "--amount", "9.99", "--code", testCode(4))
	if code != 1 || !regexpMatch(`state\s+failed`, stdout) || !strings.Contains(stderr, "ACQ.BUYER_BALANCE_NOT_ENOUGH") {
		t.Fatalf("declined = %d\n%s\n%s", code, stdout, stderr)
	}

	// The cashier scans while pay waits.
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	order := newOrder()
	go func() {
		c, o, e := en.run("pay", "--order", order, "--amount", "1.00", "--wait", "20s")
		done <- result{c, o, e}
	}()
	waitAwaiting(t, en, order)
	if _, err := en.Engine.Scan(context.Background(), normalCode()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != 0 || !regexpMatch(`state\s+paid`, r.stdout) || !strings.Contains(r.stderr, "scan the customer's payment code") {
			t.Fatalf("pay with a scan = %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pay did not return after the scan")
	}

	// Nobody scans: the checkout is cancelled when the wait is over.
	code, stdout, stderr = en.run("pay", "--order", newOrder(), "--amount", "1.00", "--wait", "300ms")
	if code != 1 || !regexpMatch(`state\s+cancelled`, stdout) || !strings.Contains(stderr, "no payment code was scanned") {
		t.Fatalf("no scan = %d\n%s\n%s", code, stdout, stderr)
	}

	// --wait 0: the new checkout, exit 0; a second pay then conflicts.
	order = newOrder()
	code, stdout, _ = en.run("pay", "--order", order, "--amount", "2.00", "--wait", "0")
	if code != 0 || !regexpMatch(`state\s+awaiting_scan`, stdout) {
		t.Fatalf("--wait 0 = %d\n%s", code, stdout)
	}
	code, _, stderr = en.run("pay", "--order", newOrder(), "--amount", "2.00", "--wait", "0")
	if code != 1 || !strings.Contains(stderr, "posagent pay: SCANNER_BUSY:") {
		t.Fatalf("second pay = %d %s", code, stderr)
	}

	// checkouts: list, show, cancel.
	code, stdout, _ = en.run("checkouts")
	if code != 0 || !strings.Contains(stdout, "ORDER") || !strings.Contains(stdout, order) || strings.Count(stdout, "\n") != 7 {
		t.Fatalf("checkouts = %d\n%s", code, stdout)
	}
	code, stdout, _ = en.run("checkouts", "--json", "--state", "awaiting_scan")
	var list api.Items[checkout.Checkout]
	mustJSON(t, stdout, &list)
	if code != 0 || len(list.Items) != 1 || list.Items[0].OrderID != order {
		t.Fatalf("checkouts --json = %d %+v", code, list)
	}
	id := list.Items[0].ID
	code, stdout, _ = en.run("checkouts", id)
	if code != 0 || !regexpMatch(`id\s+`+id, stdout) {
		t.Fatalf("checkouts ID = %d\n%s", code, stdout)
	}
	code, stdout, _ = en.run("checkouts", "--cancel", id)
	if code != 0 || !regexpMatch(`state\s+cancelled`, stdout) {
		t.Fatalf("checkouts --cancel = %d\n%s", code, stdout)
	}
	code, _, stderr = en.run("checkouts", "co_000000000999_XXXX")
	if code != 1 || !strings.Contains(stderr, "NOT_FOUND") {
		t.Fatalf("unknown checkout = %d %s", code, stderr)
	}
	code, stdout, _ = en.run("checkouts", "--state", "needs_attention")
	if code != 0 || strings.TrimSpace(stdout) != "no checkouts" {
		t.Fatalf("empty list = %d %q", code, stdout)
	}
}

// waitAwaiting waits until order has a checkout awaiting a scan.
func waitAwaiting(t *testing.T, en *apiEnv, order string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cs, _ := en.Engine.List(checkout.ListFilter{State: checkout.AwaitingScan})
		if len(cs) == 1 && cs[0].OrderID == order {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("order %s never awaited a scan", order)
}

func TestStatusVerb(t *testing.T) {
	en := mustOpenAPIEnv(t)
	code, stdout, stderr := en.run("status")
	if code != 0 || !regexpMatch(`version\s+test`, stdout) || !regexpMatch(`queue\s+0 pending, 0 dead, 0 failed`, stdout) || !regexpMatch(`checkouts\s+none`, stdout) {
		t.Fatalf("status = %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("status", "--json")
	var st api.Status
	mustJSON(t, stdout, &st)
	if code != 0 || st.Version != "test" || st.Queue == nil || len(st.Checkouts) != len(checkout.States) {
		t.Fatalf("status --json = %d %+v", code, st)
	}
	// A wrong token: exit 1, the daemon's reason.
	dir := t.TempDir()
	tok := filepath.Join(dir, "t")
	os.WriteFile(tok, []byte("wrong-token-wrong-token"), 0o600)
	cfg := writeConfig(t, dir, "[api]\nlisten = '"+strings.TrimPrefix(en.Server.URL, "http://")+"'\ntoken_file = '"+tok+"'\n")
	code, _, stderr = runMain(t, "status", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "UNAUTHORIZED") {
		t.Fatalf("wrong token = %d %s", code, stderr)
	}
}

func TestJobsVerb(t *testing.T) {
	en := mustOpenAPIEnv(t)
	code, stdout, _ := en.run("jobs")
	if code != 0 || strings.TrimSpace(stdout) != "no jobs" {
		t.Fatalf("no jobs = %d %q", code, stdout)
	}
	code, stdout, stderr := en.run("award", "--mobile", "13800000011", "--out-biz-no", "J1")
	if code != 0 {
		t.Fatalf("award = %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("jobs", "--kind", "award_receive")
	if code != 0 || !strings.Contains(stdout, "award_receive") || !strings.Contains(stdout, "J1") || !strings.Contains(stdout, "done") {
		t.Fatalf("jobs = %d\n%s", code, stdout)
	}
	code, stdout, _ = en.run("jobs", "--json", "--state", "done")
	var list api.Items[json.RawMessage]
	mustJSON(t, stdout, &list)
	if code != 0 || len(list.Items) != 1 {
		t.Fatalf("jobs --json = %d %s", code, stdout)
	}
	var j struct {
		ID uint64 `json:"id"`
	}
	mustJSON(t, string(list.Items[0]), &j)
	sid := fmt.Sprint(j.ID)
	code, stdout, _ = en.run("jobs", sid)
	if code != 0 || !regexpMatch(`key\s+J1`, stdout) || !strings.Contains(stdout, "biz_result_code") {
		t.Fatalf("jobs ID = %d\n%s", code, stdout)
	}
	// Retrying a done job is refused by the daemon.
	code, _, stderr = en.run("jobs", "retry", sid)
	if code != 1 || !strings.Contains(stderr, "JOB_STATE") {
		t.Fatalf("retry done = %d %s", code, stderr)
	}
	code, _, stderr = en.run("jobs", "--retry", sid)
	if code != 1 || !strings.Contains(stderr, "JOB_STATE") {
		t.Fatalf("--retry done = %d %s", code, stderr)
	}
	code, stdout, _ = en.run("jobs", "drop", sid)
	if code != 0 || !strings.Contains(stdout, "dropped") {
		t.Fatalf("drop = %d %s", code, stdout)
	}
	code, _, stderr = en.run("jobs", "drop", sid)
	if code != 1 || !strings.Contains(stderr, "NOT_FOUND") {
		t.Fatalf("drop again = %d %s", code, stderr)
	}
	for _, args := range [][]string{
		{"retry"}, {"drop"}, {"retry", "x"}, {"--state", "bogus"}, {"--limit", "0"}, {"--state", "done", "7"}, {"retry", "--drop", "7"},
	} {
		if code, _, stderr := en.run("jobs", args...); code != 2 {
			t.Errorf("jobs %v = %d %s, want 2", args, code, stderr)
		}
	}
}

func TestCouponsVerb(t *testing.T) {
	en := mustOpenAPIEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "coupons.json")
	os.WriteFile(file, []byte(`[
	 {"id":"K1","user_id":"2088000000000002","title":"5 off","kind":"amount_off","value":"5.00","min_spend":"20"},
	 {"id":"K2","user_id":"2088000000000002","title":"ten percent","kind":"percent_off","value":"10","valid_until":"2099-12-31T23:59:59+08:00"}
	]`), 0o644)
	code, stdout, stderr := en.run("coupons", "import", file)
	if code != 0 || !strings.Contains(stdout, "2 created, 0 updated") {
		t.Fatalf("import = %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("coupons", "--import", file, "--json")
	var res checkout.ImportResult
	mustJSON(t, stdout, &res)
	if code != 0 || res.Updated != 2 {
		t.Fatalf("import --json = %d %s", code, stdout)
	}
	code, stdout, _ = en.run("coupons", "list", "--user", "2088000000000002")
	if code != 0 || !regexpMatch(`K1\s+2088000000000002\s+amount_off\s+5.00\s+20.00`, stdout) || !strings.Contains(stdout, "10%") || !strings.Contains(stdout, "available") {
		t.Fatalf("list = %d\n%s", code, stdout)
	}
	code, stdout, _ = en.run("coupons", "--json")
	var list api.Items[checkout.Coupon]
	mustJSON(t, stdout, &list)
	if code != 0 || len(list.Items) != 2 {
		t.Fatalf("list --json = %d %s", code, stdout)
	}
	code, stdout, _ = en.run("coupons", "list", "--user", "2088000000000004")
	if code != 0 || strings.TrimSpace(stdout) != "no coupons" {
		t.Fatalf("empty = %d %q", code, stdout)
	}
	// Import from stdin, with an error the daemon finds.
	code, _, stderr = runMainStdin(t, `[{"id":"K3","user_id":"u","kind":"amount_off","value":"1.001"}]`, "coupons", "--config", en.Config, "import", "-")
	if code != 1 || !strings.Contains(stderr, "BAD_AMOUNT") || !strings.Contains(stderr, "coupons[0].value") {
		t.Fatalf("bad import = %d %s", code, stderr)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"id":"K1"}`), 0o644)
	code, _, stderr = en.run("coupons", "import", bad)
	if code != 1 || !strings.Contains(stderr, "JSON array") {
		t.Fatalf("object file = %d %s", code, stderr)
	}
	code, _, stderr = en.run("coupons", "import", filepath.Join(dir, "missing.json"))
	if code != 1 || !strings.Contains(stderr, "missing.json") {
		t.Fatalf("missing file = %d %s", code, stderr)
	}
	for _, args := range [][]string{{"import"}, {"import", file, "--json"}, {"list", "--import", file}, {"--user", "u", "--import", file}, {"list", "extra"}} {
		if code, _, stderr := en.run("coupons", args...); code != 2 {
			t.Errorf("coupons %v = %d %s, want 2", args, code, stderr)
		}
	}
}

func TestUserVerbs(t *testing.T) {
	en := mustOpenAPIEnv(t)
	code, stdout, stderr := en.run("consult", "--scene", "S1", "--user-id", "2088000000000002")
	if code != 0 || !regexpMatch(`consult_result\s+true`, stdout) || !regexpMatch(`scene\s+S1`, stdout) {
		t.Fatalf("consult = %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("consult", "--json", "--scene", "S1", "--mobile", "13800000001")
	var cr api.ConsultReply
	mustJSON(t, stdout, &cr)
	if code != 0 || cr.ConsultResult {
		t.Fatalf("consult --json = %d %s", code, stdout)
	}
	code, _, stderr = en.run("consult", "--scene", "SANDBOX_SYSTEM_ERROR", "--user-id", "2088000000000002")
	if code != 1 || !strings.Contains(stderr, "SYSTEM_ERROR") {
		t.Fatalf("consult failure = %d %s", code, stderr)
	}

	code, stdout, stderr = en.run("award", "--mobile", "13800000021", "--out-biz-no", "U1", "--out-biz-code", "INV")
	if code != 0 || !regexpMatch(`biz_result_code\s+NEW_AWARD_SUCESS`, stdout) {
		t.Fatalf("award = %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("award", "--json", "--mobile", "13800000021", "--out-biz-no", "U1", "--out-biz-code", "INV")
	var ar api.AwardReply
	mustJSON(t, stdout, &ar)
	if code != 0 || ar.Queued || ar.Result == nil || ar.Result.BizResultCode != "NEW_AWARD_SUCESS" {
		t.Fatalf("award again = %d %s", code, stdout)
	}
	code, _, stderr = en.run("award", "--mobile", "123", "--out-biz-no", "U2")
	if code != 1 || !strings.Contains(stderr, "AWARD_FAILED") {
		t.Fatalf("failed award = %d %s", code, stderr)
	}

	code, stdout, stderr = en.run("agreements", "--user-id", "2088000000000002", "--personal-product-code", "GENERAL_WITHHOLDING_P")
	if code != 0 || !strings.Contains(stdout, "AGREEMENT_NO") || !strings.Contains(stdout, "NORMAL") {
		t.Fatalf("agreements = %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = en.run("agreements", "--json", "--user-id", "2088999999990004", "--personal-product-code", "GENERAL_WITHHOLDING_P")
	if code != 0 || !regexpMatch(`"items":\s*\[\]`, stdout) {
		t.Fatalf("agreements --json = %d %s", code, stdout)
	}
	code, _, stderr = en.run("agreements", "--user-id", "2088999999990001", "--personal-product-code", "GENERAL_WITHHOLDING_P")
	if code != 1 || !strings.Contains(stderr, "USER_NOT_EXIST_ERROR") {
		t.Fatalf("agreements failure = %d %s", code, stderr)
	}
}
