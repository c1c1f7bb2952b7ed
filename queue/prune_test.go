package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"posagent/queue"
)

// TestPruneOnlyOldDoneJobs: Prune deletes the done jobs last updated
// before the cut, with their keys, in batches; failed, dead and pending
// jobs stay whatever their age, and so do done jobs after the cut.
func TestPruneOnlyOldDoneJobs(t *testing.T) {
	db := MustOpenDB(t)
	q, _ := MustOpenQueue(t, db, queue.Options{MaxAge: time.Nanosecond, BaseBackoff: time.Millisecond, MaxBackoff: time.Hour})
	q.Handle("k_done", func(context.Context, queue.Job) (any, error) { return "ok", nil })
	q.Handle("k_fail", func(context.Context, queue.Job) (any, error) { return nil, queue.Permanent(errors.New("refused")) })
	q.Handle("k_dead", func(context.Context, queue.Job) (any, error) { return nil, errors.New("down") })
	q.Handle(queue.KindTradeCancel, func(context.Context, queue.Job) (any, error) {
		return nil, queue.Retry(errors.New("again later"), time.Hour) // money: pending, never dead
	})
	stop := startRun(t, q)

	settle := func(want map[string]int) {
		t.Helper()
		waitFor(t, "jobs settled", 10*time.Second, func() bool {
			for st, n := range want {
				js, err := q.List(queue.Filter{State: st, Limit: 1000})
				if err != nil || len(js) != n {
					return false
				}
			}
			return true
		})
	}
	var old []queue.Job
	for i := range 5 {
		old = append(old, mustEnqueue(t, q, "k_done", fmt.Sprintf("old-%d", i), nil))
	}
	fail := mustEnqueue(t, q, "k_fail", "f", nil)
	dead := mustEnqueue(t, q, "k_dead", "d", nil)
	pend := mustEnqueue(t, q, queue.KindTradeCancel, "p", nil)
	settle(map[string]int{queue.StateDone: 5, queue.StateFailed: 1, queue.StateDead: 1})
	waitFor(t, "the cancel attempted", 10*time.Second, func() bool { return mustGet(t, q, pend.ID).Attempts > 0 })

	time.Sleep(2 * time.Millisecond) // the cut must be after every update above
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	recent := mustEnqueue(t, q, "k_done", "recent", nil)
	settle(map[string]int{queue.StateDone: 6})
	stop()

	n, err := q.Prune(context.Background(), cut, 2) // 3 batches: 2, 2, 1
	if err != nil || n != 5 {
		t.Fatalf("Prune = %d, %v; want 5", n, err)
	}
	for _, j := range old {
		if _, err := q.Get(j.ID); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("old done job %d: %v", j.ID, err)
		}
		if _, err := q.Lookup(j.Kind, j.Key); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("key of old done job %d: %v", j.ID, err)
		}
	}
	for _, j := range []queue.Job{fail, dead, pend, recent} {
		got, err := q.Lookup(j.Kind, j.Key)
		if err != nil || got.ID != j.ID {
			t.Fatalf("job %d (%s) after Prune: %+v %v", j.ID, j.Kind, got, err)
		}
	}
	if s, err := q.Stats(); err != nil || s.Pending != 1 || s.Failed != 1 || s.Dead != 1 {
		t.Fatalf("stats after Prune: %+v %v", s, err)
	}
	// A second pass finds nothing; pruning far in the future still keeps
	// everything that is not done.
	if n, err := q.Prune(context.Background(), cut, 2); err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v", n, err)
	}
	if n, err := q.Prune(context.Background(), time.Now().Add(time.Hour), 0); err != nil || n != 1 {
		t.Fatalf("Prune of everything = %d, %v; want 1 (the recent done job)", n, err)
	}
	for _, j := range []queue.Job{fail, dead, pend} {
		if _, err := q.Get(j.ID); err != nil {
			t.Fatalf("job %d (%s) pruned: %v", j.ID, j.Kind, err)
		}
	}
	// The key of a pruned job is free again: a new job, a new id.
	again, existed, err := q.Enqueue("k_done", "old-0", nil)
	if err != nil || existed || again.ID == old[0].ID {
		t.Fatalf("re-enqueue of a pruned key: %+v existed=%v %v", again, existed, err)
	}
}

// TestPruneStopsWithCtx: an ended ctx stops Prune before its first batch.
func TestPruneStopsWithCtx(t *testing.T) {
	db := MustOpenDB(t)
	q, _ := MustOpenQueue(t, db, queue.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := q.Prune(ctx, time.Now(), 10); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune with a cancelled ctx = %d, %v", n, err)
	}
}
