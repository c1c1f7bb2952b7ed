package checkout_test

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// TestRandomized runs many checkouts (CHECKOUT_RANDOM_N, default 500; 100
// under -short) through the engine with a random mix of sandbox scenarios,
// coupons, register cancels and new attempts, while the sandbox drops
// replies after committing, answers 20000, corrupts signatures and adds
// latency. The money invariants must hold at the end (checkLedger), every
// checkout must be terminal, no coupon reserved, no cancel job pending.
// CHECKOUT_RANDOM_SEED replays a run.
func TestRandomized(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 100
	}
	if v, err := strconv.Atoi(os.Getenv("CHECKOUT_RANDOM_N")); err == nil && v > 0 {
		n = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("CHECKOUT_RANDOM_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("CHECKOUT_RANDOM_SEED=%d, %d checkouts", seed, n)
	rng := rand.New(rand.NewPCG(seed, 7))

	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{
		QueryInterval:    10 * time.Millisecond,
		DecisionDeadline: 300 * time.Millisecond,
		ReportCoupons:    true,
	})
	ctx := context.Background()
	type pick struct {
		weight int
		code   func() string
	}
	mix := []pick{
		{700, NormalCode},
		{60, func() string { return SandboxCode(scWaitThenPaid, 1+rng.IntN(3)) }},
		{30, func() string { return SandboxCode(scUserUnAuth, 0) }},
		{20, func() string { return SandboxCode(scIndexNotExist, 0) }},
		{30, func() string { return SandboxCode(scBalanceNotEnough, 0) }},
		{30, func() string { return SandboxCode(scPayUnknownPaid, 0) }},
		{10, func() string { return SandboxCode(scPayUnknownNotFound, 0) }},
		{10, func() string { return SandboxCode(scWaitForever, 0) }},
		{20, func() string { return SandboxCode(scWaitThenClosed, 1+rng.IntN(2)) }},
		{20, func() string { return SandboxCode(scCodeExpired, 0) }},
		{15, func() string { return SandboxCode(scDecodeFailed, 0) }},
		{10, func() string { return SandboxCode(scCancelRetry, 1+rng.IntN(3)) }},
		{5, func() string { return SandboxCode(scFrozen, 1+rng.IntN(2)) }},
		{10, func() string { return SandboxCode(scDecodeUnknown, 0) }},
	}
	total := 0
	for _, p := range mix {
		total += p.weight
	}
	nextCode := func() string {
		x := rng.IntN(total)
		for _, p := range mix {
			if x < p.weight {
				return p.code()
			}
			x -= p.weight
		}
		panic("unreachable")
	}

	sb.SetFaults(sandbox.Faults{
		Latency: time.Millisecond, DropAfterCommit: 0.05, Fail20000: 0.05, BadSign: 0.02, Seed: int64(seed),
	})

	// createWhenFree creates a checkout once the scan slot is free.
	createWhenFree := func(req checkout.CreateRequest) checkout.Checkout {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, _, err := env.E.Create(ctx, req)
			if err == nil {
				return c
			}
			if !errors.Is(err, checkout.ErrConflict) || time.Now().After(deadline) {
				t.Fatalf("create %s: %v", req.OrderID, err)
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	run := func(req checkout.CreateRequest) string {
		c := createWhenFree(req)
		code := nextCode()
		if rng.IntN(3) == 0 {
			// Aim coupons at this buyer.
			now := time.Now()
			cs := []checkout.Coupon{{ID: "R" + strconv.Itoa(rng.IntN(1<<30)), UserID: sandbox.UserIDOf(code), Kind: checkout.AmountOff,
				Value: gateway.Amount(1 + rng.IntN(3000)), MinSpend: gateway.Amount(rng.IntN(2000)), ValidUntil: now.Add(time.Hour)}}
			if rng.IntN(2) == 0 {
				m := gateway.Amount(1 + rng.IntN(500))
				cs = append(cs, checkout.Coupon{ID: "P" + strconv.Itoa(rng.IntN(1<<30)), UserID: sandbox.UserIDOf(code), Kind: checkout.PercentOff,
					Value: gateway.Amount(1 + rng.IntN(100_00)), MaxOff: &m, ValidUntil: now.Add(time.Hour)})
			}
			if _, err := env.E.ImportCoupons(cs); err != nil {
				t.Fatal(err)
			}
		}
		for tries := 0; ; tries++ {
			if _, err := env.E.Scan(ctx, code); err != nil {
				t.Fatalf("scan: %v", err)
			}
			c = env.waitFor(c.ID, "the end of decoding", func(c checkout.Checkout) bool { return c.State != checkout.Decoding })
			if c.State != checkout.AwaitingScan {
				break
			}
			if tries == 2 {
				if _, err := env.E.Cancel(ctx, c.ID); err != nil {
					t.Fatalf("cancel: %v", err)
				}
				break
			}
			code = NormalCode()
		}
		if rng.IntN(40) == 0 {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			if _, err := env.E.Cancel(ctx, c.ID); err != nil && !errors.Is(err, checkout.ErrConflict) {
				t.Fatalf("cancel: %v", err)
			}
		}
		if rng.IntN(20) == 0 {
			// The register repeats itself: same order, same amount.
			again, created, err := env.E.Create(ctx, req)
			if err == nil && created {
				// Allowed only when the first one ended failed or cancelled
				// meanwhile (a cancel above, or the gateway's answer): then
				// the order is free again.
				if cur, _ := env.E.Get(c.ID); cur.State != checkout.Failed && cur.State != checkout.Cancelled {
					t.Fatalf("repeat of %s created %s beside %s (state %s)", req.OrderID, again.ID, c.ID, cur.State)
				}
				if _, err := env.E.Cancel(ctx, again.ID); err != nil { // give the scanner back
					t.Fatalf("cancel: %v", err)
				}
			}
		}
		return c.ID
	}

	var idList []string
	reqs := map[string]checkout.CreateRequest{}
	for i := 0; i < n; i++ {
		req := checkout.CreateRequest{OrderID: newOrderID(), Amount: gateway.Amount(1 + rng.IntN(20000)), Subject: "random"}
		id := run(req)
		idList = append(idList, id)
		reqs[id] = req
	}
	// New attempts for some failed or cancelled orders.
	for _, id := range idList {
		c := env.wait(id)
		if (c.State == checkout.Failed || c.State == checkout.Cancelled) && rng.IntN(2) == 0 {
			idList = append(idList, run(reqs[id]))
		}
	}
	for _, id := range idList {
		env.wait(id)
	}
	sb.SetFaults(sandbox.Faults{})

	// Coupon_report jobs are not run here (no report URL): everything else
	// has settled, so the ledger must agree.
	cs := allCheckouts(t, env.E)
	checkLedger(t, cs, sb.Trades(), true)
	counts := map[checkout.State]int{}
	byID := map[string]checkout.Checkout{}
	for _, c := range cs {
		counts[c.State]++
		byID[c.ID] = c
	}
	t.Logf("states: %v", counts)
	if got, err := env.E.CountByState(); err != nil || !maps.Equal(got, counts) {
		t.Errorf("CountByState %v %v, the records say %v", got, err, counts)
	}
	coupons, err := env.E.ListCoupons("")
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range coupons {
		switch cp.State {
		case checkout.CouponReserved:
			t.Errorf("coupon %s still reserved by %s", cp.ID, cp.CheckoutID)
		case checkout.CouponRedeemed:
			if c := byID[cp.CheckoutID]; c.State != checkout.Paid || c.CouponID != cp.ID {
				t.Errorf("coupon %s redeemed by %s which is %s with coupon %q", cp.ID, c.ID, c.State, c.CouponID)
			}
		}
	}
	for _, c := range cs {
		if c.State == checkout.Paid && c.CouponID != "" {
			if cp, _ := env.E.GetCoupon(c.CouponID); cp.State != checkout.CouponRedeemed || cp.CheckoutID != c.ID {
				t.Errorf("paid %s used coupon %s, which is %s", c.ID, c.CouponID, cp.State)
			}
		}
	}
	// A trade_cancel job records its own outcome just after the checkout's.
	var pending []queue.Job
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
		if pending, err = env.Q.List(queue.Filter{Kind: queue.KindTradeCancel, State: queue.StatePending}); err != nil || len(pending) == 0 {
			break
		}
	}
	if err != nil || len(pending) != 0 {
		t.Errorf("pending cancel jobs: %d %v", len(pending), err)
	}
}
