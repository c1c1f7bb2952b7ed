package queue_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/internal/logtest"
	"posagent/queue"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	// Tests talk to 127.0.0.1 only: refuse any other dial.
	d := &net.Dialer{Timeout: 5 * time.Second}
	http.DefaultTransport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			return nil, fmt.Errorf("test dialed %s: only loopback allowed", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	code := m.Run()
	cleanupFixtures()
	os.Exit(code)
}

// MustOpenDB opens a bbolt file in a fresh temp dir, closed at cleanup.
func MustOpenDB(tb testing.TB) *bolt.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "posagent.db"))
}

func mustOpenPath(tb testing.TB, path string) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustOpenQueue opens a queue on db, logging into the returned buffer.
func MustOpenQueue(tb testing.TB, db *bolt.DB, opts queue.Options) (*queue.Queue, *logBuf) {
	tb.Helper()
	lb := &logBuf{}
	if opts.Logger == nil {
		l := zerolog.New(lb).Level(zerolog.DebugLevel)
		opts.Logger = &l
	}
	q, err := queue.Open(db, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return q, lb
}

// startRun runs q until the returned stop is called (also at cleanup);
// stop waits for Run to return and fails the test on an error.
func startRun(tb testing.TB, q *queue.Queue) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// logBuf collects the log lines of the code under test.
type logBuf = logtest.Buffer

// waitFor polls cond (real time) until it holds or fails the test.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustGet(tb testing.TB, q *queue.Queue, id uint64) queue.Job {
	tb.Helper()
	j, err := q.Get(id)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

func mustEnqueue(tb testing.TB, q *queue.Queue, kind, key string, payload any) queue.Job {
	tb.Helper()
	j, existed, err := q.Enqueue(kind, key, payload)
	if err != nil {
		tb.Fatal(err)
	}
	if existed {
		tb.Fatalf("enqueue %s %s: existed", kind, key)
	}
	return j
}
