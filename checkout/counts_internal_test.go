package checkout

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestStateCountsRace moves checkouts between states from several writers
// (some transactions rolled back after the move) while counters start
// loading at random moments, so that walks race with commits. Every counter
// must end equal to a fresh walk of the index.
func TestStateCountsRace(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	const writers, perWriter, moves, counters = 4, 50, 400, 40
	cs := make([]*stateCounts, counters)
	for i := range cs {
		cs[i] = &stateCounts{}
	}
	errRollback := errors.New("rollback")
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			state := map[string]State{} // this writer's checkouts as committed
			for i := 0; i < moves; i++ {
				id := fmt.Sprintf("co_%d_%03d", w, rng.IntN(perWriter))
				from, to := state[id], States[rng.IntN(len(States))]
				rollback := rng.IntN(5) == 0
				err := db.Update(func(tx *bolt.Tx) error {
					st := tx.Bucket(bucketStates)
					if from != "" {
						if err := st.Delete(stateKey(from, id)); err != nil {
							return err
						}
					}
					if err := st.Put(stateKey(to, id), nil); err != nil {
						return err
					}
					for _, c := range cs {
						c.moved(tx, from, to)
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				switch {
				case err == nil:
					state[id] = to
				case !errors.Is(err, errRollback):
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c *stateCounts) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			if _, err := c.get(db); err != nil {
				t.Error(err)
			}
		}(i, c)
	}
	wg.Wait()

	want := (&stateCounts{}).mustGet(t, db)
	total := 0
	for _, n := range want {
		total += n
	}
	if total == 0 || total > writers*perWriter {
		t.Fatalf("walk counted %d checkouts, want 1 to %d", total, writers*perWriter)
	}
	for i, c := range cs {
		if got := c.mustGet(t, db); !maps.Equal(got, want) {
			t.Errorf("counter %d: %v, the index holds %v", i, got, want)
		}
	}
}

func (c *stateCounts) mustGet(t *testing.T, db *bolt.DB) map[State]int {
	t.Helper()
	n, err := c.get(db)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStateCountsRollback: a move whose transaction is rolled back is not
// counted, and a loaded counter follows commits.
func TestStateCountsRollback(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(createBuckets); err != nil {
		t.Fatal(err)
	}
	e := &Engine{db: db}
	put := func(id string, from, to State, fail bool) {
		err := db.Update(func(tx *bolt.Tx) error {
			r := record{Checkout: Checkout{ID: id, State: to}}
			if err := e.putRecord(tx, &r, from); err != nil {
				return err
			}
			if fail {
				return errors.New("rollback")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatal(err)
		}
	}
	put("a", "", AwaitingScan, false)
	if n, _ := e.CountByState(); !maps.Equal(n, map[State]int{AwaitingScan: 1}) {
		t.Fatalf("after create: %v", n)
	}
	put("a", AwaitingScan, Decoding, true)
	put("b", "", AwaitingScan, true)
	if n, _ := e.CountByState(); !maps.Equal(n, map[State]int{AwaitingScan: 1}) {
		t.Fatalf("after rollbacks: %v", n)
	}
	put("a", AwaitingScan, Decoding, false)
	put("a", Decoding, Paying, false)
	put("b", "", AwaitingScan, false)
	put("a", Paying, Paid, false)
	n, _ := e.CountByState()
	if !maps.Equal(n, map[State]int{AwaitingScan: 1, Paid: 1}) {
		t.Fatalf("after commits: %v", n)
	}
	n[Paid] = 99 // a copy
	if n, _ := e.CountByState(); n[Paid] != 1 {
		t.Fatalf("CountByState handed out its own map: %v", n)
	}
	if fresh, _ := (&Engine{db: db}).CountByState(); !maps.Equal(fresh, map[State]int{AwaitingScan: 1, Paid: 1}) {
		t.Fatalf("walk: %v", fresh)
	}
}
