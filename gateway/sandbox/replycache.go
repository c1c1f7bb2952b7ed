package sandbox

import (
	"crypto/sha256"
	"sync"
)

// replyCache keeps signed reply bodies keyed by the SHA-256 of what was
// signed (sign type, response key, reply bytes). RSA PKCS#1 v1.5 signatures
// are deterministic, so a cached body is exactly what signing again would
// give; the cache only saves the private-key operation, which is most of the
// cost of a call. It holds at most size entries and forgets the oldest
// first. A nil *replyCache caches nothing.
type replyCache struct {
	mu   sync.Mutex
	m    map[[sha256.Size]byte][]byte
	ring [][sha256.Size]byte // insertion order, for eviction
	next int
}

func newReplyCache(size int) *replyCache {
	if size <= 0 {
		return nil
	}
	return &replyCache{
		m:    make(map[[sha256.Size]byte][]byte, size),
		ring: make([][sha256.Size]byte, 0, size),
	}
}

// get returns the cached body for k. The body is shared: never modify it.
func (c *replyCache) get(k [sha256.Size]byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *replyCache) put(k [sha256.Size]byte, body []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, k)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = body
}

// len is the number of cached replies.
func (c *replyCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
