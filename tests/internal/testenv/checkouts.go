//go:build linux

package testenv

import (
	"context"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway/sandbox"
)

// WaitFor polls checkout id every 20 ms until ok holds, and fails the test
// after timeout. Use it for non-terminal states; a long poll (?wait=) only
// returns early on a terminal state.
func WaitFor(tb testing.TB, cl *api.Client, id string, timeout time.Duration, what string, ok func(checkout.Checkout) bool) checkout.Checkout {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last checkout.Checkout
	var err error
	for time.Now().Before(deadline) {
		last, err = cl.GetCheckout(context.Background(), id, 0)
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("checkout %s: not %s within %v: last %+v (err %v)", id, what, timeout, last, err)
	return last
}

// WaitState waits for checkout id to be in state s.
func WaitState(tb testing.TB, cl *api.Client, id string, s checkout.State, timeout time.Duration) checkout.Checkout {
	tb.Helper()
	return WaitFor(tb, cl, id, timeout, string(s), func(c checkout.Checkout) bool { return c.State == s })
}

// WaitFinal long-polls checkout id (?wait=, as a register does) until it is
// terminal, and fails the test after timeout.
func WaitFinal(tb testing.TB, cl *api.Client, id string, timeout time.Duration) checkout.Checkout {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			c, _ := cl.GetCheckout(context.Background(), id, 0)
			tb.Fatalf("checkout %s: not final within %v: %+v", id, timeout, c)
		}
		c, err := cl.GetCheckout(context.Background(), id, min(left, 30*time.Second))
		if err != nil {
			tb.Fatalf("GET checkout %s ?wait: %v", id, err)
		}
		if c.State.Terminal() {
			return c
		}
	}
}

// WaitScannerOpen waits until the daemon reports its scanner open, so that
// a scan written now is read.
func WaitScannerOpen(tb testing.TB, cl *api.Client, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var st api.Status
	var err error
	for time.Now().Before(deadline) {
		st, err = cl.Status(context.Background())
		if err == nil && st.Scanner.State == api.ScannerOpen {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("scanner not open within %v: %+v (err %v)", timeout, st.Scanner, err)
}

// TradesOf returns the sandbox ledger lines of outTradeNo.
func TradesOf(sb *sandbox.Sandbox, outTradeNo string) []sandbox.Trade {
	var out []sandbox.Trade
	for _, t := range sb.Trades() {
		if t.OutTradeNo == outTradeNo {
			out = append(out, t)
		}
	}
	return out
}
