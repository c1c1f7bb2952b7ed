package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention ([data] retention, SPEC §10): Prune deletes done jobs, a batch
// per transaction, off the hot path. Failed and dead jobs are never pruned:
// they wait for a person (Retry or Drop). Pending jobs are never pruned.

// Defaults of Prune.
const (
	// DefaultPruneBatch is the batch size when Prune is given batch <= 0.
	DefaultPruneBatch = 200
	// PrunePause is how long Prune waits, on the queue's clock, between two
	// batches, so that the payments' commits go between them.
	PrunePause = 50 * time.Millisecond
)

// errNothingToPrune rolls back a batch that found nothing, so an idle pass
// costs no commit (and no fsync).
var errNothingToPrune = errors.New("nothing to prune")

// Prune deletes the done jobs last updated before before, with their key
// index entries, in transactions of at most batch jobs (DefaultPruneBatch
// when batch <= 0), waiting PrunePause between two. Enqueuing the kind and
// key of a pruned job again creates a new job. It returns how many jobs
// went, also when it stops early: ctx ended (ctx.Err()) or a database
// error.
func (q *Queue) Prune(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := q.pruneBatch(before, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-q.clk.After(PrunePause):
		}
	}
}

// pruneJob is the part of a stored job that Prune reads.
type pruneJob struct {
	ID        uint64    `json:"id"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// pruneBatch deletes at most limit done jobs updated before before, in one
// transaction, and returns how many it deleted.
func (q *Queue) pruneBatch(before time.Time, limit int) (int, error) {
	var n int
	err := q.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b, err := open(tx)
		if err != nil {
			return err
		}
		// Ids grow with time: walk from the oldest and stop at the first
		// job created at or after before (none after it can qualify,
		// clock steps aside; those wait for a later pass).
		var victims []pruneJob
		c := b.jobs.Cursor()
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			var j pruneJob
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("queue: prune: decode job %x: %w", k, err)
			}
			if !j.CreatedAt.Before(before) {
				break
			}
			if j.State == StateDone && j.UpdatedAt.Before(before) {
				j.ID = binary.BigEndian.Uint64(k)
				victims = append(victims, j)
			}
		}
		if len(victims) == 0 {
			return errNothingToPrune
		}
		for _, j := range victims {
			if err := b.prune(j); err != nil {
				return fmt.Errorf("queue: prune job %d: %w", j.ID, err)
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

// prune removes done job j and its key entry (when the key still names
// j). A done job is in neither the due nor the stuck index.
func (b buckets) prune(j pruneJob) error {
	ik := keyIndex(j.Kind, j.Key)
	if bytes.Equal(b.keys.Get(ik), itob(j.ID)) {
		if err := b.keys.Delete(ik); err != nil {
			return err
		}
	}
	return b.jobs.Delete(itob(j.ID))
}

// UnfinishedTx calls fn, inside tx, for every job that is not done:
// pending ones (due, backing off or running), then failed and dead ones.
// Package checkout uses it so that Prune keeps every checkout a job still
// refers to. It stops at fn's first error and returns it.
func (q *Queue) UnfinishedTx(tx *bolt.Tx, fn func(Job) error) error {
	b, err := open(tx)
	if err != nil {
		return err
	}
	c := b.due.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, ok := parseDue(k, v)
		if !ok {
			continue
		}
		if err := b.call(e.id, fn); err != nil {
			return err
		}
	}
	c = b.stuck.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 8 {
			continue
		}
		if err := b.call(binary.BigEndian.Uint64(k), fn); err != nil {
			return err
		}
	}
	return nil
}

// call loads job id and passes it to fn; an index entry whose job is gone
// is skipped.
func (b buckets) call(id uint64, fn func(Job) error) error {
	j, err := b.get(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(j)
}
