package checkout_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// TestPrune: Prune deletes the paid, failed and cancelled checkouts last
// updated before the cut, with their index entries, in batches; it keeps
// needs_attention, unfinished and recent checkouts and those a job not
// done refers to. List, the order lookup and CountByState agree with what
// is left, and a pruned order can be charged again.
func TestPrune(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	ctx := context.Background()
	create := func(order string, amount gateway.Amount, code string) checkout.Checkout {
		t.Helper()
		c, created, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: order, Amount: amount, Subject: "prune", AuthCode: code})
		if err != nil || !created {
			t.Fatalf("create %s: %+v %v %v", order, c, created, err)
		}
		return c
	}
	end := func(order string, code string, want checkout.State) checkout.Checkout {
		t.Helper()
		c := env.wait(create(order, 500, code).ID)
		if c.State != want {
			t.Fatalf("order %s: %s, want %s (%+v)", order, c.State, want, c.Error)
		}
		return c
	}

	// Before the cut.
	p1 := end("A", NormalCode(), checkout.Paid)
	f1 := end("B", SandboxCode(scBalanceNotEnough, 0), checkout.Failed)
	p2 := end("B", NormalCode(), checkout.Paid) // the order's second attempt
	c1, err := env.E.Cancel(ctx, create("C", 500, "").ID)
	if err != nil || c1.State != checkout.Cancelled {
		t.Fatalf("cancel: %+v %v", c1, err)
	}
	f2 := end("D", SandboxCode(scBalanceNotEnough, 0), checkout.Failed)
	na := end("E", SandboxCode(scFrozen, 0), checkout.NeedsAttention)
	h1 := end("F", NormalCode(), checkout.Paid)
	h2 := end("G", NormalCode(), checkout.Paid)
	// A paid checkout refunded in part: it goes with its refund.
	rk := end("K", NormalCode(), checkout.Paid)
	rf, _, err := env.E.Refund(ctx, rk.ID, checkout.RefundRequest{Amount: 100, RefundID: "RF-K"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if rf, err = env.E.WaitRefund(wctx, rf.ID); err != nil || rf.State != checkout.RefundRefunded {
		t.Fatalf("refund: %+v %v", rf, err)
	}
	if rk, err = env.E.Get(rk.ID); err != nil {
		t.Fatal(err)
	}
	env.waitJobDone(queue.KindTradeRefund, rf.OutRequestNo)
	// Jobs not done that refer to h1 (payload) and h2 (key): no handler
	// runs them, so they stay pending.
	hold1, _, err := env.Q.Enqueue("test_hold", "h1", map[string]string{"checkout_id": h1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Q.Enqueue("test_hold", h2.OutTradeNo, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	// After the cut.
	r1 := end("I", NormalCode(), checkout.Paid)

	countsBefore, err := env.E.CountByState()
	if err != nil {
		t.Fatal(err)
	}
	day := env.E.Today()
	repBefore, err := env.E.DailyReport(day)
	if err != nil {
		t.Fatal(err)
	}
	n, err := env.E.Prune(ctx, cut, 2) // batches of 2, 2, 2, 0
	if err != nil || n != 6 {
		t.Fatalf("Prune = %d, %v; want 6", n, err)
	}
	gone := []checkout.Checkout{p1, f1, p2, c1, f2, rk}
	kept := []checkout.Checkout{na, h1, h2, r1}
	for _, c := range gone {
		if _, err := env.E.Get(c.ID); !errors.Is(err, checkout.ErrNotFound) {
			t.Errorf("pruned %s (%s): %v", c.ID, c.State, err)
		}
	}
	for _, c := range kept {
		if got, err := env.E.Get(c.ID); err != nil || got.State != c.State {
			t.Errorf("kept %s (%s): %+v %v", c.ID, c.State, got, err)
		}
	}

	// Counts dropped by what went, and agree with the state index.
	counts, err := env.E.CountByState()
	if err != nil {
		t.Fatal(err)
	}
	want := map[checkout.State]int{}
	for s, n := range countsBefore {
		want[s] = n
	}
	for _, c := range gone {
		if want[c.State]--; want[c.State] == 0 {
			delete(want, c.State)
		}
	}
	if !mapsEqual(counts, want) {
		t.Fatalf("counts after Prune %v, want %v (before %v)", counts, want, countsBefore)
	}
	for _, s := range checkout.States {
		l, err := env.E.List(checkout.ListFilter{State: s, Limit: checkout.MaxListLimit})
		if err != nil || len(l) != counts[s] {
			t.Errorf("list %s: %d (%v), count %d", s, len(l), err, counts[s])
		}
	}
	all, err := env.E.List(checkout.ListFilter{Limit: checkout.MaxListLimit})
	if wantIDs := []string{r1.ID, h2.ID, h1.ID, na.ID}; err != nil || !slices.Equal(ids(all), wantIDs) {
		t.Fatalf("list after Prune: %v %v, want %v", ids(all), err, wantIDs)
	}
	// The day's report no longer counts what went (p1, p2, rk paid; c1).
	if rep, err := env.E.DailyReport(day); err != nil || env.E.Today() == day && (rep.Paid.Count != repBefore.Paid.Count-3 ||
		rep.Paid.Amount != repBefore.Paid.Amount-1500 || rep.Cancelled.Count != repBefore.Cancelled.Count-1 ||
		rep.NeedsAttention.Count != repBefore.NeedsAttention.Count) {
		t.Errorf("report of %s after Prune: %+v %v; before %+v", day, rep, err, repBefore)
	}
	// The refund went with its checkout, from every index.
	if _, err := env.E.GetRefund(rf.ID); !errors.Is(err, checkout.ErrNotFound) {
		t.Errorf("refund of a pruned checkout: %v", err)
	}
	for _, f := range []checkout.RefundFilter{{}, {Date: rf.CreatedAt.In(gateway.Shanghai).Format(time.DateOnly)}, {State: checkout.RefundRefunded}} {
		if l, err := env.E.ListRefunds(f); err != nil || len(l) != 0 {
			t.Errorf("refunds %+v after Prune: %+v %v", f, l, err)
		}
	}
	if rf2, created, err := env.E.Refund(ctx, r1.ID, checkout.RefundRequest{Amount: 100, RefundID: "RF-K"}); err != nil || !created || rf2.ID == rf.ID {
		t.Errorf("refund_id of a pruned refund again: %+v %v %v", rf2, created, err)
	} else {
		env.waitJobDone(queue.KindTradeRefund, rf2.OutRequestNo)
	}
	for _, order := range []string{"A", "B", "C", "D", "K"} {
		if l, err := env.E.List(checkout.ListFilter{OrderID: order}); err != nil || len(l) != 0 {
			t.Errorf("order %s after Prune: %v %v", order, ids(l), err)
		}
	}
	if l, _ := env.E.List(checkout.ListFilter{OrderID: "F"}); !slices.Equal(ids(l), []string{h1.ID}) {
		t.Errorf("order F: %v", ids(l))
	}

	// Nothing more before the cut; once the job is gone, h1 goes too.
	if n, err := env.E.Prune(ctx, cut, 2); err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v", n, err)
	}
	if err := env.Q.Drop(hold1.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := env.E.Prune(ctx, cut, 0); err != nil || n != 1 {
		t.Fatalf("Prune after the job went = %d, %v; want 1", n, err)
	}
	if _, err := env.E.Get(h1.ID); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("h1 after its job went: %v", err)
	}

	// A pruned order is a new order: its paid checkout is gone, so the
	// same order id gets a new checkout (and charge).
	again := end("A", NormalCode(), checkout.Paid)
	if again.ID == p1.ID {
		t.Fatalf("order A reused pruned checkout %s", p1.ID)
	}
	if l, _ := env.E.List(checkout.ListFilter{OrderID: "A"}); !slices.Equal(ids(l), []string{again.ID}) {
		t.Fatalf("order A: %v", ids(l))
	}

	// A cut after everything: every paid, failed and cancelled checkout
	// goes but h2 (its job); the unfinished one and needs_attention stay.
	a := create("J", 500, "")
	if n, err := env.E.Prune(ctx, time.Now().Add(time.Hour), 0); err != nil || n != 2 {
		t.Fatalf("Prune of everything = %d, %v; want 2 (r1 and the new A)", n, err)
	}
	all, err = env.E.List(checkout.ListFilter{Limit: checkout.MaxListLimit})
	if wantIDs := []string{a.ID, h2.ID, na.ID}; err != nil || !slices.Equal(ids(all), wantIDs) {
		t.Fatalf("list after pruning everything: %v %v, want %v", ids(all), err, wantIDs)
	}
	counts, err = env.E.CountByState()
	if want := map[checkout.State]int{checkout.AwaitingScan: 1, checkout.Paid: 1, checkout.NeedsAttention: 1}; err != nil || !mapsEqual(counts, want) {
		t.Fatalf("counts after pruning everything: %v %v, want %v", counts, err, want)
	}
}

// TestPruneStopsWithCtx: an ended ctx stops Prune before its first batch.
func TestPruneStopsWithCtx(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	env.wait(env.mustCreateWith(NormalCode()).ID)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := env.E.Prune(ctx, time.Now().Add(time.Hour), 10); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune with a cancelled ctx = %d, %v", n, err)
	}
}

func (env *Env) mustCreateWith(code string) checkout.Checkout {
	env.tb.Helper()
	c, _, err := env.E.Create(context.Background(), checkout.CreateRequest{
		OrderID: newOrderID(), Amount: 500, Subject: "test order", AuthCode: code,
	})
	if err != nil {
		env.tb.Fatal(err)
	}
	return c
}

// waitJobDone waits (≤ 10 s) until the job of kind and key is done.
func (env *Env) waitJobDone(kind, key string) {
	env.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := env.Q.Lookup(kind, key)
		if err == nil && j.State == queue.StateDone {
			return
		}
		if time.Now().After(deadline) {
			env.tb.Fatalf("job %s %s not done after 10 s: %+v %v", kind, key, j, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mapsEqual(a, b map[checkout.State]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
