//go:build bench && linux

package bench

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// BenchmarkStatus100k measures, in process on a copy of the fixture, the two
// database reads behind GET /v1/status: checkout.Engine.CountByState (the
// first call loads the counts; b.N calls after it) and queue.Queue.Stats
// (the rest of the status is in memory); and checkout.Engine.List of the
// 50 newest, all states and by state (GET /v1/checkouts?state=).
//
//	go test -tags bench -run '^$' -bench BenchmarkStatus100k -benchtime 200x ./tests/bench/
func BenchmarkStatus100k(b *testing.B) {
	fix, info := fixture(b)
	dir := b.TempDir()
	copyTree(b, filepath.Join(fix, "data"), filepath.Join(dir, "data"))
	db, err := bolt.Open(filepath.Join(dir, "data", "posagent.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	e, err := checkout.New(db, q, newStubGateway(nil), checkout.Options{TerminalID: "T01", PayPID: sandbox.DefaultPayPID})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("CountByState", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			n, err := e.CountByState()
			if err != nil {
				b.Fatal(err)
			}
			total := 0
			for _, v := range n {
				total += v
			}
			if total != info.Checkouts {
				b.Fatalf("counted %d checkouts %v, want %d", total, n, info.Checkouts)
			}
		}
	})
	for _, f := range []checkout.ListFilter{{}, {State: checkout.Paid}, {State: checkout.Failed}} {
		b.Run("List50/"+string(f.State), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				cs, err := e.List(f)
				if err != nil || len(cs) != checkout.DefaultListLimit {
					b.Fatalf("%d checkouts, %v", len(cs), err)
				}
			}
		})
	}
	b.Run("QueueStats", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := q.Stats(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
