package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// writeCheckouts pays n checkouts through the real engine on the embedded
// sandbox (in-process, no socket) into the bbolt file at path, and returns
// their ids. NoSync only spares the test the fsyncs; the file's layout is
// the daemon's.
func writeCheckouts(tb testing.TB, path string, n int) []string {
	tb.Helper()
	e := openFileEngine(tb, path, checkout.Options{
		StoreID: "S001", QueryInterval: 20 * time.Millisecond, DecisionDeadline: 5 * time.Second, DrainTimeout: time.Second,
	})
	defer e.close()
	ctx := context.Background()
	ids := make([]string, 0, n)
	for i := range n {
		c, _, err := e.Create(ctx, checkout.CreateRequest{
			OrderID: fmt.Sprintf("SIZE-%06d", i), Amount: 2500, Subject: "Coffee and a sandwich",
			OperatorID: "op01", AuthCode: normalCode(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if c, err = e.Wait(ctx, c.ID); err != nil || c.State != checkout.Paid {
			tb.Fatalf("checkout %d: %s %v", i, c.State, err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// fileEngine is a started checkout engine on the bbolt file at path, paying
// through the embedded sandbox in process (no socket).
type fileEngine struct {
	*checkout.Engine
	close func()
}

// openFileEngine opens path (NoSync only spares the test the fsyncs; the
// layout is the daemon's) and starts an engine on it with opts, whose
// TerminalID and PayPID it fills in. close stops the engine, the sandbox
// and the file.
func openFileEngine(tb testing.TB, path string, opts checkout.Options) fileEngine {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	opts.TerminalID, opts.PayPID = "T01", sb.PayPID()
	e, err := checkout.New(db, q, sb.Client(), opts)
	if err != nil {
		sb.Close()
		db.Close()
		tb.Fatal(err)
	}
	closeAll := func() { e.Close(); sb.Close(); db.Close() }
	if err := e.Start(context.Background()); err != nil {
		closeAll()
		tb.Fatal(err)
	}
	return fileEngine{Engine: e, close: closeAll}
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// TestCompactSize writes N paid checkouts through the engine, compacts the
// file and reports the bytes per terminal checkout before and after (the
// numbers of docs/BENCHMARKS.md come from a run with
// POSAGENT_SIZE_CHECKOUTS=10000). The compacted file passes bbolt's check
// and still holds every checkout.
func TestCompactSize(t *testing.T) {
	n := 200
	if v := os.Getenv("POSAGENT_SIZE_CHECKOUTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("POSAGENT_SIZE_CHECKOUTS=%q", v)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, dbFileName)
	ids := writeCheckouts(t, path, n)

	t.Logf("bytes of keys and values per bucket:\n%s", bucketUsage(t, path))
	used := usedBytes(t, path)
	before, after, err := compactDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if after != fileSize(t, path) {
		t.Fatalf("compact reported %d bytes; the file has %d", after, fileSize(t, path))
	}
	t.Logf("%d paid checkouts: before compaction the file is %d bytes (%d B/checkout), of which pages in use %d bytes (%d B/checkout); after, %d bytes (%d B/checkout)",
		n, before, before/int64(n), used, used/int64(n), after, after/int64(n))
	if after > before {
		t.Errorf("compaction grew the file: %d → %d", before, after)
	}
	if err := checkDB(path); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	e := openCopy(t, path)
	for _, id := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		if c, err := e.Get(id); err != nil || c.State != checkout.Paid {
			t.Fatalf("checkout %s after compaction: %+v %v", id, c, err)
		}
	}
}

// compact refuses, and changes nothing, while a daemon holds the file; with
// no database it says so.
func TestCompactRefusesALockedFile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "[terminal]\ndata_dir = \"data\"\n")
	code, _, stderr := runMain(t, "compact", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "posagent compact: compact: ") || !strings.Contains(stderr, "posagent.db") {
		t.Fatalf("compact with no database = %d\n%s", code, stderr)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", dbFileName)
	db, err := bolt.Open(path, 0o600, nil) // what a running daemon holds
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	was := fileSize(t, path)
	code, stdout, stderr := runMain(t, "compact", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "a posagent is running on this data_dir") || !strings.Contains(stderr, "stop it first") {
		t.Fatalf("compact of a locked file = %d\n%s\n%s", code, stdout, stderr)
	}
	if fileSize(t, path) != was {
		t.Fatal("a refused compact changed the file")
	}
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// bucketUsage lists each top-level bucket with its keys and the bytes of
// its keys and values (nested buckets included): where a checkout's bytes
// go.
func bucketUsage(tb testing.TB, path string) string {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			var keys, bytes int
			var walk func(*bolt.Bucket) error
			walk = func(bk *bolt.Bucket) error {
				return bk.ForEach(func(k, v []byte) error {
					keys++
					bytes += len(k) + len(v)
					if v == nil {
						return walk(bk.Bucket(k))
					}
					return nil
				})
			}
			if err := walk(bk); err != nil {
				return err
			}
			fmt.Fprintf(&b, "  %-20s %8d keys %10d bytes\n", name, keys, bytes)
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// usedBytes is the size of the file's pages up to the last one in use
// (bbolt grows files in doubling steps, so the file may be larger).
func usedBytes(tb testing.TB, path string) int64 {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}
