//go:build linux

package e2e_test

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// maskedRE is a payment code as posagent may log it: first 2 and last 4
// characters, the rest starred.
var maskedRE = regexp.MustCompile(`^[0-9]{2}\*+[0-9]{4}$`)

// TestLogs: a store monitors posagent from its log alone. After a morning
// of sales (paid, rejected scan, declined), the log holds no payment code
// and no token, every line about a checkout names it, and the heartbeat
// reports the queue and the gateway.
func TestLogs(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Heartbeat: "300ms"})
	d := env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 5*time.Second)

	var codes []string
	var ids []string
	for i, kind := range []string{"paid", "rejected", "declined"} {
		co := create(t, cl, "L"+string(rune('1'+i)), "10.00")
		ids = append(ids, co.ID)
		switch kind {
		case "paid":
			c := testenv.Code()
			codes = append(codes, c)
			env.Scanner.Scan(t, c)
		case "rejected":
			env.Scanner.Scan(t, testenv.WeChatCode)
			codes = append(codes, testenv.WeChatCode)
			testenv.WaitFor(t, cl, co.ID, 5*time.Second, "rejected", func(c checkout.Checkout) bool { return c.Error != nil })
			c := testenv.Code()
			codes = append(codes, c)
			env.Scanner.Scan(t, c)
		case "declined":
			c := testenv.TestCode(testenv.ScenarioBalanceTooLow, 0)
			codes = append(codes, c)
			env.Scanner.Scan(t, c)
		}
		testenv.WaitFinal(t, cl, co.ID, finalWait)
	}
	// A scan with no checkout waiting is logged too (masked).
	stray := testenv.Code()
	codes = append(codes, stray)
	env.Scanner.Scan(t, stray)

	// At least one heartbeat after all that.
	deadline := time.Now().Add(5 * time.Second)
	for len(env.Events(t, "status")) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := d.Signal(t, syscallSIGTERM, 15*time.Second); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}

	raw := env.RawLog(t)
	tok := env.Token(t)
	if bytes.Contains(raw, []byte(tok)) {
		t.Errorf("the API token appears in the log")
	}
	for _, c := range codes {
		if bytes.Contains(raw, []byte(c)) {
			t.Errorf("payment code %s appears in full in the log", c)
		}
	}

	lines := env.Log(t)
	seen := map[string]map[string]bool{} // checkout_id → events
	var masked int
	for _, l := range lines {
		if l.Has("checkout_id") {
			if l.Str("order_id") == "" || l.Str("event") == "" {
				t.Errorf("checkout line without order_id or event: %v", l)
			}
			id := l.Str("checkout_id")
			if seen[id] == nil {
				seen[id] = map[string]bool{}
			}
			seen[id][l.Str("event")] = true
		}
		if c := l.Str("code"); c != "" {
			if !maskedRE.MatchString(c) {
				t.Errorf("code logged as %q, want it masked (2 digits, stars, 4 digits): %v", c, l)
			}
			masked++
		}
		if l.Str("level") == "" || l.Str("time") == "" || l.Str("message") == "" {
			t.Errorf("line without level, time or message: %v", l)
		}
	}
	if masked < len(codes) {
		t.Errorf("%d lines with a masked code, want one for each of the %d scans at least", masked, len(codes))
	}
	for _, id := range ids {
		if !seen[id]["checkout_created"] {
			t.Errorf("checkout %s: no checkout_created line (events %v)", id, seen[id])
		}
	}
	for _, ev := range []string{"scan_accepted", "scan_rejected", "pay_sent"} {
		found := false
		for _, evs := range seen {
			found = found || evs[ev]
		}
		if !found {
			t.Errorf("no %s line about a checkout", ev)
		}
	}

	hb := env.Events(t, "status")
	if len(hb) == 0 {
		t.Fatalf("no status heartbeat line in the log with heartbeat = 300ms")
	}
	for _, k := range []string{"queue_pending", "gateway_reachable"} {
		if !hb[len(hb)-1].Has(k) {
			t.Errorf("status line without %s: %v", k, hb[len(hb)-1])
		}
	}
	if r, _ := hb[len(hb)-1]["gateway_reachable"].(bool); !r {
		t.Errorf("status line says the gateway is unreachable: %v", hb[len(hb)-1])
	}
}
