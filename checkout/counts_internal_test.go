package checkout

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// walkCounts counts the state index, the truth the kept counts must match.
func walkCounts(tx *bolt.Tx) map[State]int {
	n := make(map[State]int)
	for _, s := range States {
		if k := len(idsInState(tx, s)); k > 0 {
			n[s] = k
		}
	}
	return n
}

// TestStateCountsFollowTheIndex moves checkouts between states at random,
// rolling some transactions back, and checks after each that the kept
// counts equal a walk of the state index; then drops the counts (a file
// from before they existed) and checks that opening the store rebuilds them.
func TestStateCountsFollowTheIndex(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	e := &Engine{}
	rng := rand.New(rand.NewPCG(1, 2))
	states := map[string]State{}
	rollback := errors.New("rolled back")
	check := func(when string) {
		t.Helper()
		db.View(func(tx *bolt.Tx) error {
			if got, want := readCounts(tx), walkCounts(tx); !maps.Equal(got, want) {
				t.Fatalf("%s: counts %v, index %v", when, got, want)
			}
			return nil
		})
	}
	for i := range 400 {
		id := fmt.Sprintf("co_%03d", rng.IntN(60))
		to := States[rng.IntN(len(States))]
		undo := rng.IntN(4) == 0
		err := db.Update(func(tx *bolt.Tx) error {
			r := &record{Checkout: Checkout{ID: id, State: to}}
			if err := e.putRecord(tx, r, states[id]); err != nil {
				return err
			}
			if undo {
				return rollback
			}
			return nil
		})
		if err != nil && !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if !undo {
			states[id] = to
		}
		check(fmt.Sprintf("move %d", i))
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketCounts) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}
