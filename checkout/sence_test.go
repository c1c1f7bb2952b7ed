package checkout_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// TestSenceNoSurvivesRestart: a code whose decode reached the gateway is
// decoded again after a restart with the same sence_no (the gateway would
// refuse another), and the pay carries it.
func TestSenceNoSurvivesRestart(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	code := NormalCode()
	// The decode takes effect at the gateway, but its replies are lost: the
	// checkout goes back to awaiting_scan (on_decode_unavailable = abort).
	sb.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTwoStageUse}})
	c := env.mustCreate(880)
	env.mustScan(code)
	c = env.waitFor(c.ID, "awaiting_scan", func(c checkout.Checkout) bool { return c.State == checkout.AwaitingScan && c.Error != nil })
	if c.Error.Code != checkout.CodeGatewayUnavailable {
		t.Fatalf("%+v", c.Error)
	}
	first := c.SenceNo
	sb.SetFaults(sandbox.Faults{})

	env = env.Reopen(checkout.Options{})
	got := env.mustScan(code)
	if got.SenceNo != first {
		t.Fatalf("sence_no after restart %q, before %q", got.SenceNo, first)
	}
	c = env.wait(c.ID)
	tr, _ := trade(sb, c.OutTradeNo)
	if c.State != checkout.Paid || tr.SenceNo != first {
		t.Fatalf("%+v, ledger %+v", c, tr)
	}
	env.Close()

	// The code is nowhere in the database file, only its HMAC.
	raw, err := os.ReadFile(env.Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(code)) || bytes.Contains(raw, []byte(code[2:])) {
		t.Fatal("the payment code is stored in the database")
	}
}

// TestSencePurge: entries older than SenceTTL are dropped at start, and a
// code seen after that gets a new sence_no.
func TestSencePurge(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{SenceTTL: 50 * time.Millisecond})
	c := env.mustCreate(100)
	env.mustScan(SandboxCode(scCodeExpired, 0))
	env.waitFor(c.ID, "awaiting_scan", func(c checkout.Checkout) bool { return c.State == checkout.AwaitingScan && c.Error != nil })
	if n := senceEntries(t, env.DB); n != 1 {
		t.Fatalf("%d sence entries", n)
	}
	time.Sleep(60 * time.Millisecond)
	env = env.Reopen(checkout.Options{SenceTTL: 50 * time.Millisecond})
	if n := senceEntries(t, env.DB); n != 0 {
		t.Fatalf("%d sence entries after purge", n)
	}
}

func senceEntries(t *testing.T, db *bolt.DB) int {
	t.Helper()
	n := 0
	err := db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("checkout_sence")).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
