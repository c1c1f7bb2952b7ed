package queue_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
	"posagent/queue"
)

// failOnce fails the first attempt of every job, then succeeds.
type failOnce struct{ calls atomic.Int32 }

func (f *failOnce) handle(_ context.Context, j queue.Job) (any, error) {
	if f.calls.Add(1) == 1 {
		return nil, errors.New("SYSTEM_ERROR")
	}
	return nil, nil
}

// TestScheduleSurvivesClockSteps is the regression test of issue 10 item
// 4: the wall clock stepped back during a backoff used to delay the job by
// the size of the step, and stepped forward it used to age (dead-letter)
// jobs made seconds before. Schedules run on elapsed (monotonic) time.
func TestScheduleSurvivesClockSteps(t *testing.T) {
	const backoff = 750 * time.Millisecond // Backoff(1, 1 s, …, 0.5)
	t.Run("back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clk := clock.NewFake(t0)
			q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half})
			h := &failOnce{}
			q.Handle(queue.KindTradeCancel, h.handle)
			startRun(t, q)
			j := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
			synctest.Wait()
			clk.Step(-time.Hour)
			advance(clk, backoff)
			if j = mustGet(t, q, j.ID); j.State != queue.StateDone || j.Attempts != 2 {
				t.Fatalf("after its backoff, the clock set back 1 h: %+v", j)
			}
		})
	})
	t.Run("forward", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clk := clock.NewFake(t0)
			q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half, MaxAge: time.Hour})
			q.Handle(queue.KindTradeCancel, alwaysFails)
			q.Handle(queue.KindAwardReceive, alwaysFails)
			startRun(t, q)
			c := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
			a := mustEnqueue(t, q, queue.KindAwardReceive, "A1", nil)
			synctest.Wait()
			clk.Step(100 * time.Hour)
			advance(clk, backoff)
			for _, id := range []uint64{c.ID, a.ID} {
				if j := mustGet(t, q, id); j.State != queue.StatePending || j.Attempts != 2 {
					t.Fatalf("seconds old, the clock set forward 100 h: %+v", j)
				}
			}
			if st, _ := q.Stats(); st.Dead != 0 || st.Overdue != 0 {
				t.Fatalf("Stats = %+v", st)
			}
			if n := len(lb.Events("job_dead")) + len(lb.Events("job_overdue")); n != 0 {
				t.Fatalf("%d job_dead/job_overdue lines", n)
			}
		})
	})
	t.Run("back_before_restart", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "posagent.db")
			clk := clock.NewFake(t0)
			opts := queue.Options{Clock: clk, Rand: half, BaseBackoff: time.Minute, MaxBackoff: time.Hour}
			db := mustOpenPath(t, path)
			q, _ := MustOpenQueue(t, db, opts)
			h := &failOnce{}
			q.Handle(queue.KindTradeCancel, h.handle)
			stop := startRun(t, q)
			j := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
			synctest.Wait()
			if j = mustGet(t, q, j.ID); j.Attempts != 1 || j.NextRun.Sub(clk.Now()) != 45*time.Second {
				t.Fatalf("after the first attempt: %+v", j)
			}
			stop()
			db.Close()

			// Set back by an hour while the daemon is down: the stored next
			// run is now 1 h 45 s away, but the job waits only its backoff.
			clk.Step(-time.Hour)
			db = mustOpenPath(t, path)
			q, _ = MustOpenQueue(t, db, opts)
			q.Handle(queue.KindTradeCancel, h.handle)
			startRun(t, q)
			synctest.Wait()
			advance(clk, 45*time.Second)
			if j = mustGet(t, q, j.ID); j.State != queue.StateDone || j.Attempts != 2 {
				t.Fatalf("45 s after a restart with the clock set back 1 h: %+v", j)
			}
		})
	})
}
