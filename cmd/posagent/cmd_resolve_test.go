package main

import (
	"strings"
	"testing"

	"posagent/checkout"
)

func TestResolveVerb(t *testing.T) {
	en := mustOpenAPIEnv(t)
	// Sandbox scenario 13: the buyer never confirms and the cancel is
	// refused: needs_attention at the decision deadline (2 s here).
	code, stdout, stderr := en.run("pay", "--json", "--order", newOrder(), "--amount", "4.00", "--code", testCode(13), "--wait", "0")
	var co checkout.Checkout
	mustJSON(t, stdout, &co)
	if code != 0 {
		t.Fatalf("pay = %d %s", code, stderr)
	}
	code, stdout, stderr = en.run("checkouts", "--json", "--wait", "20s", co.ID)
	mustJSON(t, stdout, &co)
	if code != 0 || co.State != checkout.NeedsAttention {
		t.Fatalf("checkouts --wait = %d %+v %s", code, co, stderr)
	}
	// Alipay says the buyer has not paid: accept and closed are refused,
	// saying so; exit 1.
	for _, action := range []string{"accept", "closed"} {
		code, _, stderr = en.run("resolve", co.ID, "--action", action, "--note", "looked at it")
		if code != 1 || !strings.Contains(stderr, "INVALID_STATE") || !strings.Contains(stderr, "WAIT_BUYER_PAY") {
			t.Errorf("resolve --action %s = %d %s", action, code, stderr)
		}
	}
	// A paid checkout is not for resolve.
	code, stdout, _ = en.run("pay", "--json", "--order", newOrder(), "--amount", "2.00", "--code", normalCode())
	mustJSON(t, stdout, &co)
	if code, _, stderr := en.run("resolve", "--action", "accept", co.ID); code != 1 || !strings.Contains(stderr, "INVALID_STATE") {
		t.Errorf("resolve of a paid checkout = %d %s", code, stderr)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"resolve", "--action", "accept"},
		{"resolve", co.ID},
		{"resolve", co.ID, "--action", "keep"},
		{"resolve", co.ID, "--action", "accept", "other"},
	} {
		if code, _, stderr := en.run(args[0], args[1:]...); code != 2 {
			t.Errorf("%v = %d %s", args, code, stderr)
		}
	}
	if code, _, stderr := runMain(t, "resolve", "-h"); code != 0 || !strings.Contains(stderr, "Usage: posagent resolve") || !strings.Contains(stderr, "-config FILE") {
		t.Errorf("resolve -h = %d\n%s", code, stderr)
	}
}
