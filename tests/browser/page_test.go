//go:build linux

// Package browser drives the store status page in a real headless Chromium
// (Debian's chromium, installed by .ci/run) against the real daemon.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
	"posagent/tests/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// chromium finds the browser; without one the test is skipped on a
// developer's machine and fails in CI, where .ci/run installs it.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("POSAGENT_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium (apt-get install chromium); CI runs this test")
	return ""
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(420, 900), // a small screen beside the till
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// artifact saves b as a test artifact: in $POSAGENT_ARTIFACTS when set
// (CI keeps it), else in the test's temp dir.
func artifact(t *testing.T, name string, b []byte) {
	dir := os.Getenv("POSAGENT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s", p)
}

// waitText waits until the first element matching the CSS selector sel
// shows want in its text.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	poll := chromedp.Poll[bool](fmt.Sprintf(`((document.querySelector(%s) || {}).textContent || "").includes(%s)`, js, w))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := poll(ctx, t); err != nil {
			return fmt.Errorf("%s never showed %q: %w", sel, want, err)
		}
		return nil
	})
}

// login types the token into the page's login form and waits for the
// live feed.
func login(t *testing.T, ctx context.Context, env *testenv.Env) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(env.BaseURL()+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), env.Token(t)),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("recent")),
		waitText("#live", "live"),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
}

func TestStatusPageInChromium(t *testing.T) {
	env := testenv.New(t, testenv.Options{Extra: "[queue]\nmax_age = \"2s\"\n\n[reconcile]\nat = \"\"\n"})
	env.Start(t)
	cl := env.Client(t)
	testenv.WaitScannerOpen(t, cl, 10*time.Second)
	ctx := browser(t)

	// Log in with the token once.
	login(t, ctx, env)
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "till status") {
		t.Fatalf("title after login = %q", title)
	}
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(localStorage)+JSON.stringify(sessionStorage)+document.cookie+location.href+document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, env.Token(t)) {
		t.Fatalf("the token is visible to the page: %s", stored)
	}

	// A checkout goes paid live, without a reload: the marker set on this
	// page load survives.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameLoad = 1`)); err != nil {
		t.Fatal(err)
	}
	co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "WEB-1", Amount: 1880, Subject: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, waitText("#active", "awaiting_scan")); err != nil {
		t.Fatalf("the new checkout is not shown live: %v", err)
	}
	env.Scanner.Scan(t, testenv.Code())
	testenv.WaitState(t, cl, co.ID, checkout.Paid, 20*time.Second)
	row := fmt.Sprintf(`#checkouts tr[data-id="%s"] .state`, co.ID)
	if err := chromedp.Do(ctx, waitText(row, "paid")); err != nil {
		t.Fatalf("the checkout did not go paid on the page: %v", err)
	}
	if err := chromedp.Do(ctx, waitText("#takings-paid", "18.80")); err != nil {
		t.Fatalf("today's takings did not follow the payment: %v", err)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameLoad || 0`)); err != nil || same != 1 {
		t.Fatalf("the page reloaded (marker %d, %v)", same, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "status-page.png", png)

	// A job that gave up is retried from the page.
	env.Sandbox.SetFaults(sandbox.Faults{Fail20000: 1, Methods: []string{gateway.MethodInviteAward}})
	// With max_age 2s the award may already be dead when the API answers
	// (422); either way its job is in the queue.
	_, _ = cl.Award(ctx, api.AwardRequest{Mobile: "13800000001", OutBizNo: "WEB-AWARD-1"})
	jobs, err := cl.ListJobs(ctx, queue.Filter{Kind: queue.KindAwardReceive})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("award jobs: %+v %v", jobs, err)
	}
	job := jobs[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := cl.GetJob(ctx, job.ID)
		if err == nil && j.State == queue.StateDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("award job never dead-lettered: %+v %v", j, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	env.Sandbox.SetFaults(sandbox.Faults{})
	retry := fmt.Sprintf(`button.retry[data-id="%d"]`, job.ID)
	err = chromedp.Do(ctx,
		waitText(fmt.Sprintf(`#job-rows tr[data-id="%d"] .state`, job.ID), "dead"),
		chromedp.Click(chromedp.CSS(retry)),
		waitText("#action-result", fmt.Sprintf("Job %d is", job.ID)),
	)
	if err != nil {
		t.Fatalf("retry from the page: %v", err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		j, _ := cl.GetJob(ctx, job.ID)
		if j.State == queue.StateDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retried award job not done: %+v", j)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A state change without the page's CSRF token is refused, even from
	// the page's own origin with its cookie.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/v1/jobs/%d/retry", {method: "POST", credentials: "same-origin"}).then(r => r.status)`, job.ID), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != 403 {
		t.Fatalf("POST without the CSRF token from the page = %d, want 403", status)
	}
}

// A trade whose cancel Alipay refused shows under "Needs attention" live;
// once the merchant portal shows it paid, the cashier keeps the sale from
// the page, and posagent checks that against a fresh trade.query.
func TestStatusPageResolvesNeedsAttention(t *testing.T) {
	env := testenv.New(t, testenv.Options{QueryInterval: "1s", DecisionDeadline: "2s", Extra: "[reconcile]\nat = \"\"\n"})
	env.Start(t)
	cl := env.Client(t)
	ctx := browser(t)
	login(t, ctx, env)

	// Scenario 15: the buyer confirms only at the 9th query, and a cancel
	// is refused (ACQ.TRADE_CANCEL_TIME_OUT): needs_attention.
	co, _, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "WEB-NA-1", Amount: 990, Subject: "web", AuthCode: testenv.TestCode(15, 9)})
	if err != nil {
		t.Fatal(err)
	}
	co = testenv.WaitState(t, cl, co.ID, checkout.NeedsAttention, 30*time.Second)
	accept := fmt.Sprintf(`#attention-rows button.resolve[data-id="%s"][data-action="accept"]`, co.ID)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(accept))); err != nil {
		t.Fatalf("the needs_attention checkout is not on the page: %v", err)
	}

	// Keeping the sale while Alipay still waits for the buyer is refused
	// with what Alipay says.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(accept)), waitText("#resolve-result", "Not settled")); err != nil {
		t.Fatalf("accept of an unpaid trade: %v", err)
	}
	// The buyer confirms (the merchant portal would now show it paid).
	gw := env.Sandbox.Client()
	for i := 0; ; i++ {
		q, err := gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: co.OutTradeNo})
		if err == nil && q.TradeStatus == "TRADE_SUCCESS" {
			break
		}
		if i > 10 {
			t.Fatalf("the sandbox trade never paid: %+v %v", q, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(accept)), waitText("#resolve-result", "is paid")); err != nil {
		t.Fatalf("accept from the page: %v", err)
	}
	if got := testenv.WaitState(t, cl, co.ID, checkout.Paid, 10*time.Second); got.PaidAmount != 990 {
		t.Fatalf("resolved checkout = %+v", got)
	}
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.CSS(accept))); err != nil {
		t.Fatalf("the resolved checkout is still listed: %v", err)
	}
}
