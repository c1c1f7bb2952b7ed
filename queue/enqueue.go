package queue

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Enqueue adds a job of kind with idempotency key key, due now, and
// returns once it is committed. If a job with the same kind and key
// exists, in any state, Enqueue changes nothing and returns that job with
// existed true (payload is then ignored). payload is encoded as JSON;
// json.RawMessage and []byte are taken as JSON already.
//
// Concurrent calls share commits (see committer), so many writers cost
// little more than one. Errors: an invalid kind, key or payload; a bbolt
// error.
func (q *Queue) Enqueue(kind, key string, payload any) (job Job, existed bool, err error) {
	p, err := q.prepare(kind, key, payload)
	if err != nil {
		return Job{}, false, err
	}
	now := q.clk.Now()
	err = q.commit.do(func(tx *bolt.Tx) error {
		// Sets job and existed afresh on every run, so a rerun is harmless.
		var err error
		job, existed, err = q.insert(tx, kind, key, p, now)
		return err
	})
	if err != nil {
		return Job{}, false, err
	}
	if !existed {
		q.Notify()
		q.opts.Events.Publish("job", job)
	}
	return job, existed, nil
}

// EnqueueTx is Enqueue inside the caller's write transaction, so that a
// state change and the job it implies commit together or not at all: if
// tx rolls back, there is no job. The scheduler is woken when tx commits
// (tx.OnCommit), so calling Notify afterwards is harmless but not needed.
// It is safe inside a DB.Batch function (a rerun finds nothing or the
// same job). Errors: as Enqueue, and bolt.ErrTxNotWritable.
func (q *Queue) EnqueueTx(tx *bolt.Tx, kind, key string, payload any) (Job, bool, error) {
	p, err := q.prepare(kind, key, payload)
	if err != nil {
		return Job{}, false, err
	}
	j, existed, err := q.insert(tx, kind, key, p, q.clk.Now())
	if err == nil && !existed {
		tx.OnCommit(func() {
			q.Notify()
			q.opts.Events.Publish("job", j)
		})
	}
	return j, existed, err
}

func (q *Queue) prepare(kind, key string, payload any) (json.RawMessage, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	if err := validKey(key); err != nil {
		return nil, err
	}
	return encodePayload(payload)
}

func (q *Queue) insert(tx *bolt.Tx, kind, key string, payload json.RawMessage, now time.Time) (Job, bool, error) {
	b, err := open(tx)
	if err != nil {
		return Job{}, false, err
	}
	ik := keyIndex(kind, key)
	if v := b.keys.Get(ik); len(v) == 8 {
		j, err := b.get(binary.BigEndian.Uint64(v))
		return j, true, err
	}
	// New ids are the largest: fill pages fuller than the default half,
	// since appends never split a page in the middle.
	b.jobs.FillPercent = 0.9
	id, err := b.jobs.NextSequence()
	if err != nil {
		return Job{}, false, err
	}
	j := Job{
		ID: id, Kind: kind, Key: key, Payload: payload, State: StatePending,
		NextRun: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := b.put(&j); err != nil {
		return Job{}, false, err
	}
	if err := b.keys.Put(ik, itob(id)); err != nil {
		return Job{}, false, err
	}
	return j, false, nil
}
