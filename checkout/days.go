package checkout

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// The day index: which checkouts ended on which store day, so that a day's
// takings (report.go) and a day's trades (for reconciliation) read one
// day's records, not every record ever kept.
//
// A checkout is indexed under the store day (Options.Location) of the
// transition that brought it into a terminal state. When it moves again
// (needs_attention → paid or cancelled), its old key is deleted and it is
// indexed under the day of the new transition. A change that keeps the
// state (a refund on a paid checkout) does not move it.
//
// Both buckets are created by the first transition that needs them, and
// the whole index is rebuilt once from the records when it was built for
// another zone (or never: a file from before the index), on the first
// read (ensureDayIndex).
var (
	bucketDays  = []byte("checkout_days")   // YYYY-MM-DD 0x00 id → state
	bucketDayOf = []byte("checkout_day_of") // id → YYYY-MM-DD; dayZoneKey → zone name of the index
)

// dayZoneKey holds the name of the zone the index was built in. Checkout
// ids start with "co_", so it meets none of them.
var dayZoneKey = []byte("\x00zone")

// location is the zone of the store's day: Options.Location, default
// Asia/Shanghai (UTC+8, the gateway's zone and that of its bills).
func (e *Engine) location() *time.Location {
	if e.opts.Location != nil {
		return e.opts.Location
	}
	return gateway.Shanghai
}

// dayOf returns the store day of t.
func (e *Engine) dayOf(t time.Time) string {
	return t.In(e.location()).Format(time.DateOnly)
}

// Today returns the store day now, "2006-01-02", in Options.Location.
func (e *Engine) Today() string {
	return e.dayOf(e.clk.Now())
}

func dayKey(day, id string) []byte {
	k := make([]byte, 0, len(day)+1+len(id))
	k = append(k, day...)
	k = append(k, 0)
	return append(k, id...)
}

// indexDay keeps the day index of r in step with its state; putRecord
// calls it in its transaction when r's state changed from old.
func (e *Engine) indexDay(tx *bolt.Tx, r *record, old State) error {
	if old == "" && !r.State.Terminal() {
		return nil // a new checkout: nothing indexed yet, nothing to index
	}
	days, dayOf := tx.Bucket(bucketDays), tx.Bucket(bucketDayOf)
	if days == nil || dayOf == nil {
		if !r.State.Terminal() {
			return nil
		}
		var err error
		if days, err = tx.CreateBucketIfNotExists(bucketDays); err != nil {
			return err
		}
		if dayOf, err = tx.CreateBucketIfNotExists(bucketDayOf); err != nil {
			return err
		}
		if noneTerminal(tx) {
			// A new file: the index is complete from this first entry on.
			if err := dayOf.Put(dayZoneKey, []byte(e.location().String())); err != nil {
				return err
			}
		}
	}
	id := []byte(r.ID)
	if prev := dayOf.Get(id); prev != nil {
		if err := days.Delete(dayKey(string(prev), r.ID)); err != nil {
			return err
		}
		if err := dayOf.Delete(id); err != nil {
			return err
		}
	}
	if !r.State.Terminal() {
		return nil
	}
	at := dayTime(r)
	if at.IsZero() && e.clk != nil {
		at = e.clk.Now()
	}
	day := e.dayOf(at)
	if err := days.Put(dayKey(day, r.ID), []byte(r.State)); err != nil {
		return err
	}
	return dayOf.Put(id, []byte(day))
}

// noneTerminal reports whether no checkout is in a terminal state yet, by
// the counts (putRecord calls indexDay before it updates them).
func noneTerminal(tx *bolt.Tx) bool {
	if tx.Bucket(bucketCounts) == nil {
		return false
	}
	for s, n := range readCounts(tx) {
		if s.Terminal() && n > 0 {
			return false
		}
	}
	return true
}

// ensureDayIndex rebuilds the day index from the records when it was not
// built in the engine's zone (a file from before the index, or a changed
// [reconcile] timezone). It costs one read when the index is current.
func (e *Engine) ensureDayIndex() error {
	zone := []byte(e.location().String())
	current := false
	err := e.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketDayOf); b != nil && bytes.Equal(b.Get(dayZoneKey), zone) {
			current = true
		}
		return nil
	})
	if err != nil || current {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketDayOf); b != nil && bytes.Equal(b.Get(dayZoneKey), zone) {
			return nil // rebuilt meanwhile
		}
		return e.rebuildDayIndex(tx, zone)
	})
}

// rebuildDayIndex indexes every terminal checkout under the day of its
// UpdatedAt (the best a record tells of when it ended).
func (e *Engine) rebuildDayIndex(tx *bolt.Tx, zone []byte) error {
	for _, name := range [][]byte{bucketDays, bucketDayOf} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("rebuild day index: %w", err)
			}
		}
	}
	days, err := tx.CreateBucket(bucketDays)
	if err != nil {
		return fmt.Errorf("rebuild day index: %w", err)
	}
	dayOf, err := tx.CreateBucket(bucketDayOf)
	if err != nil {
		return fmt.Errorf("rebuild day index: %w", err)
	}
	if recs := tx.Bucket(bucketRecords); recs != nil {
		for _, s := range States {
			if !s.Terminal() {
				continue
			}
			for _, id := range idsInState(tx, s) {
				r, err := getRecord(tx, id)
				if err != nil {
					continue // pruned meanwhile or unreadable: not the index's to judge
				}
				day := e.dayOf(dayTime(&r))
				if err := days.Put(dayKey(day, id), []byte(s)); err != nil {
					return err
				}
				if err := dayOf.Put([]byte(id), []byte(day)); err != nil {
					return err
				}
			}
		}
	}
	return dayOf.Put(dayZoneKey, zone)
}

// dayEntry is one checkout of a day in the index.
type dayEntry struct {
	id    string
	state State
}

// checkoutsOfDay returns the checkouts indexed under day, in id order
// (creation order).
func checkoutsOfDay(tx *bolt.Tx, day string) []dayEntry {
	b := tx.Bucket(bucketDays)
	if b == nil {
		return nil
	}
	var out []dayEntry
	prefix := dayKey(day, "")
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		out = append(out, dayEntry{id: string(k[len(prefix):]), state: State(v)})
	}
	return out
}

// parseDay checks a "2006-01-02" day.
func parseDay(day string) error {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return badRequest("date must be a day such as 2026-01-31, not %q", day)
	}
	return nil
}

// dayTime is the instant that puts r in a store day: for a paid checkout
// the first trade.pay send, the day Alipay's bill lists the trade under (a
// payment sent at 23:59:58 and confirmed after midnight, or a
// needs_attention trade accepted days later, belongs to the day it was
// paid); for the other terminal states the time they were reached.
func dayTime(r *record) time.Time {
	if r.State == Paid && !r.PayAt.IsZero() {
		return r.PayAt
	}
	return r.UpdatedAt
}
