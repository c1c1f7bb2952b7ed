package queue_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

// go test -run x -bench . -benchtime 2000x ./queue/

func BenchmarkEnqueue(b *testing.B) {
	q, _ := MustOpenQueue(b, MustOpenDB(b), queue.Options{})
	payload := map[string]string{"coupon_id": "C000001", "discount": "5.00"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := q.Enqueue(queue.KindCouponReport, fmt.Sprintf("R%d", i), payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkEnqueueParallel(b *testing.B) {
	q, _ := MustOpenQueue(b, MustOpenDB(b), queue.Options{})
	payload := map[string]string{"coupon_id": "C000001", "discount": "5.00"}
	var n atomic.Int64
	b.SetParallelism(8) // 8 writers per CPU
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := q.Enqueue(queue.KindCouponReport, fmt.Sprintf("R%d", n.Add(1)), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkDrain measures jobs/s through the coupon_report handler against
// a trivial loopback HTTP backend, Concurrency 4, every outcome committed.
func BenchmarkDrain(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	db := MustOpenDB(b)
	q, _ := MustOpenQueue(b, db, queue.Options{})
	err := db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < b.N; i++ {
			if _, _, err := q.EnqueueTx(tx, queue.KindCouponReport, fmt.Sprintf("R%d", i), map[string]string{"coupon_id": "C1"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	report := queue.NewCouponReportHandler(srv.URL, srv.Client())
	var done atomic.Int64
	q.Handle(queue.KindCouponReport, func(ctx context.Context, j queue.Job) (any, error) {
		r, err := report(ctx, j)
		if err == nil {
			done.Add(1)
		}
		return r, err
	})
	b.ResetTimer()
	stop := startRun(b, q)
	for done.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	for {
		if p, _, _ := q.Depth(); p == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkStartup100k: open a file with 100,000 pending jobs and run until
// the first one starts.
func BenchmarkStartup100k(b *testing.B) {
	path := fixture100k(b)
	openAndResume(b, path)
	b.ResetTimer()
	var alloc uint64
	var took time.Duration
	for i := 0; i < b.N; i++ {
		d, a := openAndResume(b, path)
		took += d
		alloc += a
	}
	// ns/op includes stopping the queue and closing the file; these two
	// are open → first job started.
	b.ReportMetric(float64(took.Microseconds())/float64(b.N), "µs-to-first-job")
	b.ReportMetric(float64(alloc)/float64(b.N)/1024, "KiB/op")
}
