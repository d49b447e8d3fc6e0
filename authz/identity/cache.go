package identity

import (
	"sync"
	"time"
)

// DefaultCacheSize is the number of verified tokens remembered when Options.CacheSize is zero.
const DefaultCacheSize = 8192

// tokenCache remembers verified tokens until they expire. An entry is only valid while the key that verified it
// is still in its issuer's current key set, so removing a key from the JWKS revokes the cached tokens it signed at
// the next refresh.
type tokenCache struct {
	max int

	mu sync.RWMutex
	m  map[string]*cacheEntry
}

type cacheEntry struct {
	p   Principal
	iss *issuer
	key *verifyKey
	// notAfter is exp plus the issuer's clock skew: the last instant an uncached verification would still accept.
	notAfter time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[string]*cacheEntry)}
}

// get returns the cached principal of raw, if it is still valid at now.
func (c *tokenCache) get(raw string, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[raw]
	c.mu.RUnlock()
	if !ok {
		return Principal{}, false
	}
	if now.After(e.notAfter) || !e.iss.keys.current().contains(e.key) {
		c.mu.Lock()
		if c.m[raw] == e {
			delete(c.m, raw)
		}
		c.mu.Unlock()
		return Principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(raw string, e *cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[raw] = e
}

// evict drops expired entries and, if that is not enough, an arbitrary quarter of the rest (map iteration order is
// random), so a flood of distinct tokens cannot grow the cache or make every insert scan it.
func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.m {
		if now.After(e.notAfter) {
			delete(c.m, k)
		}
	}
	if len(c.m) < c.max {
		return
	}
	drop := c.max/4 + 1
	for k := range c.m {
		if drop == 0 {
			break
		}
		delete(c.m, k)
		drop--
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
