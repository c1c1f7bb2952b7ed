package queue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"posagent/clock"
	"posagent/queue"
)

func alwaysFails(context.Context, queue.Job) (any, error) { return nil, errors.New("SYSTEM_ERROR") }

// TestMoneyJobNeverDeadLetters is the regression test of issue 10 item 3:
// a trade_cancel used to be dead-lettered at MaxAge, leaving the customer's
// money held. Past MaxAge it keeps running at MaxBackoff, is logged at
// error level once an hour and counted as overdue; an award failing the
// same way is still dead-lettered.
func TestMoneyJobNeverDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const maxAge, maxBackoff = time.Hour, 5 * time.Minute
		q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half, MaxAge: maxAge, MaxBackoff: maxBackoff})
		var healthy atomic.Bool
		q.Handle(queue.KindTradeCancel, func(ctx context.Context, j queue.Job) (any, error) {
			if healthy.Load() {
				return nil, nil
			}
			return alwaysFails(ctx, j)
		})
		q.Handle(queue.KindAwardReceive, alwaysFails)
		startRun(t, q)
		cancel := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
		award := mustEnqueue(t, q, queue.KindAwardReceive, "A1", nil)
		synctest.Wait()
		for clk.Now().Sub(t0) < maxAge+maxBackoff {
			advance(clk, time.Minute)
		}
		if j := mustGet(t, q, award.ID); j.State != queue.StateDead {
			t.Fatalf("award past MaxAge: %+v", j)
		}
		for clk.Now().Sub(t0) < 3*time.Hour+maxBackoff {
			advance(clk, time.Minute)
			j := mustGet(t, q, cancel.ID)
			if j.State != queue.StatePending {
				t.Fatalf("trade_cancel at %s: %+v", clk.Now().Sub(t0), j)
			}
			if age := j.UpdatedAt.Sub(j.CreatedAt); age > maxAge+maxBackoff && j.NextRun.Sub(j.UpdatedAt) != maxBackoff {
				t.Fatalf("overdue trade_cancel scheduled %s after its attempt, want %s", j.NextRun.Sub(j.UpdatedAt), maxBackoff)
			}
		}
		j := mustGet(t, q, cancel.ID)
		if j.Attempts < 30 {
			t.Fatalf("trade_cancel made %d attempts in 3 h", j.Attempts)
		}
		if d := lb.Events("job_dead"); len(d) != 1 || d[0]["kind"] != queue.KindAwardReceive {
			t.Fatalf("job_dead = %v", d)
		}
		over := lb.Events("job_overdue")
		if len(over) != 3 {
			t.Fatalf("%d job_overdue lines in the 3 h past MaxAge, want one an hour: %v", len(over), over)
		}
		for _, o := range over {
			if o["level"] != "error" || o["kind"] != queue.KindTradeCancel || o["key"] != "T1" || o["error"] != "SYSTEM_ERROR" ||
				o["job_id"] != float64(cancel.ID) || o["age"] == nil || o["attempt"] == nil {
				t.Fatalf("job_overdue line %v", o)
			}
		}
		st, err := q.Stats()
		if err != nil || st.Overdue != 1 || st.Dead != 1 || st.Pending != 1 {
			t.Fatalf("Stats = %+v, %v; want 1 overdue", st, err)
		}
		if v := gauge(t, q, "posagent_queue_overdue_jobs"); v != 1 {
			t.Fatalf("posagent_queue_overdue_jobs = %v", v)
		}
		if !queue.MovesMoney(queue.KindTradeCancel) || !queue.MovesMoney(queue.KindTradeRefund) || !queue.MovesMoney(queue.KindReconcile) ||
			queue.MovesMoney(queue.KindAwardReceive) || queue.MovesMoney(queue.KindCouponReport) || queue.MovesMoney(queue.KindTradeReconcile) {
			t.Fatal("MovesMoney")
		}
		// It settles as soon as its handler succeeds.
		healthy.Store(true)
		advance(clk, maxBackoff)
		if j := mustGet(t, q, cancel.ID); j.State != queue.StateDone {
			t.Fatalf("overdue trade_cancel once the gateway confirms: %+v", j)
		}
		if st, _ := q.Stats(); st.Overdue != 0 || st.Pending != 0 {
			t.Fatalf("Stats = %+v", st)
		}
		// Nor can a person drop one.
		for _, kind := range []string{queue.KindTradeRefund, queue.KindReconcile} {
			j := mustEnqueue(t, q, kind, "K1", nil) // no handler: stays pending
			if err := q.Drop(j.ID); !errors.Is(err, queue.ErrProtected) {
				t.Fatalf("Drop(%s) = %v, want ErrProtected", kind, err)
			}
		}
	})
}

// gauge returns the value of the queue's unlabelled gauge name.
func gauge(t *testing.T, q *queue.Queue, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(q.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
