package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

func TestEnqueueIdempotent(t *testing.T) {
	q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{})

	first := mustEnqueue(t, q, queue.KindCouponReport, "R-1", map[string]string{"coupon_id": "C1"})
	if first.ID == 0 || first.State != queue.StatePending || string(first.Payload) != `{"coupon_id":"C1"}` {
		t.Fatalf("first = %+v", first)
	}
	again, existed, err := q.Enqueue(queue.KindCouponReport, "R-1", map[string]string{"coupon_id": "OTHER"})
	if err != nil || !existed || again.ID != first.ID || string(again.Payload) != `{"coupon_id":"C1"}` {
		t.Fatalf("second enqueue = %+v, %v, %v; want the first job, existed", again, existed, err)
	}
	// The key is unique per kind, not across kinds.
	other := mustEnqueue(t, q, queue.KindAwardReceive, "R-1", nil)
	if other.ID == first.ID {
		t.Fatal("same key of another kind got the same job")
	}
	if j, err := q.Lookup(queue.KindCouponReport, "R-1"); err != nil || j.ID != first.ID {
		t.Fatalf("Lookup = %+v, %v", j, err)
	}
	if _, err := q.Lookup(queue.KindCouponReport, "nope"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Lookup unknown: %v", err)
	}

	// Many concurrent writers of one key: one job; of distinct keys: one each.
	var wg sync.WaitGroup
	ids := make([]uint64, 64)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "same"
			if i%2 == 1 {
				key = fmt.Sprintf("k%d", i)
			}
			j, _, err := q.Enqueue("x", key, json.RawMessage(`{"n":1}`))
			if err != nil {
				t.Error(err)
			}
			ids[i] = j.ID
		}()
	}
	wg.Wait()
	seen := map[uint64]int{}
	for i, id := range ids {
		if i%2 == 0 && id != ids[0] {
			t.Fatalf("writer %d of key same got job %d, writer 0 got %d", i, id, ids[0])
		}
		seen[id]++
	}
	if len(seen) != 33 {
		t.Fatalf("%d distinct jobs, want 33", len(seen))
	}
	if p, d, err := q.Depth(); err != nil || p != 35 || d != 0 {
		t.Fatalf("Depth = %d, %d, %v; want 35 pending", p, d, err)
	}
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{})
	for _, c := range []struct {
		kind, key string
		payload   any
	}{
		{"", "k", nil},
		{"bad kind", "k", nil},
		{"bad\x00kind", "k", nil},
		{"ok", "", nil},
		{"ok", "k", json.RawMessage(`{"unterminated`)},
		{"ok", "k", make(chan int)},
	} {
		if _, _, err := q.Enqueue(c.kind, c.key, c.payload); err == nil {
			t.Errorf("Enqueue(%q, %q, %v) = nil error", c.kind, c.key, c.payload)
		}
	}
}

func TestEnqueueTxCommitsWithCallersWrite(t *testing.T) {
	db := MustOpenDB(t)
	q, _ := MustOpenQueue(t, db, queue.Options{})
	ran := make(chan queue.Job, 1)
	q.Handle(queue.KindTradeCancel, func(_ context.Context, j queue.Job) (any, error) {
		ran <- j
		return nil, nil
	})
	startRun(t, q)

	// Rolled back: neither the caller's write nor the job exists.
	boom := errors.New("boom")
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("checkouts"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("co-1"), []byte("cancelling")); err != nil {
			return err
		}
		if _, _, err := q.EnqueueTx(tx, queue.KindTradeCancel, "T1", map[string]string{"out_trade_no": "T1"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := q.Lookup(queue.KindTradeCancel, "T1"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("job after rollback: %v", err)
	}
	if p, _, _ := q.Depth(); p != 0 {
		t.Fatalf("pending after rollback = %d", p)
	}

	// Committed: both exist, and the job runs at once (EnqueueTx wakes the
	// scheduler on commit; no Notify needed).
	var job queue.Job
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("checkouts"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("co-1"), []byte("cancelling")); err != nil {
			return err
		}
		job, _, err = q.EnqueueTx(tx, queue.KindTradeCancel, "T1", map[string]string{"out_trade_no": "T1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case j := <-ran:
		if j.ID != job.ID || j.Key != "T1" {
			t.Fatalf("ran %+v, want %+v", j, job)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("job did not run after commit + Notify")
	}
	waitFor(t, "job done", 5*time.Second, func() bool { return mustGet(t, q, job.ID).State == queue.StateDone })
}
