package checkout

import (
	"bytes"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
	"posagent/queue"
)

// TestNewWritesOnFirstOpenOnly: New creates the buckets and the HMAC secret
// in a new file, and on every later open reads them without a commit (a
// commit is two fsyncs at every start).
func TestNewWritesOnFirstOpenOnly(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "posagent.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func() *Engine {
		t.Helper()
		q, err := queue.Open(db, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(db, q, (*gateway.Client)(nil), Options{TerminalID: "T01", PayPID: "2088000000000001"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := open()
	if len(first.secret) != 32 {
		t.Fatalf("secret of %d bytes", len(first.secret))
	}
	pageWrites := func() int64 { st := db.Stats(); return st.TxStats.GetWrite() }
	writes := pageWrites()
	again := open()
	if got := pageWrites(); got != writes {
		t.Errorf("the second New wrote %d pages", got-writes)
	}
	if !bytes.Equal(again.secret, first.secret) {
		t.Error("the second New has another HMAC secret: re-scanned codes would get new sence_no")
	}
	// A file with the buckets but no secret (or a missing bucket) is
	// completed.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSence) }); err != nil {
		t.Fatal(err)
	}
	if third := open(); !bytes.Equal(third.secret, first.secret) {
		t.Error("the secret changed when a bucket was recreated")
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSence) == nil {
			t.Error("the missing bucket was not recreated")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
