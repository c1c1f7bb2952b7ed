package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Get returns job id. Errors: ErrNotFound (wrapped); a bbolt error.
func (q *Queue) Get(id uint64) (Job, error) {
	var j Job
	err := q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		j, err = b.get(id)
		return err
	})
	return j, err
}

// Lookup returns the job of kind with idempotency key key. Errors:
// ErrNotFound (wrapped); a bbolt error.
func (q *Queue) Lookup(kind, key string) (Job, error) {
	var j Job
	err := q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		v := b.keys.Get(keyIndex(kind, key))
		if len(v) != 8 {
			return fmt.Errorf("job %s %s: %w", kind, key, ErrNotFound)
		}
		j, err = b.get(binary.BigEndian.Uint64(v))
		return err
	})
	return j, err
}

// List returns jobs matching f, newest (highest ID) first. Pending, dead
// and failed jobs are found through their indexes; done jobs (and an
// unfiltered list) by walking the jobs from the newest.
func (q *Queue) List(f Filter) ([]Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	switch f.State {
	case "", StatePending, StateDone, StateFailed, StateDead:
	default:
		return nil, fmt.Errorf("queue: list: unknown state %q", f.State)
	}
	out := []Job{}
	err := q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		match := func(j *Job) bool {
			return (f.State == "" || j.State == f.State) && (f.Kind == "" || j.Kind == f.Kind)
		}
		// ids walks candidate ids newest first until fn returns false.
		var ids func(fn func(id uint64) bool)
		switch f.State {
		case StatePending:
			var all []uint64
			c := b.due.Cursor()
			k, v := c.First()
			if f.Kind != "" {
				k, v = c.Seek(kindPrefix(f.Kind))
			}
			for ; k != nil; k, v = c.Next() {
				e, ok := parseDue(k, v)
				if f.Kind != "" && (!ok || e.kind != f.Kind) {
					break
				}
				if ok {
					all = append(all, e.id)
				}
			}
			slices.Sort(all)
			ids = func(fn func(uint64) bool) {
				for i := len(all) - 1; i >= 0; i-- {
					if !fn(all[i]) {
						return
					}
				}
			}
		case StateDead, StateFailed:
			ids = func(fn func(uint64) bool) {
				c := b.stuck.Cursor()
				for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
					if !fn(binary.BigEndian.Uint64(k)) {
						return
					}
				}
			}
		default:
			ids = nil
		}
		if ids != nil {
			ids(func(id uint64) bool {
				if f.Before != 0 && id >= f.Before {
					return true
				}
				j, err := b.get(id)
				if err == nil && match(&j) {
					out = append(out, j)
				}
				return len(out) < limit
			})
			return nil
		}
		c := b.jobs.Cursor()
		var k, v []byte
		if f.Before != 0 {
			c.Seek(itob(f.Before))
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("queue: decode job %x: %w", k, err)
			}
			if match(&j) {
				out = append(out, j)
			}
		}
		return nil
	})
	return out, err
}

// Retry makes job id run again now: a dead or failed job becomes pending
// with its attempts kept and a fresh MaxAge (RetriedAt = now); a pending
// job in backoff is moved up to now. The scheduler is woken. Errors:
// ErrNotFound; ErrState for a done job; a bbolt error.
func (q *Queue) Retry(id uint64) error {
	now := q.clk.Now()
	var j Job
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		if j, err = b.get(id); err != nil {
			return err
		}
		if j.State == StateDone {
			return fmt.Errorf("retry job %d: %w: it is done", id, ErrState)
		}
		if err := b.unindex(&j); err != nil {
			return err
		}
		if j.State != StatePending {
			j.RetriedAt = now
		}
		j.State, j.NextRun, j.UpdatedAt = StatePending, now, now
		return b.put(&j)
	})
	if err != nil {
		return err
	}
	q.log.Info().Str("event", "job_requeued").Uint64("job_id", id).Str("kind", j.Kind).Str("key", j.Key).
		Int("attempt", j.Attempts).Msg("job retried by hand")
	q.opts.Events.Publish("job", j)
	q.Notify()
	return nil
}

// Drop deletes job id and its key, whatever its state; enqueuing the same
// kind and key afterwards creates a new job. A running attempt of a dropped
// job finishes but records nothing. Errors: ErrProtected for
// trade_reconcile jobs and those that move money (MovesMoney); ErrNotFound;
// a bbolt error.
func (q *Queue) Drop(id uint64) error {
	var j Job
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		if j, err = b.get(id); err != nil {
			return err
		}
		if j.Kind == KindTradeReconcile || MovesMoney(j.Kind) {
			return fmt.Errorf("drop job %d (%s %s): %w", id, j.Kind, j.Key, ErrProtected)
		}
		if err := b.unindex(&j); err != nil {
			return err
		}
		if err := b.keys.Delete(keyIndex(j.Kind, j.Key)); err != nil {
			return err
		}
		return b.jobs.Delete(itob(id))
	})
	if err != nil {
		return err
	}
	q.log.Warn().Str("event", "job_dropped").Uint64("job_id", id).Str("kind", j.Kind).Str("key", j.Key).
		Str("state", j.State).Int("attempt", j.Attempts).Msg("job dropped by hand")
	return nil
}

// Stats counts jobs by state; Done is not counted (it would need a walk of
// every job ever run).
type Stats struct {
	// Pending jobs: due, in backoff, running, or waiting for their remote.
	Pending int `json:"pending"`
	// Dead jobs: dead-lettered, waiting for a person.
	Dead int `json:"dead"`
	// Failed jobs: failed permanently, waiting for a person.
	Failed int `json:"failed"`
	// Overdue jobs: pending jobs that move money (MovesMoney) past MaxAge,
	// still running every MaxBackoff; also counted in Pending.
	Overdue int `json:"overdue"`
}

// Depth returns the number of pending and dead jobs, from the indexes.
func (q *Queue) Depth() (pending, dead int, err error) {
	s, err := q.Stats()
	return s.Pending, s.Dead, err
}

// Stats counts pending, dead, failed and overdue jobs, from the indexes.
func (q *Queue) Stats() (Stats, error) {
	var s Stats
	now := q.clk.Now()
	err := q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			s.Pending++
		}
		for _, kind := range moneyKinds {
			for k, v := c.Seek(kindPrefix(kind)); k != nil; k, v = c.Next() {
				e, ok := parseDue(k, v)
				if !ok || e.kind != kind {
					break
				}
				if q.aged(e.ageBase, now) {
					s.Overdue++
				}
			}
		}
		c = b.stuck.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(v) == StateDead {
				s.Dead++
			} else {
				s.Failed++
			}
		}
		return nil
	})
	return s, err
}
