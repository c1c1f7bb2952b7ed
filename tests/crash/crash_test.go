//go:build crash && linux

package crash_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
	"posagent/tests/internal/testenv"
)

var (
	roundsFlag = flag.Int("rounds", envInt("POSAGENT_CRASH_ROUNDS", 100), "kill/restart rounds")
	killMax    = flag.Duration("kill-max", 300*time.Millisecond, "SIGKILL at a random instant up to this long after the scan")
	seedFlag   = flag.Int64("seed", 0, "seed of the driver and the sandbox's faults (0: random)")
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// maxRestart bounds restart to serving /healthz: 2 s, or 8 s when the
// daemon runs under the race detector (-race), which starts it slower.
var maxRestart = map[bool]time.Duration{false: 2 * time.Second, true: 8 * time.Second}[testenv.Race]

const (
	maxRescans  = 3                // then the driver cancels the checkout
	settleBound = 3 * time.Minute  // every checkout final once faults are off
	slotBound   = 20 * time.Second // a round frees the scan slot within this
)

// round is one order of the run.
type round struct {
	n       int
	order   string
	code    string
	kind    string // "ordinary" or "wait N"
	amount  gateway.Amount
	id      string
	sence   string // the first sence_no seen on the checkout
	rescans int
	after   checkout.State  // state seen right after the restart
	errs    map[string]bool // error codes seen on the checkout
}

// defectCodes are checkout errors that only a bug can produce here.
var defectCodes = []string{
	"SENCENO_UN_MATCH", "ACQ.INVALID_PARAMETER", "ACQ.CONTEXT_INCONSISTENT", "INPUT_ILLEGAL", "REQUEST_REJECTED",
}

func TestCrash(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x706f736167656e74))
	faults := sandbox.Faults{
		Latency:         20 * time.Millisecond,
		DropAfterCommit: 0.15,
		Fail20000:       0.10,
		BadSign:         0.03,
		Methods: []string{
			"alipay.trade.pay", "alipay.trade.query", "alipay.trade.cancel", "alipay.user.twostage.common.use",
		},
		Seed: seed,
	}
	t.Logf("seed %d, %d rounds, kill 0–%v after the scan, faults %v", seed, *roundsFlag, *killMax, faults)

	env := testenv.New(t, testenv.Options{
		QueryInterval:    "100ms",
		DecisionDeadline: "3s",
		LogLevel:         "info",
		Faults:           faults,
		// No daily reconcile: the sandbox has no bill for yesterday, and
		// its job would wait in the queue checked empty at the end.
		Extra: "[reconcile]\nat = \"\"",
	})
	start := time.Now()
	d := env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	var (
		rounds    []*round
		kills     int
		restarts  []time.Duration
		afterHist = map[checkout.State]int{}
	)
	killRestart := func(i int) {
		d.Kill(t)
		kills++
		d = env.Start(t)
		restarts = append(restarts, d.Ready)
		if d.Ready > maxRestart {
			t.Errorf("round %d: restarted daemon served /healthz after %v, want within %v", i, d.Ready, maxRestart)
		}
	}
	observe := func(r *round, c checkout.Checkout) {
		if c.SenceNo != "" {
			if r.sence == "" {
				r.sence = c.SenceNo
			} else if c.SenceNo != r.sence {
				t.Errorf("round %d: checkout %s sence_no changed from %s to %s for the same code", r.n, r.id, r.sence, c.SenceNo)
			}
		}
		if c.Error != nil {
			if r.errs == nil {
				r.errs = map[string]bool{}
			}
			r.errs[c.Error.Code] = true
			if slices.Contains(defectCodes, c.Error.Code) {
				t.Errorf("round %d: checkout %s has error %s: %s", r.n, r.id, c.Error.Code, c.Error.Message)
			}
		}
	}

	unseenRounds := 0
	for i := range *roundsFlag {
		// Every third block of ten rounds runs against a gateway that
		// answers a cancel of an unseen out_trade_no ACQ.TRADE_NOT_EXIST
		// and leaves the number open (issue 10): a pay still on its way
		// when the daemon was killed may land after the restart's cancel.
		if unseen := i/10%3 == 2; unseen != faults.CancelUnseenNotExist {
			faults.CancelUnseenNotExist, faults.Seed = unseen, seed+int64(i)
			env.Sandbox.SetFaults(faults)
		}
		if faults.CancelUnseenNotExist {
			unseenRounds++
		}
		r := &round{n: i, order: fmt.Sprintf("K%04d", i), amount: gateway.Amount(1 + rng.IntN(99999))}
		switch p := rng.IntN(10); {
		case p < 5:
			r.code, r.kind = testenv.Code(), "ordinary"
		case p < 9:
			n := rng.IntN(4)
			r.code, r.kind = testenv.TestCode(testenv.ScenarioPasswordWait, n), fmt.Sprintf("wait %d", n)
		default:
			r.code, r.kind = testenv.TestCode(testenv.ScenarioCommitUnknown, 0), "commit-unknown"
		}
		rounds = append(rounds, r)

		co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: r.order, Amount: r.amount, Subject: "Crash " + r.order})
		if err != nil {
			t.Fatalf("round %d: create: %v", i, err)
		}
		r.id = co.ID
		testenv.WaitScannerOpen(t, cl, 5*time.Second)
		env.Scanner.Scan(t, r.code)
		time.Sleep(time.Duration(rng.Int64N(int64(*killMax) + 1)))

		killRestart(i)

		c, err := cl.GetCheckout(ctx, r.id, 0)
		if err != nil {
			t.Fatalf("round %d: after restart: %v", i, err)
		}
		r.after = c.State
		afterHist[c.State]++
		observe(r, c)
		// A quarter of the rescans are cut short by another kill.
		freeSlot(t, env, cl, r, observe, func() {
			if rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.Int64N(int64(*killMax) + 1)))
				killRestart(i)
			}
		})
	}
	roundsTook := time.Since(start)

	// The gateway heals; everything must come to an end by itself.
	env.Sandbox.SetFaults(sandbox.Faults{})
	settleStart := time.Now()
	deadline := settleStart.Add(settleBound)
	final := map[string]checkout.Checkout{}
	for _, r := range rounds {
		for {
			left := time.Until(deadline)
			if left <= 0 {
				c, _ := cl.GetCheckout(ctx, r.id, 0)
				jobs, _ := cl.ListJobs(ctx, queue.Filter{})
				for _, j := range jobs {
					if strings.Contains(string(j.Payload), r.id) || j.Key == c.OutTradeNo {
						t.Logf("its job %d %s %s: %s, %d attempts, next %s: %s", j.ID, j.Kind, j.Key, j.State, j.Attempts, j.NextRun.Format(time.RFC3339Nano), j.LastError)
					}
				}
				for _, l := range env.Log(t) {
					if l.Str("checkout_id") == r.id || strings.Contains(l.Str("key"), c.OutTradeNo) || l.Str("event") == "queue_offline" || l.Str("event") == "queue_online" || strings.HasPrefix(l.Str("event"), "probe") {
						t.Logf("log: %s %s %s %s", l.Str("time"), l.Str("level"), l.Str("event"), l.Str("message"))
					}
				}
				t.Fatalf("round %d: checkout %s not final %v after the faults were cleared: %+v", r.n, r.id, settleBound, c)
			}
			c, err := cl.GetCheckout(ctx, r.id, min(left, 30*time.Second))
			if err != nil {
				t.Fatalf("round %d: wait: %v", r.n, err)
			}
			if c.State.Terminal() {
				observe(r, c)
				final[r.id] = c
				break
			}
		}
	}
	settleTook := time.Since(settleStart)

	checkLedger(t, env, cl, rounds, final)
	checkQueue(t, cl)

	// Summary.
	finalHist, seenErr := map[string]int{}, map[string]int{}
	rescans, driverCancels := 0, 0
	for _, r := range rounds {
		c := final[r.id]
		k := string(c.State)
		if c.Refunded {
			k += " (refunded)"
		}
		if c.Error != nil {
			k += " " + c.Error.Code
		}
		finalHist[k]++
		rescans += r.rescans
		for code := range r.errs {
			seenErr[code]++
		}
		if c.State == checkout.Cancelled && c.Error == nil && c.OutTradeNo == "" {
			driverCancels++
		}
	}
	slices.Sort(restarts)
	var sum time.Duration
	for _, r := range restarts {
		sum += r
	}
	t.Logf(`crash summary (seed %d)
  rounds %d (%d with cancel_unseen_not_exist), kills %d, restarts %d, in %v (%v a round); settled in %v
  restart to serving /healthz: max %v, median %v, mean %v
  state right after restart: %s
  final states: %s
  rescans %d, checkouts cancelled by the driver before paying %d
  checkouts that showed each error code at some point: %s`,
		seed, len(rounds), unseenRounds, kills, len(restarts), roundsTook.Round(time.Millisecond),
		(roundsTook / time.Duration(max(1, len(rounds)))).Round(time.Millisecond), settleTook.Round(time.Millisecond),
		restarts[len(restarts)-1].Round(time.Millisecond), restarts[len(restarts)/2].Round(time.Millisecond),
		(sum / time.Duration(len(restarts))).Round(time.Millisecond),
		hist(afterHist), hist(finalHist), rescans, driverCancels, hist(seenErr))
}

// freeSlot brings the round's checkout out of the scan slot (awaiting_scan
// or decoding), as the cashier would: rescan the same code, and after
// maxRescans rescans that did not take, cancel it. afterScan runs after
// each rescan (it may kill and restart the daemon).
func freeSlot(t *testing.T, env *testenv.Env, cl *api.Client, r *round, observe func(*round, checkout.Checkout), afterScan func()) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(slotBound)
	for time.Now().Before(deadline) {
		c, err := cl.GetCheckout(ctx, r.id, 0)
		if err != nil {
			t.Fatalf("round %d: %v", r.n, err)
		}
		observe(r, c)
		switch c.State {
		case checkout.Decoding:
			time.Sleep(20 * time.Millisecond)
			continue
		case checkout.AwaitingScan:
		default:
			return // paying, waiting, cancelling or final: no longer holds the scanner
		}
		if r.rescans >= maxRescans {
			cc, err := cl.CancelCheckout(ctx, r.id)
			if err != nil && !isConflict(err) {
				t.Fatalf("round %d: cancel: %v", r.n, err)
			}
			observe(r, cc)
			continue
		}
		testenv.WaitScannerOpen(t, cl, 5*time.Second)
		env.Scanner.Scan(t, r.code)
		r.rescans++
		afterScan()
		// Wait until the scan took: the checkout left awaiting_scan or was
		// updated (a rejected decode comes back with an error).
		until := time.Now().Add(8 * time.Second)
		for time.Now().Before(until) {
			n, err := cl.GetCheckout(ctx, r.id, 0)
			if err == nil && (n.State != checkout.AwaitingScan || n.UpdatedAt.After(c.UpdatedAt)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c, _ := cl.GetCheckout(ctx, r.id, 0)
	t.Fatalf("round %d: checkout %s still holds the scanner after %v: %+v", r.n, r.id, slotBound, c)
}

func isConflict(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == 409
}

// checkLedger checks the run's checkouts against the sandbox's ledger.
func checkLedger(t *testing.T, env *testenv.Env, cl *api.Client, rounds []*round, final map[string]checkout.Checkout) {
	t.Helper()
	trades := env.Sandbox.Trades()
	byOut := map[string][]sandbox.Trade{}
	charged := map[string][]sandbox.Trade{} // buyer (one per round's code) → successful, unrefunded trades
	for _, tr := range trades {
		byOut[tr.OutTradeNo] = append(byOut[tr.OutTradeNo], tr)
		if tr.Status == "TRADE_SUCCESS" && !tr.Refunded {
			charged[tr.BuyerUserID] = append(charged[tr.BuyerUserID], tr)
		}
	}
	owner := map[string]checkout.Checkout{} // out_trade_no → checkout
	for _, r := range rounds {
		c := final[r.id]
		if c.OutTradeNo != "" {
			if o, dup := owner[c.OutTradeNo]; dup {
				t.Errorf("out_trade_no %s used by checkouts %s and %s", c.OutTradeNo, o.ID, c.ID)
			}
			owner[c.OutTradeNo] = c
		}
		buyer := sandbox.UserIDOf(r.code)

		// No order charged twice.
		if n := len(charged[buyer]); n > 1 {
			t.Errorf("round %d (order %s): charged %d times: %+v", r.n, r.order, n, charged[buyer])
		}
		switch c.State {
		case checkout.Paid:
			ts := byOut[c.OutTradeNo]
			if len(ts) != 1 || ts[0].Status != "TRADE_SUCCESS" || ts[0].Refunded || ts[0].TotalAmount != c.PaidAmount || ts[0].TradeNo != c.TradeNo {
				t.Errorf("round %d: paid checkout %s (out_trade_no %s, paid %s, trade_no %s) has ledger %+v, want one TRADE_SUCCESS of that amount",
					r.n, c.ID, c.OutTradeNo, c.PaidAmount, c.TradeNo, ts)
			}
			if c.PaidAmount != r.amount || c.Discount != 0 {
				t.Errorf("round %d: paid %s discount %s, want %s", r.n, c.PaidAmount, c.Discount, r.amount)
			}
			if len(ts) == 1 && (ts[0].SenceNo != c.SenceNo || ts[0].BuyerUserID != buyer) {
				t.Errorf("round %d: ledger sence_no %s buyer %s, checkout sence_no %s buyer %s", r.n, ts[0].SenceNo, ts[0].BuyerUserID, c.SenceNo, buyer)
			}
		case checkout.Cancelled:
			for _, tr := range byOut[c.OutTradeNo] {
				if tr.Status == "TRADE_SUCCESS" && !tr.Refunded {
					t.Errorf("round %d: cancelled checkout %s, but its trade is charged: %+v", r.n, c.ID, tr)
				}
				if c.Refunded != tr.Refunded {
					t.Errorf("round %d: checkout %s refunded=%v, ledger %+v", r.n, c.ID, c.Refunded, tr)
				}
			}
		case checkout.Failed:
			t.Errorf("round %d (%s code): checkout %s failed: %+v (nothing in this run should fail)", r.n, r.kind, c.ID, c.Error)
		case checkout.NeedsAttention:
			t.Errorf("round %d: checkout %s needs attention: %+v (no code here refuses a cancel)", r.n, c.ID, c.Error)
		}
	}
	// Every successful, unrefunded trade belongs to a paid checkout.
	for _, tr := range trades {
		if tr.Status != "TRADE_SUCCESS" || tr.Refunded {
			continue
		}
		if c, ok := owner[tr.OutTradeNo]; !ok || c.State != checkout.Paid {
			t.Errorf("ledger trade %+v is charged, but no paid checkout owns it (owner %+v)", tr, c)
		}
	}
	// Nothing the driver did not create.
	all, err := cl.ListCheckouts(context.Background(), checkout.ListFilter{Limit: checkout.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) <= checkout.MaxListLimit && len(all) != len(rounds) {
		t.Errorf("daemon lists %d checkouts, the driver created %d", len(all), len(rounds))
	}
	for _, c := range all {
		if !c.State.Terminal() {
			t.Errorf("checkout %s still %s after settling", c.ID, c.State)
		}
	}
}

// checkQueue: once settled, no job is left pending, dead or failed.
func checkQueue(t *testing.T, cl *api.Client) {
	t.Helper()
	var st api.Status
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if st, err = cl.Status(context.Background()); err == nil && st.Queue != nil && st.Queue.Pending == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Queue == nil || st.Queue.Pending != 0 || st.Queue.Dead != 0 || st.Queue.Failed != 0 {
		t.Errorf("queue after settling: %+v", st.Queue)
		jobs, _ := cl.ListJobs(context.Background(), queue.Filter{})
		for _, j := range jobs {
			if j.State != queue.StateDone {
				t.Errorf("  job %d %s %s: %s, %d attempts, last error %q, payload %s", j.ID, j.Kind, j.Key, j.State, j.Attempts, j.LastError, j.Payload)
			}
		}
	}
	if !st.Gateway.Reachable {
		t.Errorf("gateway unreachable after settling: %+v", st.Gateway)
	}
}

// hist formats a histogram as "k=n, ..." sorted by key.
func hist[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[K(k)])
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
