package checkout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

// Retention ([data] retention, SPEC §10): Prune deletes finished checkouts
// older than the retention, a batch per transaction, off the hot path.
// What goes is gone from every view: Get and List, the order index, the
// state counts (so /v1/status counts drop) and the day index, so the
// daily report and the trades of a day older than the retention are not
// available (its checkouts are simply gone from it). Coupons stay;
// sence_no entries have their own TTL (purgeSence).

// Defaults of Prune.
const (
	// DefaultPruneBatch is the batch size when Prune is given batch <= 0.
	DefaultPruneBatch = 200
	// PrunePause is how long Prune waits, on the engine's clock, between
	// two batches, so that the payments' commits go between them.
	PrunePause = 50 * time.Millisecond
)

// prunableStates are the states whose checkouts Prune may delete.
// needs_attention is terminal but waits for a person: never pruned.
var prunableStates = []State{Paid, Failed, Cancelled}

// pruneSteps remove one checkout from the package's buckets, one bucket (or
// one index and what is derived from it) each, inside the batch's
// transaction. A new per-checkout bucket adds its step here. The record
// goes last: the steps before it may read it.
var pruneSteps = []func(tx *bolt.Tx, r *record) error{
	pruneStateIndex,
	pruneOrderIndexes,
	pruneDayIndex,
	pruneRefunds,
	pruneRecord,
}

// pruneHolds are the reasons to keep a checkout past the retention; each
// says whether r must stay. A new kind of pending work on a checkout (a
// bucket of its own) adds its hold here.
var pruneHolds = []func(p *pruneScan, r *record) (bool, error){
	heldByJob,
	heldByRefund,
}

// Prune deletes the checkouts in paid, failed or cancelled whose
// updated_at is before before, with their refunds and every index entry
// of each in the same transaction, in transactions of at most batch
// checkouts (DefaultPruneBatch when batch <= 0), waiting PrunePause
// between two. It keeps every checkout that a job not done yet (pending,
// failed or dead: see queue.UnfinishedTx) refers to by its id or
// out_trade_no, and every checkout with a refund pending or updated at or
// after before. A pruned order can get a new checkout. It returns how
// many checkouts went, also when it stops early: ctx ended (ctx.Err()) or
// a database error.
func (e *Engine) Prune(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := e.pruneBatch(before, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-e.clk.After(PrunePause):
		}
	}
}

// errNothingToPrune rolls back a batch that found nothing, so an idle pass
// costs no commit (and no fsync).
var errNothingToPrune = errors.New("nothing to prune")

// pruneBatch deletes at most limit checkouts in one transaction and
// returns how many it deleted.
func (e *Engine) pruneBatch(before time.Time, limit int) (int, error) {
	var n int
	err := e.db.Update(func(tx *bolt.Tx) error {
		n = 0
		p := &pruneScan{tx: tx, q: e.q, before: before}
		victims, err := p.candidates(before, limit)
		if err != nil {
			return err
		}
		if len(victims) == 0 {
			return errNothingToPrune
		}
		for i := range victims {
			for _, step := range pruneSteps {
				if err := step(tx, &victims[i]); err != nil {
					return fmt.Errorf("prune checkout %s: %w", victims[i].ID, err)
				}
			}
		}
		n = len(victims)
		return nil
	})
	if errors.Is(err, errNothingToPrune) {
		return 0, nil
	}
	return n, err
}

// pruneScan is one batch's look at the store.
type pruneScan struct {
	tx     *bolt.Tx
	q      *queue.Queue
	before time.Time
	// refs holds the checkout ids and out_trade_nos that jobs not done
	// refer to; nil until the first hold needs it.
	refs map[string]bool
}

// candidates returns at most limit checkouts that may go, oldest first
// within each prunable state.
func (p *pruneScan) candidates(before time.Time, limit int) ([]record, error) {
	var out []record
	for _, s := range prunableStates {
		prefix := stateKey(s, "")
		c := p.tx.Bucket(bucketStates).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
			r, err := getRecord(p.tx, string(k[len(prefix):]))
			if err != nil {
				return nil, fmt.Errorf("prune: %w", err)
			}
			// Ids grow with creation: once one was created at or after
			// before, none after it can qualify (clock steps aside:
			// those wait for a later pass).
			if !r.CreatedAt.Before(before) {
				break
			}
			if !r.UpdatedAt.Before(before) || r.State != s {
				continue
			}
			held, err := p.held(&r)
			if err != nil {
				return nil, err
			}
			if !held {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

func (p *pruneScan) held(r *record) (bool, error) {
	for _, h := range pruneHolds {
		if held, err := h(p, r); err != nil || held {
			return held, err
		}
	}
	return false, nil
}

// jobRefs is what a job's payload may say about its checkout.
type jobRefs struct {
	CheckoutID string `json:"checkout_id"`
	OutTradeNo string `json:"out_trade_no"`
}

// heldByJob keeps a checkout that a job not done refers to: by its key
// (trade_cancel: the out_trade_no) or by checkout_id or out_trade_no in
// its payload (trade_cancel, coupon_report, and refunds by the same
// convention). A failed or dead job holds its checkout until a person
// retries it to done or drops it.
func heldByJob(p *pruneScan, r *record) (bool, error) {
	if p.refs == nil {
		p.refs = make(map[string]bool)
		err := p.q.UnfinishedTx(p.tx, func(j queue.Job) error {
			p.refs[j.Key] = true
			var ref jobRefs
			if json.Unmarshal(j.Payload, &ref) == nil {
				p.refs[ref.CheckoutID] = true
				p.refs[ref.OutTradeNo] = true
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("prune: list unfinished jobs: %w", err)
		}
		delete(p.refs, "")
	}
	return p.refs[r.ID] || r.OutTradeNo != "" && p.refs[r.OutTradeNo], nil
}

// heldByRefund keeps a checkout with a refund still pending, or one that
// changed at or after the cut (a refund refused after the checkout's last
// change): a checkout goes with all its refunds, when the last is old.
func heldByRefund(p *pruneScan, r *record) (bool, error) {
	rfs, err := refundsOf(p.tx, r.ID)
	if err != nil {
		return false, fmt.Errorf("prune: %w", err)
	}
	for _, rf := range rfs {
		if rf.State == RefundPending || !rf.UpdatedAt.Before(p.before) {
			return true, nil
		}
	}
	return false, nil
}

// pruneStateIndex removes r from the state index and its state's count.
func pruneStateIndex(tx *bolt.Tx, r *record) error {
	if err := tx.Bucket(bucketStates).Delete(stateKey(r.State, r.ID)); err != nil {
		return err
	}
	return addCount(tx, r.State, -1)
}

// pruneOrderIndexes removes r from its order's checkouts and, when r is
// the order's latest, points the order at its newest remaining checkout
// (or at none).
func pruneOrderIndexes(tx *bolt.Tx, r *record) error {
	if err := tx.Bucket(bucketOrderIDs).Delete(orderIDKey(r.OrderID, r.ID)); err != nil {
		return err
	}
	orders := tx.Bucket(bucketOrders)
	if string(orders.Get([]byte(r.OrderID))) != r.ID {
		return nil
	}
	if rest := idsOfOrder(tx, r.OrderID); len(rest) > 0 {
		return orders.Put([]byte(r.OrderID), []byte(rest[0]))
	}
	return orders.Delete([]byte(r.OrderID))
}

// pruneDayIndex removes r from the day index (days.go): the reports of its
// day no longer count it. A day past the retention is simply gone.
func pruneDayIndex(tx *bolt.Tx, r *record) error {
	days, dayOf := tx.Bucket(bucketDays), tx.Bucket(bucketDayOf)
	if days == nil || dayOf == nil {
		return nil // no index yet: rebuilt from the records when read
	}
	id := []byte(r.ID)
	day := dayOf.Get(id)
	if day == nil {
		return nil
	}
	if err := days.Delete(dayKey(string(day), r.ID)); err != nil {
		return err
	}
	return dayOf.Delete(id)
}

// pruneRefunds removes r's refunds with their entries in the refunds
// bucket's indexes (refund.go): by checkout, by refund_id (when it still
// names the refund) and by day.
func pruneRefunds(tx *bolt.Tx, r *record) error {
	rfs, err := refundsOf(tx, r.ID)
	if err != nil || len(rfs) == 0 {
		return err
	}
	b := tx.Bucket(bucketRefunds)
	for _, rf := range rfs {
		if string(b.Get(refundKey("k", rf.RefundID))) == rf.ID {
			if err := b.Delete(refundKey("k", rf.RefundID)); err != nil {
				return err
			}
		}
		for _, k := range [][]byte{
			refundKey("c", r.ID, rf.ID),
			refundKey("d", refundDay(rf.CreatedAt), rf.ID),
			refundKey("r", rf.ID),
		} {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneRecord removes the record itself.
func pruneRecord(tx *bolt.Tx, r *record) error {
	return tx.Bucket(bucketRecords).Delete([]byte(r.ID))
}
