package checkout

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A payment code's sence_no is kept keyed by HMAC-SHA256(secret, code), with
// the secret random and kept in the database, so the store can recognise a
// re-scanned code without holding it. Entries older than Options.SenceTTL are
// purged.

var metaSecret = []byte("hmac_secret")

// senceEntry is the stored sence_no of one code.
type senceEntry struct {
	SenceNo   string    `json:"sence_no"`
	CreatedAt time.Time `json:"created_at"`
}

// existingSecret returns the HMAC secret when every bucket of the package
// and the secret exist, else nil (New must then create them).
func existingSecret(tx *bolt.Tx) []byte {
	for _, b := range allBuckets {
		if tx.Bucket(b) == nil {
			return nil
		}
	}
	if v := tx.Bucket(bucketMeta).Get(metaSecret); len(v) == 32 {
		return bytes.Clone(v)
	}
	return nil
}

// loadSecret returns the HMAC secret, creating it on first use.
func loadSecret(tx *bolt.Tx) ([]byte, error) {
	m := tx.Bucket(bucketMeta)
	if v := m.Get(metaSecret); len(v) == 32 {
		return bytes.Clone(v), nil
	}
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("hmac secret: %w", err)
	}
	if err := m.Put(metaSecret, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (e *Engine) codeKey(code string) []byte {
	h := hmac.New(sha256.New, e.secret)
	h.Write([]byte(code))
	return h.Sum(nil)
}

// senceFor returns the sence_no of code, creating and storing one when the
// code has none younger than the TTL. It runs inside the decode-intent
// transaction, so the sence_no is on disk before the decode is sent.
func (e *Engine) senceFor(tx *bolt.Tx, code string, now time.Time) (senceNo string, reused bool, err error) {
	b := tx.Bucket(bucketSence)
	key := e.codeKey(code)
	if v := b.Get(key); v != nil {
		var s senceEntry
		if json.Unmarshal(v, &s) == nil && s.SenceNo != "" && now.Sub(s.CreatedAt) < e.opts.SenceTTL {
			return s.SenceNo, true, nil
		}
	}
	s := senceEntry{SenceNo: newSenceNo(e.opts.TerminalID, now), CreatedAt: now}
	v, err := json.Marshal(s)
	if err != nil {
		return "", false, err
	}
	return s.SenceNo, false, b.Put(key, v)
}

// purgeSence deletes the sence entries older than the TTL and returns how
// many went. It writes (and syncs) only when there is something to delete.
func (e *Engine) purgeSence(now time.Time) (int, error) {
	old := func(tx *bolt.Tx) ([][]byte, error) {
		var keys [][]byte
		err := tx.Bucket(bucketSence).ForEach(func(k, v []byte) error {
			var s senceEntry
			if json.Unmarshal(v, &s) != nil || now.Sub(s.CreatedAt) >= e.opts.SenceTTL {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		return keys, err
	}
	var n int
	err := e.db.View(func(tx *bolt.Tx) error {
		keys, err := old(tx)
		n = len(keys)
		return err
	})
	if err != nil || n == 0 {
		return 0, err
	}
	err = e.db.Update(func(tx *bolt.Tx) error {
		keys, err := old(tx)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketSence)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
