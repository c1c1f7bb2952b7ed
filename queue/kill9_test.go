package queue_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

// The kill -9 test re-executes the test binary as a queue process (TestMain
// runs helperMain when helperEnv is set).
const (
	helperEnv      = "POSAGENT_QUEUE_HELPER"
	helperDBEnv    = "POSAGENT_QUEUE_HELPER_DB"
	helperURLEnv   = "POSAGENT_QUEUE_HELPER_URL"
	helperRoundEnv = "POSAGENT_QUEUE_HELPER_ROUND"
)

// reportServer is a merchant backend that applies each report once: it
// dedupes by Idempotency-Key, and fails some requests with 503 before
// applying anything.
type reportServer struct {
	mu      sync.Mutex
	seen    map[string]int // requests per key that got a 2xx
	effects int            // reports applied
	fail503 float64
}

func (s *reportServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" || r.Method != http.MethodPost {
		http.Error(w, "no key", http.StatusBadRequest)
		return
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // widen the kill window
	if rand.Float64() < s.fail503 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	if s.seen[key] == 0 {
		s.effects++ // the redemption is applied here, once per key
	}
	s.seen[key]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true}`)
}

func TestKill9(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	srv := &reportServer{seen: map[string]int{}, fail503: 0.1}
	ts := httptest.NewServer(srv) // 127.0.0.1
	defer ts.Close()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "posagent.db")

	acked := map[string]bool{} // keys whose Enqueue returned in a child
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", helperDBEnv+"="+dbPath,
			helperURLEnv+"="+ts.URL, fmt.Sprintf("%s=%d", helperRoundEnv, round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string, 1)
		go func() {
			var keys []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				// "enqueued KEY ok": a torn last line lacks the " ok".
				f := strings.Fields(sc.Text())
				if len(f) == 3 && f[0] == "enqueued" && f[2] == "ok" {
					keys = append(keys, f[1])
				}
			}
			lines <- keys
		}()
		time.Sleep(time.Duration(50+rand.IntN(350)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
			t.Fatal(err)
		}
		_ = cmd.Wait()
		keys := <-lines
		for _, k := range keys {
			acked[k] = true
		}
		t.Logf("round %d: %d keys acknowledged", round, len(keys))
	}
	if len(acked) == 0 {
		t.Fatal("no child ever acknowledged an enqueue")
	}

	// Restart once more and let the queue drain.
	db := mustOpenPath(t, dbPath)
	q, _ := MustOpenQueue(t, db, queue.Options{BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ProbeInterval: 100 * time.Millisecond})
	q.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(ts.URL, nil))
	stop := startRun(t, q)
	waitFor(t, "queue drained", 60*time.Second, func() bool {
		s, err := q.Stats()
		return err == nil && s.Pending == 0
	})
	stop()

	s, err := q.Stats()
	if err != nil || s.Dead != 0 || s.Failed != 0 {
		t.Fatalf("stats %+v, %v: want no dead or failed job", s, err)
	}
	for k := range acked {
		j, err := q.Lookup(queue.KindCouponReport, k)
		if err != nil {
			t.Fatalf("acknowledged job %s lost: %v", k, err)
		}
		if j.State != queue.StateDone {
			t.Fatalf("job %s: state %s", k, j.State)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	repeats := 0
	for k, n := range srv.seen {
		repeats += n - 1
		if _, err := q.Lookup(queue.KindCouponReport, k); err != nil {
			t.Fatalf("server saw key %s that has no job: %v", k, err)
		}
	}
	for k := range acked {
		if srv.seen[k] == 0 {
			t.Fatalf("server never saw acknowledged key %s", k)
		}
	}
	if srv.effects != len(srv.seen) {
		t.Fatalf("%d effects for %d keys", srv.effects, len(srv.seen))
	}
	t.Logf("%d rounds: %d keys acknowledged, %d reported, %d repeated deliveries absorbed by the Idempotency-Key",
		rounds, len(acked), len(srv.seen), repeats)
}

// helperMain is the child of TestKill9: it runs the queue on the shared
// file and enqueues reports until it is killed.
func helperMain() int {
	db, err := bolt.Open(os.Getenv(helperDBEnv), 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	log := zerolog.Nop()
	q, err := queue.Open(db, queue.Options{Logger: &log, BaseBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, ProbeInterval: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	q.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(os.Getenv(helperURLEnv), nil))
	go q.Run(context.Background())
	var n atomic.Int64
	round := os.Getenv(helperRoundEnv)
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key := fmt.Sprintf("r%s-%d", round, n.Add(1))
				if _, _, err := q.Enqueue(queue.KindCouponReport, key, map[string]any{"coupon_id": key, "discount": "5.00"}); err != nil {
					fmt.Fprintln(os.Stderr, "helper enqueue:", err)
					os.Exit(1)
				}
				fmt.Printf("enqueued %s ok\n", key)
				time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return 0
}
