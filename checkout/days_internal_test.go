package checkout

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// TestDayIndexFollowsTransitions moves one checkout into a terminal state,
// then on another day into another one, and checks that it is indexed
// under the second day only; then drops the index (a file from before it)
// and checks that the first read rebuilds it.
func TestDayIndexFollowsTransitions(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "d.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	e := &Engine{db: db}
	day1 := time.Date(2026, 3, 1, 23, 30, 0, 0, gateway.Shanghai)
	day2 := day1.Add(time.Hour) // 00:30 on March 2 in Shanghai
	put := func(r record, old State) {
		t.Helper()
		if err := db.Update(func(tx *bolt.Tx) error { return e.putRecord(tx, &r, old) }); err != nil {
			t.Fatal(err)
		}
	}
	of := func(day string) []dayEntry {
		var out []dayEntry
		db.View(func(tx *bolt.Tx) error { out = checkoutsOfDay(tx, day); return nil })
		return out
	}
	r := record{Checkout: Checkout{ID: "co_1", State: AwaitingScan, UpdatedAt: day1}}
	put(r, "")
	r.State = Paying
	put(r, AwaitingScan)
	if got := of("2026-03-01"); len(got) != 0 {
		t.Fatalf("not terminal yet, indexed %v", got)
	}
	r.State = NeedsAttention
	put(r, Paying)
	if got := of("2026-03-01"); len(got) != 1 || got[0] != (dayEntry{"co_1", NeedsAttention}) {
		t.Fatalf("day 1: %v", got)
	}
	r.PaidAmount, r.UpdatedAt = 100, day1.Add(time.Minute)
	put(r, NeedsAttention) // same state: stays
	if got := of("2026-03-01"); len(got) != 1 {
		t.Fatalf("same state moved the index: %v", got)
	}
	r.State, r.UpdatedAt = Paid, day2
	put(r, NeedsAttention)
	if got := of("2026-03-01"); len(got) != 0 {
		t.Fatalf("old key kept: %v", got)
	}
	if got := of("2026-03-02"); len(got) != 1 || got[0] != (dayEntry{"co_1", Paid}) {
		t.Fatalf("day 2: %v", got)
	}
	// The first terminal checkout of a new file marks the index complete.
	if err := e.ensureDayIndex(); err != nil {
		t.Fatal(err)
	}
	if got := of("2026-03-02"); len(got) != 1 {
		t.Fatalf("after ensure: %v", got)
	}

	// A file from before the index: dropped, then rebuilt on first read
	// from the records (under the day of their updated_at).
	db.Update(func(tx *bolt.Tx) error {
		tx.DeleteBucket(bucketDays)
		return tx.DeleteBucket(bucketDayOf)
	})
	r2 := record{Checkout: Checkout{ID: "co_2", State: Cancelled, UpdatedAt: day1}}
	put(r2, Paying) // indexed at once, but the index is not complete
	if err := e.ensureDayIndex(); err != nil {
		t.Fatal(err)
	}
	if got := of("2026-03-02"); len(got) != 1 || got[0].id != "co_1" {
		t.Fatalf("rebuilt day 2: %v", got)
	}
	if got := of("2026-03-01"); len(got) != 1 || got[0] != (dayEntry{"co_2", Cancelled}) {
		t.Fatalf("rebuilt day 1: %v", got)
	}
	// Another zone rebuilds again: in UTC both are on March 1.
	e.opts.Location = time.UTC
	if err := e.ensureDayIndex(); err != nil {
		t.Fatal(err)
	}
	if got := of("2026-03-01"); len(got) != 2 {
		t.Fatalf("UTC day: %v", got)
	}
}

// A payment sent at 23:59:58 and confirmed after midnight is in the bill of
// the day it was sent, so the day index puts it there too (before, the
// pay day's bill row was missing locally and the next day's checkout
// missing in the bill).
func TestPaidIndexedOnItsPayDay(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "d.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	e := &Engine{db: db}
	sent := time.Date(2026, 3, 1, 23, 59, 58, 0, gateway.Shanghai)
	r := record{Checkout: Checkout{ID: "co_2", State: WaitingBuyer, UpdatedAt: sent}, PayAt: sent}
	if err := db.Update(func(tx *bolt.Tx) error { return e.putRecord(tx, &r, Paying) }); err != nil {
		t.Fatal(err)
	}
	r.State, r.UpdatedAt = Paid, sent.Add(9*time.Second) // 00:00:07 on March 2
	if err := db.Update(func(tx *bolt.Tx) error { return e.putRecord(tx, &r, WaitingBuyer) }); err != nil {
		t.Fatal(err)
	}
	var d1, d2 []dayEntry
	db.View(func(tx *bolt.Tx) error {
		d1, d2 = checkoutsOfDay(tx, "2026-03-01"), checkoutsOfDay(tx, "2026-03-02")
		return nil
	})
	if len(d1) != 1 || d1[0] != (dayEntry{"co_2", Paid}) || len(d2) != 0 {
		t.Fatalf("March 1: %v, March 2: %v; want the payment on March 1", d1, d2)
	}
}
