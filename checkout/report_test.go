package checkout_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// TestDailyReport pays, discounts, fails and cancels checkouts of two
// operators and reads the day's takings from the day index.
func TestDailyReport(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	ctx := context.Background()
	create := func(op string, amount gateway.Amount) checkout.Checkout {
		t.Helper()
		c, _, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: newOrderID(), Amount: amount, Subject: "report", OperatorID: op})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	code := NormalCode()
	now := time.Now()
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-5OFF", UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff,
		Value: 500, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	var ended []checkout.Checkout
	c := create("op1", 2500) // paid 20.00 after a 5.00 coupon
	env.mustScan(code)
	ended = append(ended, env.wait(c.ID))
	c = create("op2", 1000) // paid 10.00
	env.mustScan(NormalCode())
	ended = append(ended, env.wait(c.ID))
	c = create("op2", 700) // failed: not counted
	env.mustScan(SandboxCode(scBalanceNotEnough, 0))
	ended = append(ended, env.wait(c.ID))
	c = create("op1", 300) // cancelled before a scan
	if _, err := env.E.Cancel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	ended = append(ended, env.wait(c.ID))
	states := []checkout.State{checkout.Paid, checkout.Paid, checkout.Failed, checkout.Cancelled}
	day := ended[0].UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly)
	for i, c := range ended {
		if c.State != states[i] {
			t.Fatalf("checkout %d: %s, want %s", i, c.State, states[i])
		}
		if d := c.UpdatedAt.In(gateway.Shanghai).Format(time.DateOnly); d != day {
			t.Skip("the test ran across midnight in Shanghai")
		}
	}
	if ended[0].Discount != 500 || ended[0].PaidAmount != 2000 {
		t.Fatalf("coupon not used: %+v", ended[0])
	}
	if env.E.Today() != day {
		t.Skip("the test ran across midnight in Shanghai")
	}

	rep, err := env.E.DailyReport(day)
	if err != nil {
		t.Fatal(err)
	}
	want := checkout.DailyReport{
		Date: day, StoreID: "S001", TerminalID: "T01",
		Paid: checkout.Total{Count: 2, Amount: 3000}, Discounts: 500, Net: 3000,
		Cancelled: checkout.Count{Count: 1},
		ByOperator: []checkout.OperatorTakings{
			{OperatorID: "op1", Paid: checkout.Total{Count: 1, Amount: 2000}},
			{OperatorID: "op2", Paid: checkout.Total{Count: 1, Amount: 1000}},
		},
	}
	if !sameReport(rep, want) {
		t.Fatalf("report\n got %+v\nwant %+v", rep, want)
	}

	trades, refunds, err := env.E.DayTrades(day)
	if err != nil || len(trades) != 2 || len(refunds) != 0 {
		t.Fatalf("trades %+v refunds %+v: %v", trades, refunds, err)
	}
	if trades[0].CheckoutID != ended[0].ID || trades[0].OutTradeNo != ended[0].OutTradeNo || trades[0].Amount != 2000 || trades[0].Cancelled {
		t.Fatalf("trade %+v of %+v", trades[0], ended[0])
	}

	// Another day is empty, and its lists are not null.
	rep, err = env.E.DailyReport("2000-01-01")
	if err != nil || rep.Paid.Count != 0 || rep.ByOperator == nil || rep.Date != "2000-01-01" {
		t.Fatalf("empty day %+v, %v", rep, err)
	}
	for _, bad := range []string{"", "2026-13-01", "2026-1-1", "yesterday"} {
		if _, err := env.E.DailyReport(bad); !errorIs(err, checkout.ErrBadRequest) {
			t.Errorf("DailyReport(%q) = %v, want ErrBadRequest", bad, err)
		}
	}

	// A reopened engine in another zone rebuilds the index in that zone:
	// the same checkouts, counted on their day there.
	env = env.Reopen(checkout.Options{Location: time.UTC})
	utcDay := ended[0].UpdatedAt.UTC().Format(time.DateOnly)
	rep, err = env.E.DailyReport(utcDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ended {
		if c.UpdatedAt.UTC().Format(time.DateOnly) != utcDay {
			return // the checkouts straddle midnight UTC; the Shanghai part was checked
		}
	}
	if rep.Paid != want.Paid || rep.Cancelled != want.Cancelled {
		t.Fatalf("UTC report %+v", rep)
	}
}

func sameReport(a, b checkout.DailyReport) bool { return reflect.DeepEqual(a, b) }
