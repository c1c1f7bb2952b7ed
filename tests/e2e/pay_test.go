//go:build linux

package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/tests/internal/testenv"
)

// finalWait bounds a long poll for an outcome that needs no deadline.
const finalWait = 15 * time.Second

func amount(tb testing.TB, s string) gateway.Amount {
	tb.Helper()
	a, err := gateway.ParseAmount(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// create starts a checkout and checks the register sees it awaiting a scan.
func create(tb testing.TB, cl *api.Client, order, amt string) checkout.Checkout {
	tb.Helper()
	co, created, err := cl.CreateCheckout(context.Background(), api.CreateCheckoutRequest{
		OrderID: order, Amount: amount(tb, amt), Subject: "Order " + order, OperatorID: "cashier7",
	})
	if err != nil {
		tb.Fatalf("create checkout %s: %v", order, err)
	}
	if !created || co.State != checkout.AwaitingScan || co.ID == "" || co.Amount.String() != amt {
		tb.Fatalf("create checkout %s: created=%v %+v, want a new one awaiting a scan for %s", order, created, co, amt)
	}
	return co
}

// onlyTrade returns the one ledger line of outTradeNo.
func onlyTrade(tb testing.TB, sb *sandbox.Sandbox, outTradeNo string) sandbox.Trade {
	tb.Helper()
	ts := testenv.TradesOf(sb, outTradeNo)
	if len(ts) != 1 {
		tb.Fatalf("ledger has %d trades for out_trade_no %q, want 1: %+v", len(ts), outTradeNo, sb.Trades())
	}
	return ts[0]
}

// mustPaid checks a paid checkout against the gateway's ledger: one trade,
// of the charged amount, to the code's buyer, with the decode's sence_no.
func mustPaid(tb testing.TB, sb *sandbox.Sandbox, c checkout.Checkout, code, charged string) {
	tb.Helper()
	if c.State != checkout.Paid || c.Error != nil {
		tb.Fatalf("checkout %s: %s %+v, want paid with no error", c.ID, c.State, c.Error)
	}
	if c.PaidAmount.String() != charged || c.TradeNo == "" || c.OutTradeNo == "" || c.SenceNo == "" {
		tb.Errorf("paid checkout: paid_amount %s (want %s), trade_no %q, out_trade_no %q, sence_no %q",
			c.PaidAmount, charged, c.TradeNo, c.OutTradeNo, c.SenceNo)
	}
	if want := sandbox.UserIDOf(code); c.UserID != want {
		tb.Errorf("user_id %q, want the code's buyer %q", c.UserID, want)
	}
	t := onlyTrade(tb, sb, c.OutTradeNo)
	if t.Status != "TRADE_SUCCESS" || t.Refunded || t.TotalAmount.String() != charged || t.TradeNo != c.TradeNo {
		tb.Errorf("ledger: %+v, want TRADE_SUCCESS of %s, trade_no %s, not refunded", t, charged, c.TradeNo)
	}
	if t.SenceNo != c.SenceNo || t.BuyerUserID != sandbox.UserIDOf(code) {
		tb.Errorf("ledger sence_no %q buyer %q; checkout sence_no %q, code's buyer %q",
			t.SenceNo, t.BuyerUserID, c.SenceNo, sandbox.UserIDOf(code))
	}
}

func apiStatus(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func apiCode(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// TestPayByScan is the everyday sale: the register creates a checkout, the
// cashier scans the customer's code, the register long-polls to paid.
func TestPayByScan(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	co := create(t, cl, "A1001", "25.00")
	if co.Error != nil || co.PaidAmount != 0 || co.ConsultResult != nil {
		t.Errorf("new checkout: %+v", co)
	}
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	code := testenv.Code()
	env.Scanner.Scan(t, code)
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "25.00")
	if paid.Discount != 0 || paid.CouponID != "" || paid.Refunded {
		t.Errorf("paid without coupons: discount %s coupon %q refunded %v", paid.Discount, paid.CouponID, paid.Refunded)
	}

	// The register retries its request (a timeout on its side): the same
	// order and amount give back the same checkout, nothing new.
	again, created, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "A1001", Amount: amount(t, "25.00"), Subject: "Order A1001"})
	if err != nil || created || again.ID != co.ID || again.State != checkout.Paid {
		t.Errorf("repeat create: created=%v err=%v %+v, want 200 with paid checkout %s", created, err, again, co.ID)
	}
	// The same order for another amount is a mistake of the register.
	_, _, err = cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "A1001", Amount: amount(t, "26.00"), Subject: "Order A1001"})
	if apiStatus(err) != http.StatusConflict {
		t.Errorf("same order, other amount: %v, want 409", err)
	}
	// What a Chinese register sends: non-ASCII subject and operator, and
	// characters that matter in a form body and in the signed string.
	co2, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{
		OrderID: "#A-1002/2?x=1&y", Amount: amount(t, "32"), Subject: `拿铁 & 蛋糕 = 2 items, 100% "big"`, OperatorID: "收银员 7",
	})
	if err != nil {
		t.Fatal(err)
	}
	code2 := testenv.Code()
	env.Scanner.Scan(t, code2)
	paid2 := testenv.WaitFinal(t, cl, co2.ID, finalWait)
	mustPaid(t, env.Sandbox, paid2, code2, "32.00")
	if paid2.Subject != `拿铁 & 蛋糕 = 2 items, 100% "big"` || paid2.OperatorID != "收银员 7" {
		t.Errorf("subject %q operator %q came back changed", paid2.Subject, paid2.OperatorID)
	}

	// The list shows them, newest first.
	list, err := cl.ListCheckouts(ctx, checkout.ListFilter{State: checkout.Paid})
	if err != nil || len(list) != 2 || list[0].ID != co2.ID || list[1].ID != co.ID {
		t.Errorf("list paid: %v %+v", err, list)
	}
	if n := len(env.Sandbox.Trades()); n != 2 {
		t.Errorf("ledger has %d trades, want 2", n)
	}
}

// TestRegisterScannedCode: a register with its own scanner sends the code
// in auth_code; posagent pays it, and a retried request does not pay twice.
func TestRegisterScannedCode(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	code := testenv.Code()
	env.Handed(code)
	req := api.CreateCheckoutRequest{OrderID: "H1", Amount: amount(t, "18.00"), Subject: "Order H1", AuthCode: code}
	co, created, err := cl.CreateCheckout(ctx, req)
	if err != nil || !created || co.State == checkout.AwaitingScan || co.SenceNo == "" {
		t.Fatalf("create with auth_code: created=%v %v %+v, want 201 past awaiting_scan with a sence_no", created, err, co)
	}
	paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
	mustPaid(t, env.Sandbox, paid, code, "18.00")

	again, created, err := cl.CreateCheckout(ctx, req)
	if err != nil || created || again.ID != co.ID || again.State != checkout.Paid {
		t.Errorf("retried create with auth_code: created=%v %v %+v, want 200 with the paid checkout", created, err, again)
	}
	if n := len(env.Sandbox.Trades()); n != 1 {
		t.Errorf("ledger has %d trades after a retried request, want 1", n)
	}
}
