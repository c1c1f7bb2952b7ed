package checkout

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The buckets this package owns in the shared bbolt file. Each name starts
// with "checkout_" so that they never meet the queue's.
var (
	bucketRecords     = []byte("checkout_records")      // id → record JSON
	bucketStates      = []byte("checkout_states")       // state 0x00 id → (empty)
	bucketOrders      = []byte("checkout_orders")       // order_id → id of its latest checkout
	bucketOrderIDs    = []byte("checkout_order_ids")    // order_id 0x00 id → (empty): every checkout of an order
	bucketSence       = []byte("checkout_sence")        // HMAC(code) → senceEntry JSON
	bucketCoupons     = []byte("checkout_coupons")      // coupon id → Coupon JSON
	bucketCouponUsers = []byte("checkout_coupon_users") // user_id 0x00 coupon id → (empty)
	bucketMeta        = []byte("checkout_meta")         // "hmac_secret" → 32 random bytes
	bucketCounts      = []byte("checkout_counts")       // state → number of checkouts in it (uint64 big-endian)
)

var allBuckets = [][]byte{bucketRecords, bucketStates, bucketOrders, bucketOrderIDs, bucketSence, bucketCoupons, bucketCouponUsers, bucketMeta, bucketCounts, bucketRefunds}

func createBuckets(tx *bolt.Tx) error {
	countsExisted := tx.Bucket(bucketCounts) != nil
	orderIDsExisted := tx.Bucket(bucketOrderIDs) != nil
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if !orderIDsExisted {
		// A file from before the index: index every checkout once.
		err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("index checkout %s by order: %w", k, err)
			}
			return tx.Bucket(bucketOrderIDs).Put(orderIDKey(r.OrderID, r.ID), nil)
		})
		if err != nil {
			return err
		}
	}
	if countsExisted {
		return nil
	}
	// A file from before the counts existed: count the state index once.
	for _, s := range States {
		if err := addCount(tx, s, len(idsInState(tx, s))); err != nil {
			return err
		}
	}
	return nil
}

// addCount changes the number of checkouts in s by d, in the transaction
// that moves them, so the counts can never disagree with the state index.
// A count is never taken below zero: a payment transition must not fail
// over a statistic.
func addCount(tx *bolt.Tx, s State, d int) error {
	if d == 0 {
		return nil
	}
	b := tx.Bucket(bucketCounts)
	n := int64(d)
	if v := b.Get([]byte(s)); len(v) == 8 {
		n += int64(binary.BigEndian.Uint64(v))
	}
	if n <= 0 {
		return b.Delete([]byte(s))
	}
	return b.Put([]byte(s), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// readCounts returns the number of checkouts in each state (states with
// none are absent).
func readCounts(tx *bolt.Tx) map[State]int {
	n := make(map[State]int)
	tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			n[State(k)] = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n
}

func stateKey(s State, id string) []byte {
	k := make([]byte, 0, len(s)+1+len(id))
	k = append(k, s...)
	k = append(k, 0)
	return append(k, id...)
}

// getRecord reads checkout id; a missing one is ErrNotFound.
func getRecord(tx *bolt.Tx, id string) (record, error) {
	var r record
	v := tx.Bucket(bucketRecords).Get([]byte(id))
	if v == nil {
		return r, notFound("checkout", id)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("checkout %s: corrupt record: %w", id, err)
	}
	return r, nil
}

// putRecord writes r and moves its state index entry from old (empty for a
// new record) to r.State, with the state index and counts in the same tx.
func (e *Engine) putRecord(tx *bolt.Tx, r *record, old State) error {
	if r.State.Terminal() {
		r.ScanFrom = time.Time{} // only a checkout awaiting a scan needs it
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecords).Put([]byte(r.ID), v); err != nil {
		return err
	}
	if old == r.State {
		return nil
	}
	if err := e.indexDay(tx, r, old); err != nil { // days.go
		return err
	}
	st := tx.Bucket(bucketStates)
	if old != "" {
		if err := st.Delete(stateKey(old, r.ID)); err != nil {
			return err
		}
	}
	if err := st.Put(stateKey(r.State, r.ID), nil); err != nil {
		return err
	}
	if old != "" {
		if err := addCount(tx, old, -1); err != nil {
			return err
		}
	}
	return addCount(tx, r.State, 1)
}

// idsInState returns the ids of checkouts in s, oldest first.
func idsInState(tx *bolt.Tx, s State) []string {
	var ids []string
	prefix := stateKey(s, "")
	c := tx.Bucket(bucketStates).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

// newestInState returns the ids of at most limit checkouts in s, newest
// first, only those before the id before when it is set. It reads only
// the index keys it returns (a state can hold every checkout ever made).
func newestInState(tx *bolt.Tx, s State, before string, limit int) []string {
	var ids []string
	prefix := stateKey(s, "")
	c := tx.Bucket(bucketStates).Cursor()
	// Start just after the last candidate: the first key past s's range, or
	// the key of before itself.
	var k []byte
	if before != "" {
		k, _ = c.Seek(stateKey(s, before))
	} else {
		end := stateKey(s, "")
		end[len(end)-1] = 1 // state 0x01 sorts after every state 0x00 id
		k, _ = c.Seek(end)
	}
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(ids) < limit; k, _ = c.Prev() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

// scanSlotHolder returns the checkout that holds the terminal's one scan
// slot (awaiting_scan or decoding), if any.
func scanSlotHolder(tx *bolt.Tx) (record, bool, error) {
	for _, s := range []State{AwaitingScan, Decoding} {
		for _, id := range idsInState(tx, s) {
			r, err := getRecord(tx, id)
			return r, err == nil, err
		}
	}
	return record{}, false, nil
}

// orderCheckout returns the latest checkout of order id, if any.
func orderCheckout(tx *bolt.Tx, orderID string) (record, bool, error) {
	v := tx.Bucket(bucketOrders).Get([]byte(orderID))
	if v == nil {
		return record{}, false, nil
	}
	r, err := getRecord(tx, string(v))
	return r, err == nil, err
}

// orderIDKey is a key of bucketOrderIDs.
func orderIDKey(orderID, id string) []byte {
	return append(append([]byte(orderID), 0), id...)
}

// idsOfOrder returns the ids of orderID's checkouts, newest first.
func idsOfOrder(tx *bolt.Tx, orderID string) []string {
	prefix := append([]byte(orderID), 0)
	var ids []string
	c := tx.Bucket(bucketOrderIDs).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	slices.Reverse(ids) // ids grow with time
	return ids
}
