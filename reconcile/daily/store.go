package daily

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"posagent/reconcile"
)

// The runner's bucket: day → result JSON, and lastKey → the day stored
// last. Days are "2006-01-02", so lastKey ("\x00last") meets none.
var (
	bucketResults = []byte("reconcile_results")
	lastKey       = []byte("\x00last")
)

// openStore creates the bucket if needed and returns the last result.
func openStore(db *bolt.DB) (*reconcile.Result, error) {
	var last *reconcile.Result
	exists := false
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResults)
		if b == nil {
			return nil
		}
		exists = true
		if day := b.Get(lastKey); day != nil {
			var res reconcile.Result
			if err := json.Unmarshal(b.Get(day), &res); err != nil {
				return fmt.Errorf("reconciliation of %s: corrupt record: %w", day, err)
			}
			last = &res
		}
		return nil
	})
	if err == nil && !exists {
		err = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(bucketResults)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("daily: open store: %w", err)
	}
	return last, nil
}

// store writes res as its day's result and the last one.
func (r *Runner) store(res reconcile.Result) error {
	v, err := json.Marshal(res)
	if err != nil {
		return &dbError{err}
	}
	err = r.opts.DB.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketResults)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(res.Date), v); err != nil {
			return err
		}
		return b.Put(lastKey, []byte(res.Date))
	})
	if err != nil {
		return &dbError{fmt.Errorf("store the reconciliation of %s: %w", res.Date, err)}
	}
	r.mu.Lock()
	r.last = &res
	r.mu.Unlock()
	return nil
}

// Result returns the stored result of day; ok is false when the day was
// never reconciled. Errors: a database error, a corrupt record.
func (r *Runner) Result(day string) (res reconcile.Result, ok bool, err error) {
	err = r.opts.DB.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResults)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(day))
		if v == nil || len(day) == 0 || day[0] == 0 {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &res)
	})
	if err != nil {
		return res, false, fmt.Errorf("reconciliation of %s: %w", day, err)
	}
	return res, ok, nil
}
