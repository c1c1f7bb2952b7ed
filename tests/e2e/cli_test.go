//go:build linux

package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

const cliTimeout = 30 * time.Second

// TestCLI: the operator verbs against a running daemon, with the exit
// statuses scripts rely on (0 ok, 1 failure, 2 bad usage).
func TestCLI(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	d := env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	if r := env.CLI(t, cliTimeout, "", "status"); r.Code != 0 || !strings.Contains(r.Stdout, "open") {
		t.Errorf("posagent status: %s\nwant exit 0 and the scanner shown open", r)
	}
	r := env.CLI(t, cliTimeout, "", "status", "--json")
	var st api.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); r.Code != 0 || err != nil || st.Scanner.State != api.ScannerOpen || st.Gateway.Mode != api.ModeLive {
		t.Errorf("posagent status --json: %v %+v\n%s", err, st, r)
	}

	// posagent pay waits for the scan, and exits 0 once paid.
	type result struct {
		testenv.CLIResult
		err error
	}
	payDone := make(chan result, 1)
	go func() {
		r, err := env.RunCLI(cliTimeout, "", "pay", "--order", "P1", "--amount", "12.34", "--wait", "20s", "--json")
		payDone <- result{r, err}
	}()
	var pending checkout.Checkout
	deadline := time.Now().Add(10 * time.Second)
	for pending.ID == "" && time.Now().Before(deadline) {
		cs, _ := cl.ListCheckouts(context.Background(), checkout.ListFilter{State: checkout.AwaitingScan})
		for _, c := range cs {
			if c.OrderID == "P1" {
				pending = c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pending.ID == "" {
		t.Fatal("posagent pay created no checkout awaiting a scan within 10s")
	}
	code := testenv.Code()
	env.Scanner.Scan(t, code)
	res := <-payDone
	if res.err != nil {
		t.Fatal(res.err)
	}
	pr := res.CLIResult
	var paid checkout.Checkout
	if err := json.Unmarshal([]byte(pr.Stdout), &paid); pr.Code != 0 || err != nil || paid.State != checkout.Paid || paid.PaidAmount.String() != "12.34" {
		t.Errorf("posagent pay: %v %+v\n%s\nwant exit 0 and the paid checkout", err, paid, pr)
	}
	mustPaid(t, env.Sandbox, paid, code, "12.34")

	// A declined code given on stdin: exit 1 with the gateway's reason.
	declined := testenv.TestCode(testenv.ScenarioBalanceTooLow, 0)
	env.Handed(declined)
	r = env.CLI(t, cliTimeout, declined+"\n", "pay", "--order", "P2", "--amount", "5.00", "--code", "-")
	if r.Code != 1 || !strings.Contains(r.Stdout+r.Stderr, "ACQ.BUYER_BALANCE_NOT_ENOUGH") {
		t.Errorf("posagent pay, declined: %s\nwant exit 1 naming ACQ.BUYER_BALANCE_NOT_ENOUGH", r)
	}

	// Nobody scans: pay gives the scanner back (cancels) and exits 1.
	r = env.CLI(t, cliTimeout, "", "pay", "--order", "P3", "--amount", "7.00", "--wait", "1s")
	if r.Code != 1 || !strings.Contains(r.Stdout+r.Stderr, "cancelled") {
		t.Errorf("posagent pay, no scan: %s\nwant exit 1, cancelled", r)
	}

	r = env.CLI(t, cliTimeout, "", "checkouts")
	if r.Code != 0 || !strings.Contains(r.Stdout, "P1") || !strings.Contains(r.Stdout, "P2") || !strings.Contains(r.Stdout, "P3") {
		t.Errorf("posagent checkouts: %s\nwant exit 0 listing P1, P2, P3", r)
	}
	r = env.CLI(t, cliTimeout, "", "checkouts", "--json", "--state", "paid")
	var list api.Items[checkout.Checkout]
	if err := json.Unmarshal([]byte(r.Stdout), &list); r.Code != 0 || err != nil || len(list.Items) != 1 || list.Items[0].OrderID != "P1" {
		t.Errorf("posagent checkouts --state paid --json: %v %+v\n%s", err, list, r)
	}
	r = env.CLI(t, cliTimeout, "", "checkouts", "--wait", "2s", paid.ID)
	if r.Code != 0 || !strings.Contains(r.Stdout, "paid") {
		t.Errorf("posagent checkouts ID: %s", r)
	}

	for _, bad := range [][]string{
		{"pay", "--order", "P4", "--amount", "1.234"},
		{"pay", "--amount", "1.00"},
		{"checkouts", "--state", "done"},
		{"checkouts", "--wait", "2m", paid.ID},
		{"status", "extra"},
	} {
		if r := env.CLI(t, cliTimeout, "", bad[0], bad[1:]...); r.Code != 2 || r.Stderr == "" {
			t.Errorf("posagent %s: %s\nwant exit 2 with a message", strings.Join(bad, " "), r)
		}
	}
	// The operator abandons a checkout nobody will scan.
	stuck := create(t, cl, "P5", "2.00")
	if r := env.CLI(t, cliTimeout, "", "checkouts", "--cancel", stuck.ID); r.Code != 0 || !strings.Contains(r.Stdout, "cancelled") {
		t.Errorf("posagent checkouts --cancel: %s\nwant exit 0, cancelled", r)
	}
	if r := env.CLI(t, cliTimeout, "", "checkouts", "nosuch"); r.Code != 1 || r.Stderr == "" {
		t.Errorf("posagent checkouts nosuch: %s\nwant exit 1", r)
	}

	// The daemon is down: the operator is told so, exit 1.
	if code, _ := d.Signal(t, syscallSIGTERM, 15*time.Second); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	r = env.CLI(t, cliTimeout, "", "status")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("posagent status with the daemon stopped: %s\nwant exit 1, not running", r)
	}
}
