package queue_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

// A bbolt file with 100,000 pending jobs, built once per test binary and
// shared by TestStartup100k and BenchmarkStartup100k.
var fixture struct {
	once sync.Once
	dir  string
	path string
	err  error
}

const fixtureJobs = 100_000

func fixture100k(tb testing.TB) string {
	tb.Helper()
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "queue-fixture-")
		if fixture.err != nil {
			return
		}
		fixture.path = filepath.Join(fixture.dir, "posagent.db")
		fixture.err = buildFixture(fixture.path)
	})
	if fixture.err != nil {
		tb.Fatal(fixture.err)
	}
	return fixture.path
}

func buildFixture(path string) error {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		return err
	}
	const batch = 10_000
	for n := 0; n < fixtureJobs; n += batch {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := n; i < n+batch; i++ {
				payload := map[string]string{"coupon_id": fmt.Sprintf("C%06d", i), "user_id": "2088000000000001", "discount": "5.00"}
				if _, _, err := q.EnqueueTx(tx, queue.KindCouponReport, fmt.Sprintf("R%06d", i), payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func cleanupFixtures() {
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
}

// openAndResume opens the fixture and runs its queue until the first job
// starts; it returns how long that took and the bytes allocated meanwhile.
func openAndResume(tb testing.TB, path string) (time.Duration, uint64) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	first := make(chan struct{})
	var once sync.Once
	q.Handle(queue.KindCouponReport, func(ctx context.Context, _ queue.Job) (any, error) {
		once.Do(func() { close(first) })
		<-ctx.Done() // leave the fixture as it was
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	<-first
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return took, after.TotalAlloc - before.TotalAlloc
}

func TestStartup100k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-job file")
	}
	path := fixture100k(t)
	openAndResume(t, path) // warm the page cache, as a daemon restart would find it
	took, alloc := openAndResume(t, path)
	st, _ := os.Stat(path)
	t.Logf("100k pending (file %d MiB): open + first job in %s, %d KiB allocated", st.Size()>>20, took, alloc>>10)
	if took > 2*time.Second {
		t.Errorf("start-up took %s", took)
	}
	if alloc > 32<<20 {
		t.Errorf("start-up allocated %d MiB", alloc>>20)
	}
}
