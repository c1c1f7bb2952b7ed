package queue

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer coalesces concurrent write transactions into one bbolt commit
// ("group commit"), so N writers pay for one pair of fsyncs instead of N.
//
// It is used instead of DB.Batch because Batch holds every call for up to
// MaxBatchDelay (10 ms by default, a DB-wide setting that belongs to the
// daemon): a lone writer — the common case at a till — would wait 10 ms for
// nothing. Here the first writer commits at once; writers that arrive
// during that commit wait and go together in the next one, led by the
// first of them. As with Batch, a function may run more than once (when
// another function in its group fails, the rest run again without it), so
// every function must be idempotent: read what it needs from the tx, and
// change only captured values that a rerun overwrites.
type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	leading bool
	waiting []*call
}

type call struct {
	fn   func(*bolt.Tx) error
	err  error
	done bool
	// wake receives once: when the call is done, or when it must lead the
	// next group.
	wake chan struct{}
}

// do runs fn in a write transaction, possibly shared with other callers,
// and returns once that transaction committed (or failed).
func (c *committer) do(fn func(*bolt.Tx) error) error {
	me := &call{fn: fn, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	c.waiting = append(c.waiting, me)
	if c.leading {
		c.mu.Unlock()
		<-me.wake
		if me.done {
			return me.err
		}
		// Handed the lead: fall through with c.leading still true.
		c.mu.Lock()
	}
	c.leading = true
	group := c.waiting
	c.waiting = nil
	c.mu.Unlock()

	c.run(group)

	c.mu.Lock()
	if len(c.waiting) > 0 {
		next := c.waiting[0]
		c.mu.Unlock()
		next.wake <- struct{}{} // next leads; c.leading stays true
	} else {
		c.leading = false
		c.mu.Unlock()
	}
	return me.err
}

// run commits group in one transaction. A function that fails is dropped
// with its error and the others run again in a new transaction; a commit
// error goes to all of them.
func (c *committer) run(group []*call) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, cl := range group {
				if err := cl.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err == nil || failed < 0 {
			for _, cl := range group {
				c.finish(cl, err)
			}
			return
		}
		c.finish(group[failed], err)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

func (c *committer) finish(cl *call, err error) {
	cl.err = err
	cl.done = true
	select {
	case cl.wake <- struct{}{}:
	default: // the leader's own call: nobody waits on wake
	}
}
