//go:build unix

package checkout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// The crash tests run the engine in a child process (this test binary,
// re-executed to run TestCrashChild) against a sandbox that lives in the
// parent, so the ledger survives the child. The child is killed with
// SIGKILL at a chosen step boundary (its StepHook prints the step and
// blocks until the parent kills it) or at a random instant, then restarted
// on the same bbolt file to recover; the parent checks the ledger.

const crashChildEnv = "CHECKOUT_CRASH_CHILD"

// crashPlan is what a child is told to do (JSON in CRASH_PLAN).
type crashPlan struct {
	DB       string   `json:"db"`
	Log      string   `json:"log"`
	Gateway  string   `json:"gateway"`
	AppID    string   `json:"app_id"`
	PayPID   string   `json:"pay_pid"`
	AppKey   string   `json:"app_key"`
	GWKey    string   `json:"gw_key"`
	Mode     string   `json:"mode"`  // "pay": create and scan every order; "recover": resume, do the missing orders, report
	Codes    []string `json:"codes"` // order i is "<Prefix>-i", paid with Codes[i]
	Prefix   string   `json:"prefix"`
	Coupon   bool     `json:"coupon"`     // import a 3.00 coupon for each code's buyer (pay mode)
	Retry    bool     `json:"retry"`      // recover mode: a new attempt for cancelled orders, same code
	KillAt   string   `json:"kill_at"`    // step to halt at ("" none)
	KillNth  int      `json:"kill_nth"`   // halt at its n-th occurrence (default 1)
	Deadline string   `json:"deadline"`   // decision deadline
	Amount   int64    `json:"amount_fen"` // per order
}

// TestCrashChild is the child's side; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("crash child: run by TestCrash* only")
	}
	var p crashPlan
	if err := json.Unmarshal([]byte(os.Getenv("CRASH_PLAN")), &p); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush()
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(logf).With().Timestamp().Int("pid", os.Getpid()).Logger()
	seen := map[string]int{}
	var seenMu sync.Mutex
	nth := max(p.KillNth, 1)
	hook := func(step string) {
		seenMu.Lock()
		seen[step]++
		halt := step == p.KillAt && seen[step] == nth
		seenMu.Unlock()
		say("STEP %s", step)
		if halt {
			say("HALT %s", step)
			select {} // the parent kills us here
		}
	}
	appKey, err := gateway.LoadPrivateKeyFile(p.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	gwKey, err := gateway.LoadPublicKeyFile(p.GWKey)
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway.Client{URL: p.Gateway, AppID: p.AppID, PrivateKey: appKey, AlipayPublicKey: gwKey}
	deadline, _ := time.ParseDuration(p.Deadline)
	env := openEngine(t, gw, p.DB, checkout.Options{
		PayPID: p.PayPID, QueryInterval: 20 * time.Millisecond, DecisionDeadline: deadline,
		ReportCoupons: true, Logger: &log, StepHook: hook,
	})
	ctx := context.Background()
	say("READY")
	orderOf := func(i int) string { return fmt.Sprintf("%s-%d", p.Prefix, i) }
	codeOf := map[string]string{}
	for i, c := range p.Codes {
		codeOf[orderOf(i)] = c
	}
	create := func(order string) checkout.Checkout {
		for start := time.Now(); ; {
			c, _, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: order, Amount: gateway.Amount(p.Amount), Subject: "crash test"})
			if err == nil {
				return c
			}
			if !errors.Is(err, checkout.ErrConflict) || time.Since(start) > 20*time.Second {
				t.Fatalf("create %s: %v", order, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	scan := func(c checkout.Checkout) {
		if _, err := env.E.Scan(ctx, codeOf[c.OrderID]); err != nil {
			t.Fatalf("scan %s: %v", c.ID, err)
		}
		env.waitFor(c.ID, "the end of decoding", func(c checkout.Checkout) bool { return c.State != checkout.Decoding })
	}
	// rescan scans again what waits for a scan: SCAN_AGAIN after a crash in
	// decoding, or a checkout created just before the crash.
	rescan := func() {
		for _, c := range allCheckouts(t, env.E) {
			if c.State == checkout.AwaitingScan && codeOf[c.OrderID] != "" {
				scan(c)
			}
		}
	}
	rescan()
	// Pay mode creates and scans every order; recover mode does the same
	// for the orders the killed run never got to, as a register would.
	have := map[string]bool{}
	if p.Mode == "recover" {
		for _, c := range allCheckouts(t, env.E) {
			have[c.OrderID] = true
		}
	}
	{
		for i, code := range p.Codes {
			if have[orderOf(i)] {
				continue
			}
			if p.Coupon {
				_, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "CRASH-" + orderOf(i), UserID: sandbox.UserIDOf(code),
					Kind: checkout.AmountOff, Value: 300, ValidUntil: time.Now().Add(time.Hour)}})
				if err != nil {
					t.Fatal(err)
				}
			}
			scan(create(orderOf(i)))
		}
	}
	// Finish: optionally retry cancelled orders, and wait until everything
	// has ended.
	for round := 0; round < 3; round++ {
		rescan()
		for _, c := range allCheckouts(t, env.E) {
			env.wait(c.ID)
		}
		if !p.Retry || round > 0 {
			continue
		}
		latest := map[string]checkout.Checkout{}
		for _, c := range allCheckouts(t, env.E) {
			if _, ok := latest[c.OrderID]; !ok {
				latest[c.OrderID] = c // newest first
			}
		}
		for order, c := range latest {
			if c.State == checkout.Cancelled && codeOf[order] != "" {
				scan(create(order))
			}
		}
	}
	// A trade_cancel job records its outcome after the checkout's: let the
	// queue finish before reporting.
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
		pending, err := env.Q.List(queue.Filter{Kind: queue.KindTradeCancel, State: queue.StatePending})
		if err == nil && len(pending) == 0 {
			break
		}
	}
	cs := allCheckouts(t, env.E)
	coupons, _ := env.E.ListCoupons("")
	jobs, _ := env.Q.List(queue.Filter{})
	b, _ := json.Marshal(crashResult{Checkouts: cs, Coupons: coupons, Jobs: jobs})
	say("RESULT %s", b)
}

type crashResult struct {
	Checkouts []checkout.Checkout `json:"checkouts"`
	Coupons   []checkout.Coupon   `json:"coupons"`
	Jobs      []queue.Job         `json:"jobs"`
}

// crashParent holds the sandbox the children talk to.
type crashParent struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	dir string
}

func newCrashParent(t *testing.T) *crashParent {
	if testing.Short() {
		t.Skip("crash tests re-execute the test binary; skipped under -short")
	}
	dir := t.TempDir()
	sb := MustOpenSandbox(t, sandbox.Config{Dir: filepath.Join(dir, "keys")})
	return &crashParent{t: t, sb: sb, dir: dir}
}

// child runs one child process with plan. With killAfter > 0 the child is
// killed that long after it is READY (unless it halts or ends first); a
// child that prints HALT is killed at once. It returns the result of a
// child that ran to the end, or nil when it was killed.
func (cp *crashParent) child(plan crashPlan, killAfter time.Duration) *crashResult {
	t := cp.t
	t.Helper()
	kp := cp.sb.KeyPaths()
	plan.Gateway, plan.AppID, plan.PayPID = cp.sb.URL(), cp.sb.AppID(), cp.sb.PayPID()
	plan.AppKey, plan.GWKey = kp.AppPrivate, kp.AlipayPublic
	pj, _ := json.Marshal(plan)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CRASH_PLAN="+string(pj))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	var timer *time.Timer
	var res *crashResult
	var steps []string
	killed := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "READY" && killAfter > 0:
			timer = time.AfterFunc(killAfter, func() { kill() })
		case strings.HasPrefix(line, "STEP "):
			steps = append(steps, line[5:])
		case strings.HasPrefix(line, "HALT "):
			killed = true
			kill()
		case strings.HasPrefix(line, "RESULT "):
			res = &crashResult{}
			if err := json.Unmarshal([]byte(line[7:]), res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if timer != nil {
		timer.Stop()
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		}
	}
	if !killed && (err != nil || res == nil) {
		logs, _ := os.ReadFile(plan.Log)
		t.Fatalf("child (%s) failed: %v\nsteps %v\nstderr:\n%s\nlog tail:\n%s", plan.Mode, err, steps, stderr.String(), tail(string(logs), 4000))
	}
	if killed {
		return nil
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// check asserts the money invariants for one scenario's checkouts against
// the ledger's trades of its buyers and numbers.
func (cp *crashParent) check(res *crashResult, codes []string) {
	t := cp.t
	t.Helper()
	users := map[string]bool{}
	for _, c := range codes {
		users[sandbox.UserIDOf(c)] = true
	}
	outs := map[string]bool{}
	for _, c := range res.Checkouts {
		outs[c.OutTradeNo] = true
	}
	var trades []sandbox.Trade
	for _, tr := range cp.sb.Trades() {
		if users[tr.BuyerUserID] || outs[tr.OutTradeNo] {
			trades = append(trades, tr)
		}
	}
	checkLedger(t, res.Checkouts, trades, true)
	byID := map[string]checkout.Checkout{}
	for _, c := range res.Checkouts {
		byID[c.ID] = c
	}
	for _, cp := range res.Coupons {
		c := byID[cp.CheckoutID]
		switch cp.State {
		case checkout.CouponReserved:
			t.Errorf("coupon %s left reserved (checkout %s is %s)", cp.ID, c.ID, c.State)
		case checkout.CouponRedeemed:
			if c.State != checkout.Paid {
				t.Errorf("coupon %s redeemed by %s checkout %s", cp.ID, c.State, c.ID)
			}
		}
	}
	for _, j := range res.Jobs {
		if j.Kind == queue.KindTradeCancel && j.State != queue.StateDone {
			t.Errorf("trade_cancel job %d is %s", j.ID, j.State)
		}
	}
}

// TestCrashAtSteps kills the engine at each step boundary of each path and
// restarts it on the same file.
func TestCrashAtSteps(t *testing.T) {
	cp := newCrashParent(t)
	type scenario struct {
		name   string
		code   func() string
		killAt string
		nth    int
		coupon bool
		retry  bool
		want   checkout.State // the final state of the order's latest checkout
	}
	normal := func() string { return NormalCode() }
	sc := func(s, n int) func() string { return func() string { return SandboxCode(s, n) } }
	for _, s := range []scenario{
		{"after create", normal, checkout.StepCreated, 1, false, false, checkout.Paid},
		{"after decode intent", normal, checkout.StepDecodeIntent, 1, false, false, checkout.Paid},
		{"after decode sent (sence_no reused)", normal, checkout.StepDecodeSent, 1, false, false, checkout.Paid},
		{"after decode sent, user not authorised", sc(scUserUnAuth, 0), checkout.StepDecodeSent, 1, false, false, checkout.Paid},
		{"after pay intent, before send", normal, checkout.StepPayIntent, 1, true, true, checkout.Paid},
		{"after pay sent (paid at the gateway)", normal, checkout.StepPaySent, 1, true, false, checkout.Paid},
		{"after paid commit", normal, checkout.StepPaid, 1, true, false, checkout.Paid},
		{"after pay sent, refused", sc(scBalanceNotEnough, 0), checkout.StepPaySent, 1, true, false, checkout.Cancelled},
		{"after failed commit", sc(scBalanceNotEnough, 0), checkout.StepFailed, 1, true, false, checkout.Failed},
		{"after pay sent, 20000 but paid", sc(scPayUnknownPaid, 0), checkout.StepPaySent, 1, false, false, checkout.Paid},
		{"after query, 20000 and no trade", sc(scPayUnknownNotFound, 0), checkout.StepQuerySent, 2, false, false, checkout.Cancelled},
		{"after waiting commit", sc(scWaitThenPaid, 3), checkout.StepWaiting, 1, true, false, checkout.Paid},
		{"after a query while waiting", sc(scWaitThenPaid, 4), checkout.StepQuerySent, 2, false, false, checkout.Paid},
		{"after cancelling commit", sc(scWaitForever, 0), checkout.StepCancelling, 1, true, false, checkout.Cancelled},
		{"after cancel sent", sc(scWaitForever, 0), checkout.StepCancelSent, 1, false, false, checkout.Cancelled},
		{"after cancel sent, retry_flag=Y", sc(scCancelRetry, 0), checkout.StepCancelSent, 1, false, false, checkout.Cancelled},
		{"after cancelling, frozen", sc(scFrozen, 0), checkout.StepCancelling, 1, false, false, checkout.NeedsAttention},
	} {
		t.Run(s.name, func(t *testing.T) {
			cp.t = t
			code := s.code()
			plan := crashPlan{
				DB: filepath.Join(t.TempDir(), "posagent.db"), Log: filepath.Join(t.TempDir(), "child.log"),
				Mode: "pay", Codes: []string{code}, Prefix: fmt.Sprintf("S%d", time.Now().UnixNano()),
				Coupon: s.coupon, Retry: s.retry, KillAt: s.killAt, KillNth: s.nth, Deadline: "600ms", Amount: 2500,
			}
			if res := cp.child(plan, 0); res != nil {
				t.Fatalf("the child was not killed at %s", s.killAt)
			}
			plan.Mode, plan.KillAt = "recover", ""
			res := cp.child(plan, 0)
			cp.check(res, plan.Codes)
			latest := res.Checkouts[0]
			if latest.State != s.want {
				t.Errorf("final state %s (%+v), want %s", latest.State, latest.Error, s.want)
			}
			if s.want == checkout.Paid && s.coupon && (latest.CouponID == "" || latest.Discount != 300) {
				t.Errorf("coupon not applied: %+v", latest)
			}
			if s.killAt == checkout.StepPayIntent {
				// The pay never left: after the restart the gateway has no
				// trade, so the attempt is cancelled at once (not at the
				// deadline) and says why; the retry then paid.
				if len(res.Checkouts) < 2 {
					t.Fatalf("want the interrupted attempt and the retry, got %d checkouts", len(res.Checkouts))
				}
				first := res.Checkouts[len(res.Checkouts)-1]
				if first.State != checkout.Cancelled || first.Error == nil || first.Error.Code != checkout.CodePaymentInterrupted {
					t.Errorf("interrupted attempt: %s %+v, want cancelled with %s", first.State, first.Error, checkout.CodePaymentInterrupted)
				}
			}
			if s.killAt == checkout.StepDecodeSent {
				// The decode reached the gateway before the crash: the rescan
				// must have used the same sence_no (the gateway refuses
				// another), and the pay carried it.
				if tr, ok := trade(cp.sb, latest.OutTradeNo); !ok || tr.SenceNo != latest.SenceNo {
					t.Errorf("ledger %+v, sence_no %s", tr, latest.SenceNo)
				}
			}
		})
	}
}

// TestCrashRandom kills the engine at random instants while it runs a mix
// of checkouts, restarts it (and sometimes kills it again while it
// recovers), and checks the ledger. CHECKOUT_CRASH_ROUNDS sets the number
// of rounds (default 4).
func TestCrashRandom(t *testing.T) {
	cp := newCrashParent(t)
	rounds := 4
	if v, err := strconv.Atoi(os.Getenv("CHECKOUT_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 11))
	for r := 0; r < rounds; r++ {
		t.Run(fmt.Sprintf("round%d", r), func(t *testing.T) {
			cp.t = t
			codes := []string{NormalCode(), SandboxCode(scWaitThenPaid, 2), NormalCode(), SandboxCode(scPayUnknownPaid, 0),
				SandboxCode(scBalanceNotEnough, 0), NormalCode(), SandboxCode(scWaitForever, 0), SandboxCode(scUserUnAuth, 0), NormalCode()}
			rng.Shuffle(len(codes), func(i, j int) { codes[i], codes[j] = codes[j], codes[i] })
			plan := crashPlan{
				DB: filepath.Join(t.TempDir(), "posagent.db"), Log: filepath.Join(t.TempDir(), "child.log"),
				Mode: "pay", Codes: codes, Prefix: fmt.Sprintf("R%d", time.Now().UnixNano()),
				Coupon: rng.IntN(2) == 0, Deadline: "500ms", Amount: int64(100 + rng.IntN(10000)),
			}
			kills := 0
			if res := cp.child(plan, time.Duration(20+rng.IntN(400))*time.Millisecond); res == nil {
				kills++
			}
			plan.Mode = "recover"
			if rng.IntN(2) == 0 {
				if res := cp.child(plan, time.Duration(10+rng.IntN(200))*time.Millisecond); res == nil {
					kills++
				}
			}
			res := cp.child(plan, 0)
			t.Logf("%d kills, %d checkouts", kills, len(res.Checkouts))
			cp.check(res, codes)
		})
	}
}
