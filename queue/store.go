package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. All live at the top level of the daemon's bbolt file, next
// to package checkout's buckets.
var (
	// bucketJobs: id (8 bytes, big-endian) → job JSON. Its sequence hands
	// out the ids.
	bucketJobs = []byte("queue.jobs")
	// bucketKeys: kind NUL key → id. Makes (kind, key) unique.
	bucketKeys = []byte("queue.keys")
	// bucketDue: kind NUL nextRun(8, big-endian Unix ns) id(8) → age base
	// (8, big-endian Unix ns). Pending jobs only, ordered by next run within
	// a kind.
	bucketDue = []byte("queue.due")
	// bucketStuck: id → state, for dead and failed jobs: the ones a person
	// has to look at.
	bucketStuck = []byte("queue.stuck")
)

type buckets struct {
	jobs, keys, due, stuck *bolt.Bucket
}

// open returns the queue's buckets in tx, or an error if Open never
// created them in this file.
func open(tx *bolt.Tx) (buckets, error) {
	b := buckets{
		jobs:  tx.Bucket(bucketJobs),
		keys:  tx.Bucket(bucketKeys),
		due:   tx.Bucket(bucketDue),
		stuck: tx.Bucket(bucketStuck),
	}
	if b.jobs == nil || b.keys == nil || b.due == nil || b.stuck == nil {
		return b, fmt.Errorf("queue: buckets missing in %s (queue.Open not called on this file?)", tx.DB().Path())
	}
	return b, nil
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketJobs, bucketKeys, bucketDue, bucketStuck} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("queue: create bucket %s: %w", name, err)
		}
	}
	return nil
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// nanos encodes t for a sortable key; times before 1970 sort as 1970.
func nanos(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func keyIndex(kind, key string) []byte {
	b := make([]byte, 0, len(kind)+1+len(key))
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, key...)
}

// kindPrefix is the start of kind's range in the due index.
func kindPrefix(kind string) []byte {
	return append([]byte(kind), 0)
}

func dueKey(kind string, next time.Time, id uint64) []byte {
	b := make([]byte, 0, len(kind)+17)
	b = append(b, kind...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, nanos(next))
	return binary.BigEndian.AppendUint64(b, id)
}

// dueEntry is one decoded entry of the due index.
type dueEntry struct {
	kind    string
	next    time.Time
	id      uint64
	ageBase time.Time
}

func parseDue(k, v []byte) (dueEntry, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k)-i-1 != 16 || len(v) != 8 {
		return dueEntry{}, false
	}
	return dueEntry{
		kind:    string(k[:i]),
		next:    time.Unix(0, int64(binary.BigEndian.Uint64(k[i+1:]))),
		id:      binary.BigEndian.Uint64(k[i+9:]),
		ageBase: time.Unix(0, int64(binary.BigEndian.Uint64(v))),
	}, true
}

// get loads job id, or ErrNotFound.
func (b buckets) get(id uint64) (Job, error) {
	v := b.jobs.Get(itob(id))
	if v == nil {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	var j Job
	if err := json.Unmarshal(v, &j); err != nil {
		return Job{}, fmt.Errorf("queue: decode job %d: %w", id, err)
	}
	return j, nil
}

// unindex removes j, as stored, from the due and stuck indexes.
func (b buckets) unindex(j *Job) error {
	switch j.State {
	case StatePending:
		return b.due.Delete(dueKey(j.Kind, j.NextRun, j.ID))
	case StateDead, StateFailed:
		return b.stuck.Delete(itob(j.ID))
	}
	return nil
}

// put stores j and adds it to the index of its state. The caller removed
// the previous version from its index first (unindex).
func (b buckets) put(j *Job) error {
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("queue: encode job %d: %w", j.ID, err)
	}
	if err := b.jobs.Put(itob(j.ID), v); err != nil {
		return err
	}
	switch j.State {
	case StatePending:
		return b.due.Put(dueKey(j.Kind, j.NextRun, j.ID), itob(nanos(j.ageBase())))
	case StateDead, StateFailed:
		return b.stuck.Put(itob(j.ID), []byte(j.State))
	}
	return nil
}
