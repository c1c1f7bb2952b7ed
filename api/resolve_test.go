package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// mustNeedAttention pays with sandbox scenario 13 (the cancel is refused)
// while every trade.query reply is lost after the gateway answered it, so
// the checkout ends in needs_attention; with n = 1 the first query made
// the trade paid, with n = 0 it waits for the buyer for ever.
func (en *env) mustNeedAttention(amount gateway.Amount, n int) checkout.Checkout {
	en.tb.Helper()
	ctx := context.Background()
	en.SB.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradeQuery}})
	defer en.SB.SetFaults(sandbox.Faults{})
	code := fmt.Sprintf("%s13%d%05d", sandbox.TestCodeMarker, n, seq.Add(1)%1e5)
	c, _, err := en.Client.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: newOrderID(), Amount: amount, Subject: "Attention", AuthCode: code})
	if err != nil {
		en.tb.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.State != checkout.NeedsAttention {
		if c, err = en.Client.GetCheckout(ctx, c.ID, 10*time.Second); err != nil || time.Now().After(deadline) {
			en.tb.Fatalf("want needs_attention: %+v %v", c, err)
		}
		if c.State.Terminal() && c.State != checkout.NeedsAttention {
			en.tb.Fatalf("want needs_attention: %+v", c)
		}
	}
	return c
}

func TestResolveRoute(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	paid := en.mustNeedAttention(1200, 1)
	waiting := en.mustNeedAttention(300, 0)
	path := func(id string) string { return "/v1/checkouts/" + id + "/resolve" }

	for _, tc := range []struct {
		id, body string
		status   int
		code     string
		msg      string
	}{
		{paid.ID, `{}`, 400, "BAD_REQUEST", "action"},
		{paid.ID, `{"action":"keep"}`, 400, "BAD_REQUEST", "accept, refund or closed"},
		{paid.ID, `{"action":"closed"}`, 409, "INVALID_STATE", "is paid (12.00"},
		{waiting.ID, `{"action":"accept"}`, 409, "INVALID_STATE", "WAIT_BUYER_PAY"},
		{"co_000000009999_ZZZZ", `{"action":"accept"}`, 404, "NOT_FOUND", ""},
	} {
		status, _, m := en.do("POST", path(tc.id), tc.body)
		if status != tc.status || errCode(m) != tc.code || !strings.Contains(errMessage(m), tc.msg) {
			t.Errorf("POST resolve %s %s = %d %v, want %d %s …%s…", tc.id, tc.body, status, m, tc.status, tc.code, tc.msg)
		}
	}
	// refund: refunded in full and cancelled, within the wait.
	c, err := en.Client.Resolve(ctx, paid.ID, api.ResolveRequest{Action: "refund", Note: "customer gone"})
	if err != nil || c.State != checkout.Cancelled || !c.Refunded || c.RefundedAmount != 1200 {
		t.Fatalf("resolve refund: %+v %v", c, err)
	}
	if rfs, _ := en.Client.CheckoutRefunds(ctx, paid.ID); len(rfs) != 1 || rfs[0].State != checkout.RefundRefunded {
		t.Fatalf("refunds %+v", rfs)
	}
	// Not needs_attention any more: another action is refused.
	_, err = en.Client.Resolve(ctx, paid.ID, api.ResolveRequest{Action: "accept"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "INVALID_STATE" {
		t.Fatalf("accept after refund: %v", err)
	}
	// The gateway away: 503, nothing changed.
	en.GW.stop()
	status, _, m := en.do("POST", path(waiting.ID), `{"action":"closed"}`)
	en.GW.start()
	if status != 503 || errCode(m) != "GATEWAY_UNAVAILABLE" {
		t.Fatalf("resolve while offline = %d %v", status, m)
	}
}
