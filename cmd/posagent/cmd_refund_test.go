package main

import (
	"strings"
	"testing"

	"posagent/checkout"
)

func TestRefundVerb(t *testing.T) {
	en := mustOpenAPIEnv(t)
	code, stdout, stderr := en.run("pay", "--json", "--order", newOrder(), "--amount", "25.00", "--code", normalCode())
	var co checkout.Checkout
	mustJSON(t, stdout, &co)
	if code != 0 || co.State != checkout.Paid {
		t.Fatalf("pay = %d %+v %s", code, co, stderr)
	}

	// The checkout first, as SPEC §8 writes it: refunded, exit 0.
	code, stdout, stderr = en.run("refund", co.ID, "--amount", "5.00", "--reason", "returned a mug", "--refund-id", "RET-1")
	if code != 0 || !regexpMatch(`state\s+refunded`, stdout) || !regexpMatch(`amount\s+5.00`, stdout) || !regexpMatch(`refund_id\s+RET-1`, stdout) {
		t.Fatalf("refund = %d\n%s\n%s", code, stdout, stderr)
	}
	// The same refund again: shown, not made twice.
	code, stdout, stderr = en.run("refund", "--json", "--amount", "5.00", "--refund-id", "RET-1", co.ID)
	var rf checkout.Refund
	mustJSON(t, stdout, &rf)
	if code != 0 || rf.State != checkout.RefundRefunded || rf.RefundID != "RET-1" || !strings.Contains(stderr, "already exists") {
		t.Fatalf("refund again = %d %+v %s", code, rf, stderr)
	}
	// More than is left: exit 1 with the code.
	code, _, stderr = en.run("refund", co.ID, "--amount", "20.01")
	if code != 1 || !strings.Contains(stderr, "REFUND_EXCEEDS_PAID") {
		t.Fatalf("over-refund = %d %s", code, stderr)
	}
	// checkouts shows refunded_amount, in the list and with the refunds.
	code, stdout, _ = en.run("checkouts")
	if code != 0 || !strings.Contains(stdout, "REFUNDED") || !regexpMatch(`paid\s+25.00\s+25.00\s+5.00`, stdout) {
		t.Fatalf("checkouts = %d\n%s", code, stdout)
	}
	code, stdout, _ = en.run("checkouts", co.ID)
	if code != 0 || !regexpMatch(`refunded_amount\s+5.00`, stdout) || !regexpMatch(`RET-1\s+refunded\s+5.00`, stdout) {
		t.Fatalf("checkouts ID = %d\n%s", code, stdout)
	}

	// A refusal by Alipay (sandbox scenario 18: seller balance too low):
	// failed, exit 1 with the sub_code.
	code, stdout, _ = en.run("pay", "--json", "--order", newOrder(), "--amount", "3.00", "--code", testCode(18))
	mustJSON(t, stdout, &co)
	if code != 0 {
		t.Fatalf("pay 18 = %d", code)
	}
	code, stdout, stderr = en.run("refund", co.ID, "--amount", "3.00")
	if code != 1 || !regexpMatch(`state\s+failed`, stdout) || !strings.Contains(stderr, "ACQ.SELLER_BALANCE_NOT_ENOUGH") {
		t.Fatalf("refused refund = %d\n%s\n%s", code, stdout, stderr)
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"refund", "--amount", "1.00"},
		{"refund", co.ID},
		{"refund", co.ID, "--amount", "0"},
		{"refund", co.ID, "--amount", "1.001"},
		{"refund", co.ID, "--amount", "1.00", "other"},
	} {
		if code, _, stderr := en.run(args[0], args[1:]...); code != 2 {
			t.Errorf("%v = %d %s", args, code, stderr)
		}
	}
	if code, _, stderr := runMain(t, "refund", "-h"); code != 0 || !strings.Contains(stderr, "Usage: posagent refund") || !strings.Contains(stderr, "-config FILE") {
		t.Errorf("refund -h = %d\n%s", code, stderr)
	}
}
