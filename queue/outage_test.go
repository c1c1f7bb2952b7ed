package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
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

func TestOutage48hBurnsNoAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const probe = 5 * time.Second
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half, MaxAge: 72 * time.Hour, ProbeInterval: probe})
		gw := &fakeRemote{}
		gw.down.Store(true)
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
		// The first wave (Concurrency 4) finds the gateway down; then nothing
		// runs but one probe per interval.
		if n := gw.calls.Load(); n != 4 || q.Online() {
			t.Fatalf("%d calls, online %v; want 4 calls and offline", n, q.Online())
		}
		if off := lb.Events("queue_offline"); len(off) != 1 || off[0]["remote"] != queue.RemoteGateway || off[0]["level"] != "warn" {
			t.Fatalf("queue_offline log = %v", off)
		}
		for i := 1; i <= 10; i++ {
			advance(clk, probe-time.Millisecond)
			if n := gw.calls.Load(); n != int32(3+i) {
				t.Fatalf("probe %d early: %d calls", i, n)
			}
			advance(clk, time.Millisecond)
			if n := gw.calls.Load(); n != int32(4+i) {
				t.Fatalf("after probe interval %d: %d calls, want %d", i, n, 4+i)
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
			before := gw.calls.Load()
			advance(clk, 10*time.Minute)
			if d := gw.calls.Load() - before; d != 1 {
				t.Fatalf("at %s: %d calls in one step, want 1 probe", clk.Now().Sub(t0), d)
			}
		}
		for _, id := range ids {
			if j := mustGet(t, q, id); j.State != queue.StatePending || j.Attempts != 0 {
				t.Fatalf("after 48 h offline: %+v", j)
			}
		}
		if _, dead, _ := q.Depth(); dead != 0 || len(lb.Events("job_dead")) != 0 {
			t.Fatalf("%d dead after 48 h (MaxAge 72 h)", dead)
		}
		if st := q.Remotes(); len(st) != 2 || st[0].Name != queue.RemoteGateway || st[0].Online || st[1].Online != true {
			t.Fatalf("Remotes = %+v", st)
		}

		// The gateway returns: the next probe succeeds and everything drains
		// within that same probe interval.
		gw.down.Store(false)
		advance(clk, probe)
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

func TestOutageBeyondMaxAgeDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const probe = 10 * time.Second
		gw := &fakeRemote{}
		gw.down.Store(true)
		var probes atomic.Int32
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{
			Clock: clk, Rand: half, MaxAge: 72 * time.Hour, ProbeInterval: probe,
			Probe: func(context.Context) error {
				probes.Add(1)
				if gw.down.Load() {
					return queue.ErrOffline
				}
				return nil
			},
		})
		q.Handle(queue.KindAwardReceive, gw.handler)
		var old []uint64
		for i := 0; i < 6; i++ {
			old = append(old, mustEnqueue(t, q, queue.KindAwardReceive, fmt.Sprintf("old%d", i), nil).ID)
		}
		startRun(t, q)
		synctest.Wait()
		var young queue.Job
		for clk.Now().Sub(t0) < 80*time.Hour {
			if clk.Now().Sub(t0) == 60*time.Hour {
				young = mustEnqueue(t, q, queue.KindAwardReceive, "young", nil)
			}
			before := probes.Load()
			advance(clk, 10*time.Minute)
			if probes.Load() != before+1 {
				t.Fatalf("at %s: %d probes in a step", clk.Now().Sub(t0), probes.Load()-before)
			}
			if clk.Now().Sub(t0) < 72*time.Hour {
				if _, dead, _ := q.Depth(); dead != 0 {
					t.Fatalf("dead-lettered at %s, before MaxAge", clk.Now().Sub(t0))
				}
			}
		}
		if n := gw.calls.Load(); n != 4 {
			t.Fatalf("%d handler calls; with a Probe only the first wave runs", n)
		}
		for _, id := range old {
			if j := mustGet(t, q, id); j.State != queue.StateDead || j.Attempts != 0 {
				t.Fatalf("old job after 80 h offline: %+v", j)
			}
		}
		dead := lb.Events("job_dead")
		if len(dead) != len(old) {
			t.Fatalf("%d job_dead lines, want %d", len(dead), len(old))
		}
		for _, d := range dead {
			if d["level"] != "error" || d["kind"] != queue.KindAwardReceive {
				t.Fatalf("job_dead line %v", d)
			}
		}
		if j := mustGet(t, q, young.ID); j.State != queue.StatePending {
			t.Fatalf("young job: %+v", j)
		}

		gw.down.Store(false)
		advance(clk, probe)
		if j := mustGet(t, q, young.ID); j.State != queue.StateDone {
			t.Fatalf("young job after the outage: %+v", j)
		}
		if j := mustGet(t, q, old[0]); j.State != queue.StateDead {
			t.Fatalf("dead job revived by itself: %+v", j)
		}
		if err := q.Retry(old[0]); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if j := mustGet(t, q, old[0]); j.State != queue.StateDone || j.Attempts != 1 {
			t.Fatalf("dead job retried by hand: %+v", j)
		}
	})
}
