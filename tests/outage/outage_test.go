package outage_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/probe"
	"posagent/queue"
)

// variant is one outage length.
type variant struct {
	failure linkFailure   // how the links fail
	outage  time.Duration // from the cut to the return
	fine    time.Duration // its first part, walked in 1 s steps
	step    time.Duration // the step after that
	maxAge  time.Duration // queue max_age
}

func TestOutage(t *testing.T) {
	t.Run("15m", func(t *testing.T) {
		runOutage(t, variant{failure: refuse, outage: 15 * time.Minute, fine: 15 * time.Minute, step: time.Second, maxAge: 72 * time.Hour})
	})
	t.Run("15m_blackhole", func(t *testing.T) {
		runOutage(t, variant{failure: blackhole, outage: 15 * time.Minute, fine: 15 * time.Minute, step: time.Second, maxAge: 72 * time.Hour})
	})
	t.Run("long", func(t *testing.T) {
		v := variant{
			failure: refuse,
			outage:  envDuration(t, "POSAGENT_OUTAGE", 48*time.Hour),
			fine:    2 * time.Minute, // past every decision deadline
			step:    envDuration(t, "POSAGENT_OUTAGE_STEP", 10*time.Minute),
			maxAge:  72 * time.Hour,
		}
		v.fine = min(v.fine, v.outage)
		v.maxAge = max(v.maxAge, v.outage+time.Hour)
		runOutage(t, v)
	})
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		t.Fatalf("%s=%q: want a Go duration of at least 1s", name, s)
	}
	return d
}

// The sandbox scenarios used (gateway/sandbox/TESTCODES.md).
const (
	scWaitThenPaid = 1 // 10003, TRADE_SUCCESS at the N-th query
	scWaitForever  = 2 // 10003, WAIT_BUYER_PAY forever
)

// Award users: odd last digit = NEW (one award), even = OLD (three).
const (
	oldUser  = "2088000000000002"
	newUserA = "13800000001"      // mobile
	newUserB = "2088000000000013" // user_id
	newUserC = "13900000003"      // mobile
)

// The checkouts of the scenario, in the order they start.
var orders = []struct {
	name, amount string
	code         string
	coupon       *checkout.Coupon // for the code's user
}{
	{name: "C1", amount: "25.00", code: ordinaryCode(1), coupon: amountOff("5.00")},                // paid before; report delivered
	{name: "C2", amount: "30.00", code: testCode(scWaitThenPaid, 5, 2), coupon: amountOff("5.00")}, // buyer confirming; paid at the 5th query
	{name: "C3", amount: "12.34", code: testCode(scWaitForever, 0, 3)},                             // buyer confirming forever; no coupon
	{name: "C7", amount: "40.00", code: ordinaryCode(7), coupon: amountOff("5.00")},                // paid before; report applied, reply lost
	{name: "C8", amount: "8.80", code: ordinaryCode(8), coupon: percentOff("10")},                  // paid before; report lost on the way
	{name: "C5", amount: "55.00", code: ordinaryCode(5), coupon: amountOff("5.00")},                // pay committed, reply lost
	{name: "C9", amount: "19.99", code: ordinaryCode(9), coupon: amountOff("5.00")},                // cut between pay intent and pay
	{name: "C6", amount: "66.60", code: ordinaryCode(6), coupon: amountOff("5.00")},                // scanned during the outage
}

func amountOff(v string) *checkout.Coupon {
	return &checkout.Coupon{Title: v + " off", Kind: checkout.AmountOff, Value: money(v), MinSpend: money("10.00")}
}

func percentOff(v string) *checkout.Coupon {
	return &checkout.Coupon{Title: v + "% off", Kind: checkout.PercentOff, Value: money(v)}
}

// remoteProbes follows the calls the queue makes to one remote while it is
// offline: attempts of its jobs, which are its probes.
type remoteProbes struct {
	name       string
	log        *callLog
	isJob      func(c call) bool // calls made by queue jobs and probes
	cut        time.Time         // when the outage began
	next       int               // next call to look at
	open       map[int]bool      // calls under way at the last look
	lastActive time.Time         // when a call was last under way (or the cut)
	calls      int               // sent during the outage
	maxIdle    time.Duration     // longest time with no call under way, in the 1 s part
}

func newRemoteProbes(name string, log *callLog, cut time.Time, isJob func(call) bool) *remoteProbes {
	return &remoteProbes{name: name, log: log, isJob: isJob, cut: cut, open: map[int]bool{}, lastActive: cut}
}

// during reports whether c was under way after the outage began.
func (p *remoteProbes) during(c call) bool {
	return p.isJob(c) && (c.End.IsZero() || !c.End.Before(p.cut))
}

// observe takes the calls since the last look and returns how many were
// sent. In the 1 s part (fine) it fails the test when no call has been
// under way for more than queue.MaxProbeInterval.
func (p *remoteProbes) observe(t *testing.T, now time.Time, fine bool) int {
	t.Helper()
	settle := func() {
		for i := range p.open {
			c := p.log.get(i)
			if c.End.IsZero() {
				p.lastActive = now // a probe that hangs (blackhole) is a probe
				continue
			}
			p.lastActive = later(p.lastActive, c.End)
			delete(p.open, i)
		}
	}
	settle()
	cs, next := p.log.since(p.next)
	n := 0
	for i, c := range cs {
		if !p.during(c) {
			continue
		}
		if fine && len(p.open) == 0 {
			p.maxIdle = max(p.maxIdle, c.At.Sub(p.lastActive))
		}
		p.open[p.next+i] = true
		p.lastActive = later(p.lastActive, c.At) // calls cut short started before the cut
		n++
	}
	p.next = next
	settle()
	p.calls += n
	if fine && now.Sub(p.lastActive) > queue.MaxProbeInterval {
		t.Fatalf("%s: no probe for %s (at %s)", p.name, now.Sub(p.lastActive), now)
	}
	return n
}

// checkNoneThrough fails the test if a queue call of the outage that has
// returned got an answer.
func (p *remoteProbes) checkNoneThrough(t *testing.T) {
	t.Helper()
	cs, _ := p.log.since(0)
	for _, c := range cs {
		if p.during(c) && !c.End.IsZero() && c.Err == nil {
			t.Fatalf("%s: a %s call (%s) got through during the outage", p.name, c.Method, c.Key)
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func runOutage(t *testing.T, v variant) {
	wallStart := time.Now()
	defer func() { t.Logf("wall time %s", time.Since(wallStart).Round(time.Millisecond)) }()
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, v.maxAge, v.failure)
		ctx := context.Background()
		code := map[string]string{}
		var coupons []checkout.Coupon
		for _, o := range orders {
			code[o.name] = o.code
			if o.coupon != nil {
				c := *o.coupon
				c.ID, c.UserID = "CP-"+o.name, userOf(o.code)
				coupons = append(coupons, c)
			}
		}
		if _, err := w.e.ImportCoupons(coupons); err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		start := func(name string) checkout.Checkout {
			t.Helper()
			for _, o := range orders {
				if o.name == name {
					c := w.startCheckout("O-"+name, o.amount, o.code)
					ids[name] = c.ID
					return c
				}
			}
			t.Fatalf("no order %s", name)
			return checkout.Checkout{}
		}
		mustState := func(name string, c checkout.Checkout, want checkout.State) {
			t.Helper()
			if c.State != want {
				t.Fatalf("%s: %s (error %+v), want %s", name, c.State, c.Error, want)
			}
		}

		// Before the outage: a paid checkout whose report is delivered, two
		// awards, two buyers confirming on their phones.
		mustState("C1", start("C1"), checkout.Paid)
		a1 := w.award("A1", gateway.AwardRequest{Mobile: newUserA})
		a2 := w.award("A2", gateway.AwardRequest{UserID: oldUser})
		for _, j := range []queue.Job{a1, a2} {
			if j = w.job(j.ID); j.State != queue.StateDone {
				t.Fatalf("award %s before the outage: %+v", j.Key, j)
			}
		}
		mustState("C2", start("C2"), checkout.WaitingBuyer)
		mustState("C3", start("C3"), checkout.WaitingBuyer)
		// Two paid checkouts whose reports are in flight when the link goes:
		// C7's applied by the backend (the reply will be lost), C8's stuck on
		// the way (never applied).
		w.backend.holds.add(hold{method: queue.KindCouponReport, key: "CP-C7", applyFirst: true})
		mustState("C7", start("C7"), checkout.Paid)
		w.backend.holds.add(hold{method: queue.KindCouponReport, key: "CP-C8"})
		mustState("C8", start("C8"), checkout.Paid)
		for range 6 { // the buyers have not confirmed yet: two queries each
			w.advance(time.Second)
		}
		mustState("C2", w.get(ids["C2"]), checkout.WaitingBuyer)
		// C5's trade.pay is committed by the gateway, and its reply will be
		// lost; so will the reply of award A3, granted by the gateway.
		w.gwFront.holds.add(hold{method: gateway.MethodTradePay, applyFirst: true})
		mustState("C5", start("C5"), checkout.Paying)
		w.gwFront.holds.add(hold{method: gateway.MethodInviteAward, key: "A3", applyFirst: true})
		w.award("A3", gateway.AwardRequest{UserID: newUserB})

		// The cut: the store's internet goes down right after C9's pay
		// intent is committed, before its trade.pay is sent.
		var once sync.Once
		cutAtPayIntent := func(step string) {
			if step == checkout.StepPayIntent {
				once.Do(func() {
					w.gwLink.Down()
					w.rpLink.Down()
				})
			}
		}
		w.onStep.Store(&cutAtPayIntent)
		mustState("C9", start("C9"), checkout.Paying)
		w.onStep.Store(nil)
		if !w.gwLink.IsDown() || !w.rpLink.IsDown() {
			t.Fatal("the links did not go down at C9's pay intent")
		}
		cut := w.clk.Now()
		ledgerAtCut := w.sb.Trades()

		// During the outage: a code scanned (the decode cannot reach
		// Alipay), more awards, A4–A6 for the old user who has one already.
		mustState("C6", start("C6"), checkout.Decoding)
		for _, a := range []struct {
			key string
			req gateway.AwardRequest
		}{
			{"A4", gateway.AwardRequest{UserID: oldUser}},
			{"A5", gateway.AwardRequest{UserID: oldUser}},
			{"A6", gateway.AwardRequest{UserID: oldUser}},
			{"A7", gateway.AwardRequest{Mobile: newUserC}},
		} {
			if j := w.award(a.key, a.req); w.job(j.ID).State != queue.StatePending {
				t.Fatalf("award %s during the outage: %+v", a.key, w.job(j.ID))
			}
		}

		// States a checkout may be in while the gateway is away.
		allowed := map[string][]checkout.State{
			"C1": {checkout.Paid}, "C7": {checkout.Paid}, "C8": {checkout.Paid},
			"C2": {checkout.WaitingBuyer, checkout.Cancelling},
			"C3": {checkout.WaitingBuyer, checkout.Cancelling},
			"C5": {checkout.Paying, checkout.Cancelling},
			"C9": {checkout.Paying, checkout.Cancelling},
			"C6": {checkout.Decoding, checkout.AwaitingScan},
		}
		gwProbes := newRemoteProbes("gateway", w.gwCalls, cut, func(c call) bool {
			return c.Method == gateway.MethodTradeCancel || c.Method == gateway.MethodInviteAward ||
				c.Method == gateway.MethodTradeQuery && c.Key == probe.CheckTradeNo
		})
		rpProbes := newRemoteProbes("report backend", w.rpCalls, cut, func(call) bool { return true })
		// The calls cut short (the held award and reports) are not probes.
		gwProbes.observe(t, cut, true)
		rpProbes.observe(t, cut, true)
		gwProbes.calls, rpProbes.calls = 0, 0
		steps := 0
		for w.clk.Now().Sub(cut) < v.outage {
			elapsed := w.clk.Now().Sub(cut)
			fine := elapsed < v.fine
			d := time.Second
			if !fine {
				d = v.step
			}
			d = min(d, v.outage-elapsed)
			w.advance(d)
			steps++
			now := w.clk.Now()
			fine = fine && d <= queue.MaxProbeInterval
			for _, p := range []*remoteProbes{gwProbes, rpProbes} {
				n := p.observe(t, now, fine)
				if !fine && (n < 1 || n > 2) {
					t.Fatalf("%s: %d probes in a %s step at %s into the outage, want 1 or 2", p.name, n, d, now.Sub(cut))
				}
			}
			// Once an attempt could have timed out (blackhole), the queue
			// knows both remotes are down.
			if now.Sub(cut) > queue.DefaultReportTimeout+queue.MaxProbeInterval {
				for _, r := range w.q.Remotes() {
					if r.Online {
						t.Fatalf("at %s into the outage the queue thinks %s is online", now.Sub(cut), r.Name)
					}
				}
			}
			st, err := w.q.Stats()
			if err != nil || st.Dead != 0 || st.Failed != 0 {
				t.Fatalf("at %s into the outage: %+v %v (nothing may be dead or failed)", now.Sub(cut), st, err)
			}
			for _, j := range w.jobs(queue.StatePending) {
				if j.Attempts != 0 {
					t.Fatalf("at %s into the outage: job %s %s counted %d attempts (%s)", now.Sub(cut), j.Kind, j.Key, j.Attempts, j.LastError)
				}
			}
			for name, id := range ids {
				if c := w.get(id); !slices.Contains(allowed[name], c.State) {
					t.Fatalf("at %s into the outage: %s is %s (error %+v)", now.Sub(cut), name, c.State, c.Error)
				}
			}
			if tr := w.sb.Trades(); !reflect.DeepEqual(tr, ledgerAtCut) {
				t.Fatalf("the sandbox ledger moved during the outage:\n%+v\nwas\n%+v", tr, ledgerAtCut)
			}
		}
		outage := w.clk.Now().Sub(cut)

		// Where things stand before the links come back.
		for _, name := range []string{"C2", "C3", "C5", "C9"} {
			c := w.get(ids[name])
			mustState(name, c, checkout.Cancelling)
			if c.Error == nil || c.Error.Code != checkout.CodeDecisionTimeout {
				t.Fatalf("%s cancelling with error %+v, want %s", name, c.Error, checkout.CodeDecisionTimeout)
			}
		}
		c6 := w.get(ids["C6"])
		if c6.State != checkout.AwaitingScan || c6.Error == nil || c6.Error.Code != checkout.CodeGatewayUnavailable {
			t.Fatalf("C6 after a scan during the outage: %s %+v, want awaiting_scan with %s", c6.State, c6.Error, checkout.CodeGatewayUnavailable)
		}
		decodeGaveUp := c6.UpdatedAt.Sub(c6.CreatedAt) // created and scanned at once
		pendingAtReturn := len(w.jobs(queue.StatePending))
		if want := 4 + 5 + 2; pendingAtReturn != want { // cancels, awards A3–A7, reports of C7 and C8
			t.Fatalf("%d jobs pending at the end of the outage, want %d", pendingAtReturn, want)
		}

		gwProbes.checkNoneThrough(t)
		rpProbes.checkNoneThrough(t)

		// The links come back: everything drains within 10 s of clock time.
		w.gwLink.Up()
		w.rpLink.Up()
		back := w.clk.Now()
		drained := time.Duration(-1)
		for w.clk.Now().Sub(back) < time.Minute {
			w.advance(time.Second)
			if w.drained(ids, "C6") {
				drained = w.clk.Now().Sub(back)
				break
			}
		}
		if drained < 0 || drained > queue.MaxProbeInterval {
			for _, j := range w.jobs(queue.StatePending) {
				t.Logf("pending: %s %s attempts %d next %s: %s", j.Kind, j.Key, j.Attempts, j.NextRun.Sub(w.clk.Now()), j.LastError)
			}
			for name, id := range ids {
				t.Logf("%s: %s", name, w.get(id).State)
			}
			t.Fatalf("not drained %s after the return (drained %s), want within %s", w.clk.Now().Sub(back), drained, queue.MaxProbeInterval)
		}

		// The cashier scans C6's code again: it pays, with the sence_no of
		// the decode attempted during the outage (kept for 24 h).
		if _, err := w.e.Scan(ctx, code["C6"]); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		paid6 := w.get(ids["C6"])
		mustState("C6", paid6, checkout.Paid)
		if outage < 24*time.Hour && paid6.SenceNo != c6.SenceNo {
			t.Errorf("C6 rescan: sence_no %s, the decode during the outage had %s", paid6.SenceNo, c6.SenceNo)
		}

		w.checkEnd(ids)

		gwRefused, rpRefused := w.gwLink.refused.Load(), w.rpLink.refused.Load()
		var ends []string
		for _, o := range orders {
			c := w.get(ids[o.name])
			end := o.name + " " + string(c.State)
			if c.Refunded {
				end += " (refunded)"
			}
			if c.State == checkout.NeedsAttention {
				end += " (" + c.Error.Code + ")"
			}
			ends = append(ends, end)
		}
		maxAttempts := 0
		for _, j := range w.jobs("") {
			maxAttempts = max(maxAttempts, j.Attempts)
		}
		t.Logf("simulated outage %s (links %s) in %d steps (1 s steps for the first %s, then %s), max_age %s", outage, v.failure, steps, v.fine, v.step, v.maxAge)
		t.Logf("queue calls during it: gateway %d (longest time with none under way %s), report backend %d (%s); failed dials: gateway %d, backend %d; no attempt counted",
			gwProbes.calls, gwProbes.maxIdle, rpProbes.calls, rpProbes.maxIdle, gwRefused, rpRefused)
		t.Logf("a scan during it got GATEWAY_UNAVAILABLE after %s; at the return %d jobs pending; all done and every checkout terminal %s after it; max attempts per job %d",
			decodeGaveUp, pendingAtReturn, drained, maxAttempts)
		t.Logf("ends: %s", strings.Join(ends, ", "))
	})
}

// drained reports whether no job is pending and every checkout but those
// named in except is terminal.
// drained reports whether no job is pending but the hourly re-queries of
// needs_attention trades (which stay until a person or the gateway
// settles them) and every checkout but except is final.
func (w *world) drained(ids map[string]string, except ...string) bool {
	for _, j := range w.jobs(queue.StatePending) {
		if j.Kind != checkout.KindAttentionRecheck {
			return false
		}
	}
	for name, id := range ids {
		if !slices.Contains(except, name) && !w.get(id).State.Terminal() {
			return false
		}
	}
	return true
}

// checkEnd asserts the end state after the outage against the ledger, the
// coupons, the queue, the award answers and the report backend.
func (w *world) checkEnd(ids map[string]string) {
	t := w.t
	t.Helper()
	cs := map[string]checkout.Checkout{}
	byOut := map[string]string{}
	for name, id := range ids {
		c := w.get(id)
		cs[name] = c
		if !c.State.Terminal() {
			t.Errorf("%s left %s", name, c.State)
		}
		if c.OutTradeNo != "" {
			if other, dup := byOut[c.OutTradeNo]; dup {
				t.Errorf("%s and %s share out_trade_no %s", name, other, c.OutTradeNo)
			}
			byOut[c.OutTradeNo] = name
		}
	}
	ledger := map[string]sandbox.Trade{}
	for _, tr := range w.sb.Trades() {
		if _, dup := ledger[tr.OutTradeNo]; dup {
			t.Errorf("the ledger has out_trade_no %s twice", tr.OutTradeNo)
		}
		ledger[tr.OutTradeNo] = tr
		name, ok := byOut[tr.OutTradeNo]
		if !ok {
			t.Errorf("trade %s (%s, %s) belongs to no checkout", tr.OutTradeNo, tr.Status, tr.TotalAmount)
			continue
		}
		if tr.Status == gateway.TradeSuccess && !tr.Refunded {
			if st := cs[name].State; st != checkout.Paid && st != checkout.NeedsAttention {
				t.Errorf("trade %s charged %s but %s is %s", tr.OutTradeNo, tr.TotalAmount, name, st)
			}
		}
	}
	cancelDone := map[string]time.Time{} // out_trade_no → when its cancel job finished
	for _, j := range w.jobs("") {
		if j.Kind == queue.KindTradeCancel {
			cancelDone[j.Key] = j.UpdatedAt
		}
	}

	// Each checkout's end. A trade the gateway holds can no longer be
	// cancelled 24 h after it was created (sandbox CancelWindow, as Alipay):
	// then a person must look.
	for name, c := range cs {
		tr, inLedger := ledger[c.OutTradeNo]
		switch name {
		case "C1", "C6", "C7", "C8":
			if c.State != checkout.Paid {
				t.Errorf("%s: %s, want paid", name, c.State)
				continue
			}
			want := c.Amount - c.Discount
			if !inLedger || tr.Status != gateway.TradeSuccess || tr.Refunded || tr.TotalAmount != want ||
				c.PaidAmount != want || tr.TradeNo != c.TradeNo || tr.SenceNo != c.SenceNo || c.Discount == 0 {
				t.Errorf("%s paid %s (discount %s, trade_no %s, sence_no %s), ledger %+v", name, c.PaidAmount, c.Discount, c.TradeNo, c.SenceNo, tr)
			}
		case "C2", "C3", "C5":
			if !inLedger {
				t.Errorf("%s: no trade %s in the ledger", name, c.OutTradeNo)
				continue
			}
			if late := cancelDone[c.OutTradeNo].Sub(tr.CreatedAt) > sandbox.DefaultCancelWindow; late {
				if c.State != checkout.NeedsAttention || c.Error == nil || c.Error.Code != "ACQ.TRADE_CANCEL_TIME_OUT" {
					t.Errorf("%s: %s %+v after the cancel window, want needs_attention ACQ.TRADE_CANCEL_TIME_OUT", name, c.State, c.Error)
				}
				continue
			}
			paidTrade := name == "C5" // committed before its reply was lost
			if c.State != checkout.Cancelled || c.Refunded != paidTrade || tr.Status != gateway.TradeClosed || tr.Refunded != paidTrade {
				t.Errorf("%s: %s refunded=%v, ledger %+v; want cancelled, refunded=%v", name, c.State, c.Refunded, tr, paidTrade)
			}
		case "C9":
			// The pay never left: the cancel closed a number the gateway had
			// not seen, so no late pay can use it.
			if c.State != checkout.Cancelled || c.Refunded || !inLedger || tr.Status != gateway.TradeClosed || tr.TradeNo != "" || tr.TotalAmount != 0 {
				t.Errorf("C9: %s refunded=%v, ledger %+v (found %v); want cancelled and the number closed", c.State, c.Refunded, tr, inLedger)
			}
		}
	}
	if tr := ledger[cs["C5"].OutTradeNo]; tr.Status != gateway.TradeClosed && tr.Status != gateway.TradeSuccess {
		t.Errorf("C5's pay was not committed before the cut: %+v", tr)
	}

	// Coupons: redeemed by the paid checkouts, still reserved by the
	// needs_attention ones (their trade may have been paid with it),
	// released by the others.
	for name, c := range cs {
		if name == "C3" {
			continue // no coupon
		}
		cp, err := w.e.GetCoupon("CP-" + name)
		if err != nil {
			t.Fatal(err)
		}
		want := checkout.CouponAvailable
		if c.State == checkout.NeedsAttention {
			want = checkout.CouponReserved
		}
		if c.State == checkout.Paid {
			want = checkout.CouponRedeemed
			if c.CouponID != cp.ID {
				t.Errorf("%s paid with coupon %q, want %s", name, c.CouponID, cp.ID)
			}
		}
		if cp.State != want {
			t.Errorf("coupon of %s (%s): %s, want %s", name, c.State, cp.State, want)
		}
	}

	// The queue: every job done, with one counted attempt, but the hourly
	// re-query of each needs_attention trade, which stays pending while
	// the trade is open (and is done once it shows paid: a person decides).
	kinds := map[string]int{}
	attention := 0
	for _, c := range cs {
		if c.State == checkout.NeedsAttention {
			attention++
		}
	}
	for _, j := range w.jobs("") {
		kinds[j.Kind]++
		if j.Kind == checkout.KindAttentionRecheck {
			if j.State != queue.StatePending && j.State != queue.StateDone {
				t.Errorf("job %s %s: %s, want pending or done", j.Kind, j.Key, j.State)
			}
			continue
		}
		if j.State != queue.StateDone || j.Attempts != 1 {
			t.Errorf("job %s %s: %s after %d attempts (%s)", j.Kind, j.Key, j.State, j.Attempts, j.LastError)
		}
	}
	want := map[string]int{queue.KindTradeCancel: 4, queue.KindAwardReceive: 7, queue.KindCouponReport: 4}
	if attention > 0 {
		want[checkout.KindAttentionRecheck] = attention
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("jobs by kind %v, want %v", kinds, want)
	}
	if n := len(w.log.Events("job_dead")); n != 0 {
		t.Errorf("%d jobs dead-lettered", n)
	}
	for _, ev := range []string{"queue_offline", "queue_online"} {
		var remotes []string
		for _, e := range w.log.Events(ev) {
			r, _ := e["remote"].(string)
			remotes = append(remotes, r)
		}
		sort.Strings(remotes)
		if want := []string{queue.RemoteGateway, queue.RemoteReport}; !slices.Equal(remotes, want) {
			t.Errorf("%s for %v, want once for each of %v", ev, remotes, want)
		}
	}

	// Awards: each granted once by out_biz_no. A3's grant was committed
	// before its reply was lost; the retry got the first answer again (a
	// second grant to that NEW user would be NEW_ALREADY_AWARD).
	results := map[string]string{}
	for _, j := range w.jobs("") {
		if j.Kind != queue.KindAwardReceive {
			continue
		}
		var r gateway.AwardResponse
		if err := json.Unmarshal(j.Result, &r); err != nil {
			t.Errorf("award %s result %s: %v", j.Key, j.Result, err)
		}
		results[j.Key] = r.BizResultCode
		handled, want := w.gwFront.count(gateway.MethodInviteAward, j.Key), 1
		if j.Key == "A3" {
			want = 2
		}
		if handled != want {
			t.Errorf("award %s reached the gateway %d times, want %d", j.Key, handled, want)
		}
	}
	for _, k := range []string{"A1", "A3", "A7"} {
		if results[k] != gateway.AwardNewSuccess {
			t.Errorf("award %s (a NEW user): %q, want %s", k, results[k], gateway.AwardNewSuccess)
		}
	}
	old := map[string]int{}
	for _, k := range []string{"A2", "A4", "A5", "A6"} {
		old[results[k]]++
	}
	if results["A2"] != gateway.AwardOldSuccess || old[gateway.AwardOldSuccess] != 3 || old[gateway.AwardOldOverLimit] != 1 {
		t.Errorf("awards of the OLD user: %v", old)
	}

	// Reports: each delivered, applied once per key.
	received, applied := w.backend.snapshot()
	wantReceived := map[string]int{}
	for _, name := range []string{"C1", "C7", "C8", "C6"} {
		c := cs[name]
		n := 1
		if name == "C7" || name == "C8" {
			n = 2 // lost at the cut, sent again after
		}
		wantReceived[c.CouponID+":"+c.OutTradeNo] = n
	}
	if !reflect.DeepEqual(received, wantReceived) {
		t.Errorf("the backend received %v, want %v", received, wantReceived)
	}
	if len(applied) != len(wantReceived) {
		t.Errorf("the backend applied %d reports (%v), want one per key: %d", len(applied), applied, len(wantReceived))
	}
}
