package queue_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
	"posagent/queue"
)

// The tests in this file run in a synctest bubble with a clock.Fake:
// clk.Advance moves the queue's time, and synctest.Wait returns once the
// scheduler and every handler are idle again, so days of retries run in
// milliseconds and deterministically.

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func half() float64 { return 0.5 }

// advance moves clk by d and waits until the queue settled.
func advance(clk *clock.Fake, d time.Duration) {
	clk.Advance(d)
	synctest.Wait()
}

func TestBackoffFromStoredAttemptsSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "posagent.db")
		clk := clock.NewFake(t0)
		opts := queue.Options{Clock: clk, Rand: half}
		var calls atomic.Int32
		fail := func(context.Context, queue.Job) (any, error) {
			calls.Add(1)
			return nil, errors.New("ACQ.SYSTEM_ERROR")
		}

		db := mustOpenPath(t, path)
		q, lb := MustOpenQueue(t, db, opts)
		q.Handle(queue.KindTradeReconcile, fail)
		stop := startRun(t, q)
		j := mustEnqueue(t, q, queue.KindTradeReconcile, "T1", nil)
		synctest.Wait()
		for n := 1; n <= 3; n++ {
			j = mustGet(t, q, j.ID)
			want := clk.Now().Add(queue.Backoff(n, time.Second, 5*time.Minute, 0.5))
			if j.Attempts != n || !j.NextRun.Equal(want) || j.State != queue.StatePending || j.LastError != "ACQ.SYSTEM_ERROR" {
				t.Fatalf("after attempt %d: %+v; want next_run %s", n, j, want)
			}
			if n < 3 {
				advance(clk, j.NextRun.Sub(clk.Now()))
			}
		}
		if got := len(lb.Events("job_retry")); got != 3 {
			t.Fatalf("%d job_retry lines, want 3", got)
		}
		stop()
		db.Close()

		// Restart on the same file: the stored attempts and next run hold.
		db = mustOpenPath(t, path)
		q, _ = MustOpenQueue(t, db, opts)
		q.Handle(queue.KindTradeReconcile, fail)
		startRun(t, q)
		synctest.Wait()
		advance(clk, j.NextRun.Sub(clk.Now())-time.Nanosecond)
		if calls.Load() != 3 {
			t.Fatalf("ran before its stored next run: %d calls", calls.Load())
		}
		advance(clk, time.Nanosecond)
		j = mustGet(t, q, j.ID)
		if want := clk.Now().Add(queue.Backoff(4, time.Second, 5*time.Minute, 0.5)); j.Attempts != 4 || !j.NextRun.Equal(want) {
			t.Fatalf("after restart: %+v, want attempt 4 and next run %s", j, want)
		}
	})
}

func TestBackoff(t *testing.T) {
	const base, max = time.Second, 5 * time.Minute
	for _, c := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.5, 750 * time.Millisecond},
		{0, 0, 500 * time.Millisecond},
		{2, 0, time.Second},
		{4, 0.5, 6 * time.Second},
		{9, 0, 128 * time.Second},
		{10, 0, 150 * time.Second}, // 512 s capped at 300 s
		{10, 0.999999, max - 150*time.Microsecond},
		{1000, 0.5, 225 * time.Second},
		{3, 7, time.Second * 2}, // out-of-range jitter counts as 0
	} {
		if got := queue.Backoff(c.attempt, base, max, c.jitter); got != c.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", c.attempt, c.jitter, got, c.want)
		}
	}
	for a := 1; a < 100; a++ {
		if d := queue.Backoff(a, base, max, 0.999); d > max || d < base/2 {
			t.Fatalf("Backoff(%d) = %v out of [%v, %v]", a, d, base/2, max)
		}
	}
}

func TestDeadLetterAfterMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half, MaxAge: time.Hour})
		var healthy atomic.Bool
		q.Handle(queue.KindAwardReceive, func(context.Context, queue.Job) (any, error) {
			if healthy.Load() {
				return map[string]string{"biz_result_code": "NEW_AWARD_SUCESS"}, nil
			}
			return nil, errors.New("SYSTEM_ERROR")
		})
		startRun(t, q)
		j := mustEnqueue(t, q, queue.KindAwardReceive, "A1", map[string]string{"mobile": "13800000000"})
		synctest.Wait()
		for clk.Now().Sub(t0) < time.Hour {
			if j = mustGet(t, q, j.ID); j.State != queue.StatePending {
				t.Fatalf("at %s: %+v", clk.Now().Sub(t0), j)
			}
			advance(clk, time.Minute)
		}
		// Backoff is at most 5 min: within that, an attempt fails past MaxAge.
		advance(clk, 5*time.Minute)
		j = mustGet(t, q, j.ID)
		if j.State != queue.StateDead || j.LastError != "SYSTEM_ERROR" {
			t.Fatalf("after MaxAge: %+v", j)
		}
		dead := lb.Events("job_dead")
		if len(dead) != 1 || dead[0]["level"] != "error" || dead[0]["key"] != "A1" || dead[0]["kind"] != queue.KindAwardReceive ||
			dead[0]["attempt"] != float64(j.Attempts) || dead[0]["error"] != "SYSTEM_ERROR" {
			t.Fatalf("job_dead log = %v", dead)
		}
		if p, d, _ := q.Depth(); p != 0 || d != 1 {
			t.Fatalf("Depth = %d pending, %d dead", p, d)
		}
		if l, _ := q.List(queue.Filter{State: queue.StateDead}); len(l) != 1 || l[0].ID != j.ID {
			t.Fatalf("List dead = %+v", l)
		}
		// Dead jobs stay dead.
		attempts := j.Attempts
		advance(clk, time.Hour)
		if j = mustGet(t, q, j.ID); j.State != queue.StateDead || j.Attempts != attempts {
			t.Fatalf("dead job moved: %+v", j)
		}

		// Retried by hand: pending now, attempts kept, a fresh MaxAge.
		if err := q.Retry(j.ID); err != nil {
			t.Fatal(err)
		}
		if j = mustGet(t, q, j.ID); j.State != queue.StatePending && j.State != queue.StateDead {
			t.Fatalf("after Retry: %+v", j)
		}
		synctest.Wait() // one more failure: not dead, MaxAge counts from the retry
		j = mustGet(t, q, j.ID)
		if j.State != queue.StatePending || j.Attempts != attempts+1 || !j.RetriedAt.Equal(clk.Now()) {
			t.Fatalf("after Retry and a failure: %+v (attempts before %d)", j, attempts)
		}
		healthy.Store(true)
		advance(clk, j.NextRun.Sub(clk.Now()))
		j = mustGet(t, q, j.ID)
		if j.State != queue.StateDone || string(j.Result) != `{"biz_result_code":"NEW_AWARD_SUCESS"}` || j.LastError != "" {
			t.Fatalf("after recovery: %+v", j)
		}
	})
}

func TestPermanentAndRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half})
		var calls sync.Map
		q.Handle("x", func(_ context.Context, j queue.Job) (any, error) {
			n, _ := calls.LoadOrStore(j.Key, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
			switch j.Key {
			case "perm":
				return nil, queue.Permanent(errors.New("INVALID_PARAMETER"))
			case "later":
				return nil, queue.Retry(errors.New("retry_flag=Y"), 10*time.Minute)
			}
			panic("boom")
		})
		startRun(t, q)
		perm := mustEnqueue(t, q, "x", "perm", nil)
		later := mustEnqueue(t, q, "x", "later", nil)
		panicky := mustEnqueue(t, q, "x", "panic", nil)
		synctest.Wait()

		if j := mustGet(t, q, perm.ID); j.State != queue.StateFailed || j.Attempts != 1 || j.LastError != "permanent: INVALID_PARAMETER" {
			t.Fatalf("permanent: %+v", j)
		}
		if f := lb.Events("job_failed"); len(f) != 1 || f[0]["level"] != "error" || f[0]["key"] != "perm" {
			t.Fatalf("job_failed log = %v", f)
		}
		if j := mustGet(t, q, later.ID); j.State != queue.StatePending || !j.NextRun.Equal(clk.Now().Add(10*time.Minute)) {
			t.Fatalf("retry after: %+v", j)
		}
		if j := mustGet(t, q, panicky.ID); j.State != queue.StatePending || j.Attempts != 1 || j.LastError != "handler panic: boom" {
			t.Fatalf("panic: %+v", j)
		}
		advance(clk, 9*time.Minute)
		n, _ := calls.Load("later")
		if got := n.(*atomic.Int32).Load(); got != 1 {
			t.Fatalf("retried %d times before its Retry delay", got)
		}
		advance(clk, time.Minute)
		if got := n.(*atomic.Int32).Load(); got != 2 {
			t.Fatalf("%d calls after the Retry delay, want 2", got)
		}
		advance(clk, 24*time.Hour)
		n, _ = calls.Load("perm")
		if got := n.(*atomic.Int32).Load(); got != 1 {
			t.Fatalf("permanent failure retried: %d calls", got)
		}
		if s, _ := q.Stats(); s.Failed != 1 || s.Dead != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestRetryAndDropRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half})
		var fixed atomic.Bool
		q.Handle(queue.KindCouponReport, func(_ context.Context, j queue.Job) (any, error) {
			if j.Key == "bad" && !fixed.Load() {
				return nil, queue.Permanent(errors.New("HTTP 400"))
			}
			return nil, nil
		})
		startRun(t, q)
		done := mustEnqueue(t, q, queue.KindCouponReport, "ok", nil)
		bad := mustEnqueue(t, q, queue.KindCouponReport, "bad", nil)
		cancel := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil) // no handler: stays pending
		recon := mustEnqueue(t, q, queue.KindTradeReconcile, "T2", nil)
		synctest.Wait()

		if err := q.Retry(done.ID); !errors.Is(err, queue.ErrState) {
			t.Fatalf("Retry(done) = %v, want ErrState", err)
		}
		if err := q.Retry(999); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("Retry(unknown) = %v", err)
		}
		if err := q.Drop(999); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("Drop(unknown) = %v", err)
		}
		for _, j := range []queue.Job{cancel, recon} {
			if err := q.Drop(j.ID); !errors.Is(err, queue.ErrProtected) {
				t.Fatalf("Drop(%s) = %v, want ErrProtected", j.Kind, err)
			}
			if _, err := q.Get(j.ID); err != nil {
				t.Fatalf("%s gone after refused Drop: %v", j.Kind, err)
			}
		}

		if j := mustGet(t, q, bad.ID); j.State != queue.StateFailed {
			t.Fatalf("bad: %+v", j)
		}
		fixed.Store(true)
		if err := q.Retry(bad.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if j := mustGet(t, q, bad.ID); j.State != queue.StateDone || j.Attempts != 2 {
			t.Fatalf("bad after Retry: %+v", j)
		}

		// Drop removes the job and its key: the same key enqueues anew.
		if err := q.Drop(done.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Get(done.ID); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("Get after Drop: %v", err)
		}
		again, existed, err := q.Enqueue(queue.KindCouponReport, "ok", nil)
		if err != nil || existed || again.ID == done.ID {
			t.Fatalf("re-enqueue after Drop: %+v %v %v", again, existed, err)
		}
		synctest.Wait()

		// List: newest first, filtered.
		all, err := q.List(queue.Filter{})
		if err != nil || len(all) != 4 || all[0].ID != again.ID || all[3].ID != bad.ID {
			t.Fatalf("List = %+v, %v", all, err)
		}
		pend, _ := q.List(queue.Filter{State: queue.StatePending, Limit: 2})
		if len(pend) != 2 || pend[0].ID != recon.ID || pend[1].ID != cancel.ID {
			t.Fatalf("List pending = %+v", pend)
		}
		page, _ := q.List(queue.Filter{Kind: queue.KindCouponReport, Before: again.ID})
		if len(page) != 1 || page[0].ID != bad.ID {
			t.Fatalf("List page = %+v", page)
		}
		if _, err := q.List(queue.Filter{State: "bogus"}); err == nil {
			t.Fatal("List with an unknown state: no error")
		}
	})
}

func TestOrderingByNextRunThenID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Concurrency: 1})
		var mu sync.Mutex
		var order []string
		h := func(_ context.Context, j queue.Job) (any, error) {
			mu.Lock()
			order = append(order, j.Key)
			mu.Unlock()
			return nil, nil
		}
		q.Handle("a", h)
		q.Handle("b", h)
		want := []string{"1", "2", "3", "4", "5", "6"}
		for i, k := range want[:3] {
			kind := "a"
			if i%2 == 1 {
				kind = "b"
			}
			mustEnqueue(t, q, kind, k, nil)
		}
		clk.Advance(time.Second) // later jobs have a later next run
		for _, k := range want[3:] {
			mustEnqueue(t, q, "a", k, nil)
		}
		startRun(t, q)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(order) != len(want) {
			t.Fatalf("ran %v", order)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("order %v, want %v", order, want)
			}
		}
	})
}

func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Concurrency: 3})
		gate := make(chan struct{})
		var running, peak atomic.Int32
		h := func(context.Context, queue.Job) (any, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-gate
			running.Add(-1)
			return nil, nil
		}
		q.Handle(queue.KindAwardReceive, h)
		q.Handle(queue.KindCouponReport, h)
		for i := 0; i < 10; i++ {
			mustEnqueue(t, q, queue.KindAwardReceive, string(rune('a'+i)), nil)
			mustEnqueue(t, q, queue.KindCouponReport, string(rune('a'+i)), nil)
		}
		startRun(t, q)
		synctest.Wait()
		if running.Load() != 3 {
			t.Fatalf("%d handlers running, want 3", running.Load())
		}
		close(gate)
		synctest.Wait()
		if p, _, _ := q.Depth(); p != 0 || peak.Load() != 3 {
			t.Fatalf("pending %d, peak %d; want 0 and 3", p, peak.Load())
		}
	})
}

func TestRunStopCancelsHandlersAndRecordsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk})
		returned := make(chan struct{})
		q.Handle(queue.KindTradeCancel, func(ctx context.Context, _ queue.Job) (any, error) {
			<-ctx.Done()
			close(returned)
			return nil, ctx.Err()
		})
		j := mustEnqueue(t, q, queue.KindTradeCancel, "T9", nil)
		stop := startRun(t, q)
		synctest.Wait()
		stop() // returns only once the handler returned
		select {
		case <-returned:
		default:
			t.Fatal("Run returned before its handler")
		}
		if j = mustGet(t, q, j.ID); j.State != queue.StatePending || j.Attempts != 0 || j.LastError != "" {
			t.Fatalf("interrupted job: %+v", j)
		}
		if len(lb.Events("job_retry")) != 0 {
			t.Fatal("an interrupted attempt was logged as a retry")
		}
		if err := q.Run(context.Background()); !errors.Is(err, queue.ErrRunning) {
			t.Fatalf("second Run = %v", err)
		}
	})
}

// A handler that waits on the far side at a promised cadence (a cancel
// repeated every few seconds while a late pay may land) keeps that
// cadence with RetryIn however many attempts it made; Retry would let the
// backoff (here up to 5 min) stretch it. Regression for issue 10's "the
// cancel is repeated at least every 10 s".
func TestRetryInKeepsItsCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half})
		var calls atomic.Int32
		var failing atomic.Bool
		q.Handle(queue.KindTradeCancel, func(_ context.Context, j queue.Job) (any, error) {
			calls.Add(1)
			if failing.Load() {
				return nil, errors.New("20000: no clear answer")
			}
			return nil, queue.RetryIn(errors.New("ACQ.TRADE_NOT_EXIST: a pay may still land"), 3*time.Second)
		})
		startRun(t, q)
		j := mustEnqueue(t, q, queue.KindTradeCancel, "T01_1", nil)
		synctest.Wait()
		for i := 0; i < 40; i++ {
			advance(clk, 3*time.Second)
		}
		if got := calls.Load(); got != 41 {
			t.Fatalf("%d calls in 40 steps of 3 s, want 41 (one every 3 s)", got)
		}
		if got := mustGet(t, q, j.ID); got.State != queue.StatePending || !got.NextRun.Equal(clk.Now().Add(3*time.Second)) || got.Attempts != 0 {
			t.Fatalf("job after 41 waits: %+v (now %s)", got, clk.Now())
		}
		// The waits were answers, not failures: a real failure after them
		// backs off from the start (about a second), not 5 minutes.
		failing.Store(true)
		advance(clk, 3*time.Second)
		if got := mustGet(t, q, j.ID); got.Attempts != 1 || got.NextRun.Sub(clk.Now()) > 5*time.Second {
			t.Fatalf("first failure after 41 waits: %d attempts, next run in %s", got.Attempts, got.NextRun.Sub(clk.Now()))
		}
	})
}
