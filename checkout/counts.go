package checkout

import (
	"bytes"
	"maps"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// stateCounts is the number of checkouts in each state, kept in memory so
// that CountByState (GET /v1/status, the heartbeat line) costs the same
// with 100,000 checkouts as with none. The state index holds one key per
// checkout ever made; walking it took 10–30 ms (and one allocation per
// key) at 100,000 checkouts, on every status request.
//
// The counts are loaded by one walk of the index on first use, then kept
// current by putRecord, which hands every state change to the transaction
// that makes it (tx.OnCommit): a change that is rolled back is never
// counted. A change whose commit races with the walk is counted only if the
// walk's snapshot does not hold it already: bbolt gives every committed
// write transaction a higher id than the read transactions that cannot
// see it.
type stateCounts struct {
	load sync.Mutex // one walk at a time

	mu      sync.Mutex
	n       map[State]int // nil until loaded
	txid    int           // id of the snapshot n was loaded from
	loading bool          // a walk runs: committed moves go to pending
	pending []stateMove
}

// stateMove is one checkout changing state in write transaction txid
// (from is "" for a new checkout).
type stateMove struct {
	txid     int
	from, to State
}

// moved registers, in write transaction tx, that a checkout goes from one
// state to another; the counts change once tx has committed.
func (c *stateCounts) moved(tx *bolt.Tx, from, to State) {
	if from == to {
		return
	}
	m := stateMove{txid: tx.ID(), from: from, to: to}
	tx.OnCommit(func() { c.apply(m) })
}

func (c *stateCounts) apply(m stateMove) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.n != nil:
		if m.txid > c.txid && !move(c.n, m) {
			c.n = nil // cannot happen; if it does, walk again next time
		}
	case c.loading:
		c.pending = append(c.pending, m)
	}
	// Neither loaded nor loading: the walk that loads the counts starts
	// after this commit, so its snapshot holds this move.
}

// get returns a copy of the counts (states with none absent), walking the
// state index in db the first time.
func (c *stateCounts) get(db *bolt.DB) (map[State]int, error) {
	if n := c.loaded(); n != nil {
		return n, nil
	}
	c.load.Lock()
	defer c.load.Unlock()
	c.mu.Lock()
	if c.n != nil {
		defer c.mu.Unlock()
		return maps.Clone(c.n), nil
	}
	c.loading = true
	c.mu.Unlock()

	n := make(map[State]int)
	var txid int
	err := db.View(func(tx *bolt.Tx) error {
		txid = tx.ID()
		cur := tx.Bucket(bucketStates).Cursor()
		for _, s := range States {
			prefix := stateKey(s, "")
			k := 0
			for key, _ := cur.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = cur.Next() {
				k++
			}
			if k > 0 {
				n[s] = k
			}
		}
		return nil
	})

	c.mu.Lock()
	defer c.mu.Unlock()
	pending := c.pending
	c.loading, c.pending = false, nil
	if err != nil {
		return nil, err
	}
	for _, m := range pending {
		if m.txid > txid && !move(n, m) {
			return n, nil // inconsistent: answer the walk, keep nothing
		}
	}
	c.n, c.txid = n, txid
	return maps.Clone(n), nil
}

func (c *stateCounts) loaded() map[State]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		return nil
	}
	return maps.Clone(c.n)
}

// move applies m to n; false if n had no checkout in m.from.
func move(n map[State]int, m stateMove) bool {
	if m.from != "" {
		if n[m.from] <= 0 {
			return false
		}
		if n[m.from]--; n[m.from] == 0 {
			delete(n, m.from)
		}
	}
	n[m.to]++
	return true
}
