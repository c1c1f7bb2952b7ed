package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
)

// mustPaid makes a paid checkout of amount through the API (auth_code).
func (en *env) mustPaid(amount gateway.Amount) checkout.Checkout {
	en.tb.Helper()
	ctx := context.Background()
	c, _, err := en.Client.CreateCheckout(ctx, api.CreateCheckoutRequest{
		OrderID: newOrderID(), Amount: amount, Subject: "Refund test", AuthCode: normalCode(),
	})
	if err != nil {
		en.tb.Fatal(err)
	}
	if c, err = en.Client.GetCheckout(ctx, c.ID, 10*time.Second); err != nil || c.State != checkout.Paid {
		en.tb.Fatalf("pay: %+v %v", c, err)
	}
	return c
}

func TestRefundRoutes(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	c := en.mustPaid(2500)
	base := "/v1/checkouts/" + c.ID + "/refunds"

	// A refund answers at once with its outcome.
	status, hdr, m := en.do("POST", base, `{"amount":"5.00","reason":"returned a mug","refund_id":"RET-1"}`)
	if status != 201 || m["state"] != "refunded" || m["amount"] != "5.00" || m["refund_id"] != "RET-1" || hdr.Get("Location") != base {
		t.Fatalf("POST refund = %d %v %v", status, hdr, m)
	}
	for _, k := range []string{"id", "checkout_id", "refund_id", "out_request_no", "amount", "reason", "state", "created_at", "updated_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("refund JSON lacks %s: %v", k, m)
		}
	}
	if _, ok := m["error"]; ok {
		t.Errorf("error present on a refunded refund: %v", m)
	}
	id := m["id"]
	// The same refund_id again: 200, the same refund.
	status, _, m = en.do("POST", base, `{"amount":"5.00","refund_id":"RET-1"}`)
	if status != 200 || m["id"] != id {
		t.Fatalf("same refund_id = %d %v", status, m)
	}
	// … with another amount: 409.
	if status, _, m = en.do("POST", base, `{"amount":"6.00","refund_id":"RET-1"}`); status != 409 || errCode(m) != "CONFLICT" {
		t.Fatalf("same refund_id, other amount = %d %v", status, m)
	}
	// The checkout shows it.
	if status, _, m = en.do("GET", "/v1/checkouts/"+c.ID, ""); m["refunded_amount"] != "5.00" || m["refunded"] != false {
		t.Fatalf("checkout after refund = %d %v", status, m)
	}
	// More than is left: 409 REFUND_EXCEEDS_PAID.
	if status, _, m = en.do("POST", base, `{"amount":"20.01"}`); status != 409 || errCode(m) != "REFUND_EXCEEDS_PAID" {
		t.Fatalf("over-refund = %d %v", status, m)
	}
	// The rest, without a refund_id: generated.
	status, _, m = en.do("POST", base, `{"amount":"20.00"}`)
	if status != 201 || m["state"] != "refunded" || m["refund_id"] != m["id"] {
		t.Fatalf("second refund = %d %v", status, m)
	}
	if _, _, m = en.do("GET", "/v1/checkouts/"+c.ID, ""); m["refunded_amount"] != "25.00" || m["refunded"] != true || m["state"] != "paid" {
		t.Fatalf("checkout after the full refund: %v", m)
	}
	// Lists.
	if status, _, m = en.do("GET", base, ""); status != 200 || len(m["items"].([]any)) != 2 {
		t.Fatalf("GET refunds = %d %v", status, m)
	}
	today := time.Now().In(gateway.Shanghai).Format(time.DateOnly)
	if status, _, m = en.do("GET", "/v1/refunds?state=refunded&date="+today+"&limit=1", ""); status != 200 || len(m["items"].([]any)) != 1 {
		t.Fatalf("GET /v1/refunds = %d %v", status, m)
	}
	if _, _, m = en.do("GET", "/v1/refunds?state=failed", ""); len(m["items"].([]any)) != 0 {
		t.Fatalf("failed refunds: %v", m)
	}

	// Refusals of the request.
	unpaid := en.mustCreate("3.00")
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v1/checkouts/" + unpaid.ID + "/refunds", `{"amount":"1.00"}`, 409, "INVALID_STATE"},
		{"/v1/checkouts/co_000000009999_ZZZZ/refunds", `{"amount":"1.00"}`, 404, "NOT_FOUND"},
		{base, `{}`, 400, "BAD_AMOUNT"},
		{base, `{"amount":1}`, 400, "BAD_AMOUNT"},
		{base, `{"amount":"0.00"}`, 400, "BAD_AMOUNT"},
		{base, `{"amount":"1.00","extra":1}`, 400, ""},
	} {
		status, _, m := en.do("POST", tc.path, tc.body)
		if status != tc.status || tc.code != "" && errCode(m) != tc.code {
			t.Errorf("POST %s %s = %d %v, want %d %s", tc.path, tc.body, status, m, tc.status, tc.code)
		}
	}
	for _, q := range []string{"state=done", "date=04-12-2026", "limit=0", "status=refunded"} {
		if status, _, m := en.do("GET", "/v1/refunds?"+q, ""); status != 400 {
			t.Errorf("GET /v1/refunds?%s = %d %v", q, status, m)
		}
	}
	if status, _, _ := en.do("GET", "/v1/checkouts/co_000000009999_ZZZZ/refunds", ""); status != 404 {
		t.Errorf("refunds of an unknown checkout = %d", status)
	}
}

// TestRefundPendingWhileOffline: with the gateway down the refund answers
// 201 pending (here without waiting), and it is refunded once the gateway
// is back; the Client's methods see it through.
func TestRefundPendingWhileOffline(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	c := en.mustPaid(1000)
	srv, err := api.New(api.Config{Token: en.Token, Checkouts: en.E, Jobs: en.Q, Users: en.SB.Client(), RefundWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cl := api.NewClient(hs.URL, en.Token)
	ctx := context.Background()

	en.GW.stop()
	rf, created, err := cl.Refund(ctx, c.ID, api.RefundRequest{Amount: 400, Reason: "return"})
	if err != nil || !created || rf.State != checkout.RefundPending || rf.Amount != 400 {
		t.Fatalf("refund while offline: %+v %v %v", rf, created, err)
	}
	en.GW.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rfs, err := cl.CheckoutRefunds(ctx, c.ID)
		if err != nil || len(rfs) != 1 {
			t.Fatalf("%+v %v", rfs, err)
		}
		if rfs[0].State == checkout.RefundRefunded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s 10 s after the gateway came back", rfs[0].State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	list, err := cl.ListRefunds(ctx, checkout.RefundFilter{State: checkout.RefundRefunded})
	if err != nil || len(list) != 1 || list[0].ID != rf.ID {
		t.Fatalf("list %+v %v", list, err)
	}
	// The same refund_id (the generated one) again: not created, refunded.
	again, created, err := cl.Refund(ctx, c.ID, api.RefundRequest{Amount: 400, RefundID: rf.RefundID})
	if err != nil || created || again.ID != rf.ID || again.State != checkout.RefundRefunded {
		t.Fatalf("again: %+v %v %v", again, created, err)
	}
	_, _, err = cl.Refund(ctx, c.ID, api.RefundRequest{Amount: 601})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != checkout.CodeRefundExceedsPaid {
		t.Fatalf("over-refund through the client: %v", err)
	}
	if tr := en.SB.Trades(); len(tr) != 1 || tr[0].RefundedAmount != 400 {
		t.Fatalf("ledger %+v", tr)
	}
}
