package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The group commit is internal, and its failure path (one function of a
// group fails, the others run again without it) cannot be reached through
// the API, so it is tested here.
func TestCommitterGroupsAndIsolatesFailures(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	c := committer{db: db}
	var commits sync.Map
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.do(func(tx *bolt.Tx) error {
				commits.Store(tx.ID(), true)
				if err := tx.Bucket([]byte("b")).Put([]byte(fmt.Sprint(i)), []byte("x")); err != nil {
					return err
				}
				if i%7 == 3 {
					return fmt.Errorf("fn %d: %w", i, errBoom)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i, err := range errs {
			stored := b.Get([]byte(fmt.Sprint(i))) != nil
			if i%7 == 3 {
				if !errors.Is(err, errBoom) || stored {
					t.Errorf("failing fn %d: err %v, stored %v", i, err, stored)
				}
			} else if err != nil || !stored {
				t.Errorf("fn %d: err %v, stored %v", i, err, stored)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	commits.Range(func(any, any) bool { n++; return true })
	t.Logf("200 writers in %d transactions", n)
}

var errBoom = errors.New("boom")
