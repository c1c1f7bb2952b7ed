package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
	"posagent/probe"
	"posagent/queue"
)

// fakeRemote is a remote that is down until told otherwise.
type fakeRemote struct {
	down  atomic.Bool
	calls atomic.Int32
}

func (f *fakeRemote) handler(_ context.Context, j queue.Job) (any, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, fmt.Errorf("%w: dial tcp 127.0.0.1:9: connection refused", queue.ErrOffline)
	}
	return map[string]string{"key": j.Key}, nil
}

// startProbe returns a probe of a remote that is down while down is set,
// counting its checks, run until cleanup.
func startProbe(tb testing.TB, clk clock.Clock, interval time.Duration, down *atomic.Bool, checks *atomic.Int32) *probe.Probe {
	tb.Helper()
	p, err := probe.New(probe.Options{Name: queue.RemoteGateway, Clock: clk, Interval: interval,
		Check: func(context.Context) error {
			checks.Add(1)
			if down.Load() {
				return fmt.Errorf("%w: dial tcp 127.0.0.1:9: connection refused", queue.ErrOffline)
			}
			return nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return p
}

func TestOutage48hBurnsNoAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const interval = 5 * time.Second
		gw := &fakeRemote{}
		gw.down.Store(true)
		var checks atomic.Int32
		p := startProbe(t, clk, interval, &gw.down, &checks)
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half, MaxAge: 72 * time.Hour, ProbeInterval: interval, Gateway: p})
		q.Handle(queue.KindAwardReceive, gw.handler)
		var reports atomic.Int32
		q.Handle(queue.KindCouponReport, func(context.Context, queue.Job) (any, error) {
			reports.Add(1)
			return nil, nil
		})
		var ids []uint64
		for i := 0; i < 20; i++ {
			ids = append(ids, mustEnqueue(t, q, queue.KindAwardReceive, fmt.Sprintf("A%02d", i), nil).ID)
		}
		startRun(t, q)
		synctest.Wait()
		// The first wave (Concurrency 4) finds the gateway down; it is checked
		// at once, then nothing runs but one check per interval.
		if n, c := gw.calls.Load(), checks.Load(); n != 4 || c != 1 || q.Online() || p.Online() {
			t.Fatalf("%d calls, %d checks, online %v; want 4 calls, 1 check and offline", n, c, q.Online())
		}
		if off := lb.Events("queue_offline"); len(off) != 1 || off[0]["remote"] != queue.RemoteGateway || off[0]["level"] != "warn" {
			t.Fatalf("queue_offline log = %v", off)
		}
		for i := 1; i <= 10; i++ {
			advance(clk, interval-time.Millisecond)
			if c := checks.Load(); c != int32(i) {
				t.Fatalf("check %d early: %d checks", i, c)
			}
			advance(clk, time.Millisecond)
			if c := checks.Load(); c != int32(1+i) {
				t.Fatalf("after check interval %d: %d checks, want %d", i, c, 1+i)
			}
		}
		// The merchant backend is another remote: reports do not wait.
		r := mustEnqueue(t, q, queue.KindCouponReport, "R1", nil)
		synctest.Wait()
		if j := mustGet(t, q, r.ID); j.State != queue.StateDone {
			t.Fatalf("report during a gateway outage: %+v", j)
		}

		// 48 hours down, in 10-minute steps.
		for clk.Now().Sub(t0) < 48*time.Hour {
			before := checks.Load()
			advance(clk, 10*time.Minute)
			if d := checks.Load() - before; d != 1 {
				t.Fatalf("at %s: %d checks in one step, want 1", clk.Now().Sub(t0), d)
			}
		}
		if n := gw.calls.Load(); n != 4 {
			t.Fatalf("%d job attempts while the gateway was down; only the first wave may run", n)
		}
		for _, id := range ids {
			if j := mustGet(t, q, id); j.State != queue.StatePending || j.Attempts != 0 {
				t.Fatalf("after 48 h offline: %+v", j)
			}
		}
		if _, dead, _ := q.Depth(); dead != 0 || len(lb.Events("job_dead")) != 0 {
			t.Fatalf("%d dead after 48 h (MaxAge 72 h)", dead)
		}
		if st := q.Remotes(); len(st) != 2 || st[0].Name != queue.RemoteGateway || st[0].Online || st[0].Since.IsZero() || st[1].Online != true {
			t.Fatalf("Remotes = %+v", st)
		}

		// The gateway returns: the next check gets an answer and everything
		// drains at once.
		gw.down.Store(false)
		advance(clk, interval)
		for _, id := range ids {
			if j := mustGet(t, q, id); j.State != queue.StateDone || j.Attempts != 1 || j.LastError != "" {
				t.Fatalf("after the outage: %+v", j)
			}
		}
		if !q.Online() || len(lb.Events("queue_online")) != 1 || len(lb.Events("job_done")) != 21 {
			t.Fatalf("online %v, %d queue_online, %d job_done", q.Online(), len(lb.Events("queue_online")), len(lb.Events("job_done")))
		}
	})
}

// A remote offline for longer than MaxAge: its jobs wait, not counted and
// not dead-lettered (no attempt failed); a money-moving job among them is
// overdue and logged hourly. When the remote is back they run: a success
// is done, a failure past MaxAge is dead-lettered then.
func TestOutageBeyondMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const interval = 10 * time.Second
		gw := &fakeRemote{}
		gw.down.Store(true)
		var checks atomic.Int32
		p := startProbe(t, clk, interval, &gw.down, &checks)
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{
			Clock: clk, Rand: half, MaxAge: 72 * time.Hour, ProbeInterval: interval, Gateway: p,
		})
		q.Handle(queue.KindAwardReceive, func(ctx context.Context, j queue.Job) (any, error) {
			if j.Key == "broken" && !gw.down.Load() {
				return nil, errors.New("SYSTEM_ERROR")
			}
			return gw.handler(ctx, j)
		})
		q.Handle(queue.KindTradeCancel, gw.handler)
		var old []uint64
		for i := 0; i < 6; i++ {
			old = append(old, mustEnqueue(t, q, queue.KindAwardReceive, fmt.Sprintf("old%d", i), nil).ID)
		}
		broken := mustEnqueue(t, q, queue.KindAwardReceive, "broken", nil)
		cancel := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
		startRun(t, q)
		synctest.Wait()
		var young queue.Job
		for clk.Now().Sub(t0) < 80*time.Hour {
			if clk.Now().Sub(t0) == 60*time.Hour {
				young = mustEnqueue(t, q, queue.KindAwardReceive, "young", nil)
			}
			before := checks.Load()
			advance(clk, 10*time.Minute)
			if checks.Load() != before+1 {
				t.Fatalf("at %s: %d checks in a step", clk.Now().Sub(t0), checks.Load()-before)
			}
		}
		if n := gw.calls.Load(); n != 4 {
			t.Fatalf("%d handler calls; only the first wave runs", n)
		}
		if st, _ := q.Stats(); st.Dead != 0 || st.Pending != 9 || st.Overdue != 1 {
			t.Fatalf("after 80 h offline: %+v", st)
		}
		// Overdue from 72 h: logged at 72, 73, …, 80 h.
		if over := lb.Events("job_overdue"); len(over) != 9 || over[0]["key"] != "T1" || over[0]["level"] != "error" {
			t.Fatalf("%d job_overdue lines: %v", len(over), over)
		}

		gw.down.Store(false)
		advance(clk, interval)
		for _, id := range append(old, young.ID, cancel.ID) {
			if j := mustGet(t, q, id); j.State != queue.StateDone || j.Attempts != 1 {
				t.Fatalf("after the outage: %+v", j)
			}
		}
		if j := mustGet(t, q, broken.ID); j.State != queue.StateDead || j.Attempts != 1 {
			t.Fatalf("failing job past MaxAge after the outage: %+v", j)
		}
		if d := lb.Events("job_dead"); len(d) != 1 || d[0]["key"] != "broken" || d[0]["level"] != "error" {
			t.Fatalf("job_dead = %v", d)
		}
		if st, _ := q.Stats(); st.Overdue != 0 || st.Pending != 0 {
			t.Fatalf("after the outage: %+v", st)
		}
	})
}
