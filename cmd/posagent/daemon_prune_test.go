package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway/sandbox"
	"posagent/internal/logtest"
	"posagent/queue"
)

// writeCheckoutsAt is writeCheckouts on a clock standing still at at: n
// paid checkouts, and one done job (kind test_old), all that old.
func writeCheckoutsAt(tb testing.TB, path string, n int, at time.Time) []string {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(at)
	q, err := queue.Open(db, queue.Options{Clock: clk})
	if err != nil {
		tb.Fatal(err)
	}
	q.Handle("test_old", func(context.Context, queue.Job) (any, error) { return "ok", nil })
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	defer sb.Close()
	e, err := checkout.New(db, q, sb.Client(), checkout.Options{
		TerminalID: "T01", StoreID: "S001", PayPID: sb.PayPID(), Clock: clk, DrainTimeout: time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for i := range n {
		c, _, err := e.Create(ctx, checkout.CreateRequest{
			OrderID: fmt.Sprintf("OLD-%06d", i), Amount: 2500, Subject: "Coffee", AuthCode: normalCode(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if c, err = e.Wait(ctx, c.ID); err != nil || c.State != checkout.Paid || !c.UpdatedAt.Equal(at) {
			tb.Fatalf("old checkout %d: %+v %v", i, c, err)
		}
		ids = append(ids, c.ID)
	}
	qctx, stopQ := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(qctx) }()
	j, _, err := q.Enqueue("test_old", "old-1", nil)
	for err == nil && j.State != queue.StateDone && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		j, err = q.Get(j.ID)
	}
	stopQ()
	if rerr := <-done; err != nil || rerr != nil || j.State != queue.StateDone {
		tb.Fatalf("old job: %+v %v %v", j, err, rerr)
	}
	return ids
}

// A daemon started on a file with checkouts and a done job older than
// [data] retention (default 400 days) prunes them in its first run,
// shortly after start, and logs one "prune" line with the counts; a
// recent checkout stays.
func TestPruneAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", dbFileName)
	old := writeCheckoutsAt(t, path, 3, time.Now().Add(-500*24*time.Hour))

	was := pruneFirstAfter
	pruneFirstAfter = 10 * time.Millisecond
	t.Cleanup(func() { pruneFirstAfter = was })
	d := mustStartDaemonIn(t, dir)
	recent := d.pay(t, 500)

	logFile := filepath.Join(dir, "logs", "posagent.log")
	var line map[string]any
	for i := 0; line == nil; i++ {
		if i == 600 {
			t.Fatalf("no prune line in %s after 30 s", logFile)
		}
		time.Sleep(50 * time.Millisecond)
		line = findEvent(t, logFile, "prune")
	}
	if line["level"] != "info" || line["checkouts"] != 3.0 || line["jobs"] != 1.0 {
		t.Fatalf("prune line: %v", line)
	}
	l, err := d.Client.ListCheckouts(context.Background(), checkout.ListFilter{Limit: checkout.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range l {
		left = append(left, c.ID)
	}
	if !slices.Equal(left, []string{recent}) {
		t.Fatalf("checkouts after the first prune: %v; want only %s (old ones: %v)", left, recent, old)
	}
	st, err := d.Client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(st); !json.Valid(b) {
		t.Fatalf("status %s", b)
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("posagent run exited %d", code)
	}
}

// findEvent returns the first JSON line of the log file whose event is
// event, or nil.
func findEvent(tb testing.TB, path, event string) map[string]any {
	tb.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["event"] == event {
			return m
		}
	}
	return nil
}

// TestPruneCompactSize is TestCompactSize with half the checkouts pruned:
// N paid checkouts; a copy of the file compacted as it is; the older N/2
// pruned, then compacted. The numbers of docs/BENCHMARKS.md come from
// POSAGENT_SIZE_CHECKOUTS=10000. The sence_no entries are purged with the
// prune: in a store, the hourly purge removes them a day after their
// checkout (Options.SenceTTL), long before the retention; here every
// checkout is seconds old.
func TestPruneCompactSize(t *testing.T) {
	n := 200
	if v := os.Getenv("POSAGENT_SIZE_CHECKOUTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 1 {
			t.Fatalf("POSAGENT_SIZE_CHECKOUTS=%q", v)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, dbFileName)
	ids := writeCheckouts(t, path, n)
	full := fileSize(t, path)
	fullUsed := usedBytes(t, path)
	whole := filepath.Join(dir, "unpruned.db")
	if b, err := os.ReadFile(path); err != nil || os.WriteFile(whole, b, 0o600) != nil {
		t.Fatalf("copy: %v", err)
	}
	_, wholeCompacted, err := compactDB(whole)
	if err != nil {
		t.Fatal(err)
	}

	// Prune the checkouts updated before the middle one was created: the
	// older half.
	pruned := pruneOlderThan(t, path, ids[n/2])
	if pruned != n/2 {
		t.Fatalf("pruned %d checkouts, want %d", pruned, n/2)
	}
	t.Logf("bytes of keys and values per bucket after pruning:\n%s", bucketUsage(t, path))
	kept := int64(n - pruned)
	used := usedBytes(t, path)
	before, after, err := compactDB(path)
	if err != nil {
		t.Fatal(err)
	}
	// "Pages in use" is the high-water mark: the prune's own commits write
	// their pages after it, so it does not drop before compaction.
	t.Logf("%d paid checkouts: file %d bytes (%d B/checkout), pages in use %d bytes, compacted %d bytes (%d B/checkout)",
		n, full, full/int64(n), fullUsed, wholeCompacted, wholeCompacted/int64(n))
	t.Logf("%d of them pruned: file %d bytes, pages in use %d bytes; compacted %d bytes (%d B per checkout left)",
		pruned, before, used, after, after/kept)
	if before != full {
		t.Errorf("pruning changed the file's size: %d → %d (bbolt files never shrink by themselves)", full, before)
	}
	if after >= wholeCompacted {
		t.Errorf("pruned and compacted (%d) is not smaller than compacted alone (%d)", after, wholeCompacted)
	}
	if err := checkDB(path); err != nil {
		t.Fatal(err)
	}
	e := openCopy(t, path)
	if _, err := e.Get(ids[0]); err == nil {
		t.Fatalf("pruned checkout %s is back after compaction", ids[0])
	}
	if c, err := e.Get(ids[n-1]); err != nil || c.State != checkout.Paid {
		t.Fatalf("kept checkout %s after compaction: %+v %v", ids[n-1], c, err)
	}
}

// pruneOlderThan opens the file at path with the engine, purges the
// sence_no entries and prunes the checkouts last updated before checkout
// id was created.
func pruneOlderThan(tb testing.TB, path, id string) int {
	tb.Helper()
	// SenceTTL: Start purges every sence_no entry (see TestPruneCompactSize).
	e := openFileEngine(tb, path, checkout.Options{SenceTTL: time.Nanosecond})
	defer e.close()
	c, err := e.Get(id)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := e.Prune(context.Background(), c.CreatedAt, pruneBatch)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// prune refuses a retention below minRetention, even one that slipped past
// Validate: a zero retention would delete today's takings.
func TestPruneRefusesAShortRetention(t *testing.T) {
	logs := &logtest.Buffer{}
	d := &daemon{log: zerolog.New(logs)}
	d.cfg.Data.Retention = 0
	if _, err := d.prune(context.Background(), time.Now()); err == nil {
		t.Fatal("prune with retention 0 ran")
	}
	if !strings.Contains(logs.String(), `"event":"prune_failed"`) {
		t.Fatalf("no prune_failed line: %s", logs)
	}
}
