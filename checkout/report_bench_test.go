package checkout

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// benchDays and benchPerDay make the benchmark's journal: 100,000 ended
// checkouts over 100 store days.
const (
	benchDays   = 100
	benchPerDay = 1000
)

// openReportBench writes the benchmark's journal through putRecord (so the
// day index is the one transitions write) and returns an engine on it and
// a day in the middle.
func openReportBench(b *testing.B) (*Engine, string) {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "r.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(createBuckets); err != nil {
		b.Fatal(err)
	}
	e := &Engine{db: db, opts: Options{TerminalID: "T01", StoreID: "S001"}}
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, gateway.Shanghai)
	seq := 0
	for d := range benchDays {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := range benchPerDay {
				seq++
				at := start.AddDate(0, 0, d).Add(time.Duration(i) * 30 * time.Second)
				r := record{Checkout: Checkout{
					ID: fmt.Sprintf("co_%012d_ABCD", seq), OrderID: fmt.Sprintf("ORD-%d", seq), State: Paying,
					Amount: 2500, Subject: "bench", OperatorID: fmt.Sprintf("op%d", i%4),
					OutTradeNo: fmt.Sprintf("T01_%d", seq), CreatedAt: at, UpdatedAt: at,
				}}
				if err := e.putRecord(tx, &r, ""); err != nil {
					return err
				}
				old := r.State
				switch {
				case i%10 == 0:
					r.State = Cancelled
				case i%50 == 1:
					r.State = NeedsAttention
				default:
					r.State, r.PaidAmount, r.Discount = Paid, 2000, 500
				}
				if err := e.putRecord(tx, &r, old); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return e, start.AddDate(0, 0, benchDays/2).Format(time.DateOnly)
}

// BenchmarkDailyReport is GET /v1/reports/daily's work at 100,000
// checkouts (1,000 a day over 100 days): one day's report from the day
// index. It reports:
//
//	report-ms   one DailyReport
//	floor-ms    reading and decoding that day's 1,000 records by id, in
//	            one read transaction (what any report must do), measured
//	            in the same run
//	scan-ms     the alternative the index avoids: decoding every record
//	report/floor
func BenchmarkDailyReport(b *testing.B) {
	e, day := openReportBench(b)
	if _, err := e.DailyReport(day); err != nil { // builds nothing: the index is complete
		b.Fatal(err)
	}
	var ids []string
	e.db.View(func(tx *bolt.Tx) error {
		for _, d := range checkoutsOfDay(tx, day) {
			ids = append(ids, d.id)
		}
		return nil
	})
	if len(ids) != benchPerDay {
		b.Fatalf("%d checkouts on %s, want %d", len(ids), day, benchPerDay)
	}
	measure := func(n int, fn func()) time.Duration {
		start := time.Now()
		for range n {
			fn()
		}
		return time.Since(start) / time.Duration(n)
	}
	scan := measure(2, func() {
		e.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
				_, err := getRecord(tx, string(k))
				return err
			})
		})
	})
	b.ResetTimer()
	var rep DailyReport
	for b.Loop() {
		var err error
		if rep, err = e.DailyReport(day); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if rep.Paid.Count != 880 || rep.Cancelled.Count != 100 || rep.NeedsAttention.Count != 20 {
		b.Fatalf("report %+v", rep)
	}
	per := b.Elapsed() / time.Duration(b.N)
	floor := measure(b.N, func() {
		e.db.View(func(tx *bolt.Tx) error {
			for _, id := range ids {
				if _, err := getRecord(tx, id); err != nil {
					b.Fatal(err)
				}
			}
			return nil
		})
	})
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(per), "report-ms")
	b.ReportMetric(ms(floor), "floor-ms")
	b.ReportMetric(ms(scan), "scan-ms")
	b.ReportMetric(float64(per)/float64(floor), "report/floor")
	b.ReportMetric(0, "ns/op")
}
