package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/reconcile"
)

func TestDayBillAgainstTheSandbox(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gw := s.Client() // in process: the bill comes through its transport too
	if _, err := gw.TradePay(ctx, gateway.TradePayRequest{OutTradeNo: "T01_1", AuthCode: "281234567890123456", Subject: "x", TotalAmount: 2500, TerminalID: "T01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.TradePay(ctx, gateway.TradePayRequest{OutTradeNo: "T02_1", AuthCode: "281234567890123457", Subject: "x", TotalAmount: 100, TerminalID: "T02"}); err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(gateway.Shanghai).Format(time.DateOnly)
	rows, err := reconcile.DayBill(ctx, gw, today, reconcile.Options{Prefix: "T01_"}, 0)
	if err != nil || len(rows) != 1 || rows[0].OutTradeNo != "T01_1" || rows[0].Amount != 2500 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	res := reconcile.Compare(today, rows, []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_1", Amount: 2500}}, nil)
	if res.State != reconcile.StateMatched {
		t.Fatalf("%+v", res)
	}

	_, err = reconcile.DayBill(ctx, gw, "2000-01-01", reconcile.Options{}, 0)
	if !errors.Is(err, reconcile.ErrBillNotExist) || gateway.SubCodeOf(err) != gateway.SubBillNotExist {
		t.Fatalf("err = %v, want ErrBillNotExist", err)
	}
	if u := reconcile.Unavailable("2000-01-01"); u.State != reconcile.StateUnavailable || u.MissingInBill == nil {
		t.Fatalf("%+v", u)
	}

	// A gateway that cannot be reached is unreachability, as for any call.
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	gw = s.Client()
	s.Close()
	_, err = reconcile.DayBill(ctx, gw, today, reconcile.Options{}, 0)
	if !gateway.IsUnreachable(err) {
		t.Fatalf("err = %v, want unreachable", err)
	}
}
