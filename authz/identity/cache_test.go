package identity

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenCacheBounded(t *testing.T) {
	// Invariant: the cache never holds more than its size, expired entries go first, a fresh entry is retrievable
	// until exp+skew, and an entry whose key left the issuer's key set is dropped.
	k := &verifyKey{kid: "k"}
	set := &keySet{byKid: map[string]*verifyKey{"k": k}, all: []*verifyKey{k}}
	is := &issuer{keys: &keySource{}}
	is.keys.keys.Store(set)
	now := time.Unix(1_800_000_000, 0)
	c := newTokenCache(8)
	entry := func(notAfter time.Time) *cacheEntry {
		return &cacheEntry{p: Principal{Subject: "s"}, iss: is, key: k, notAfter: notAfter}
	}
	for i := range 8 {
		c.put(fmt.Sprintf("expired-%d", i), entry(now.Add(-time.Second)), now)
	}
	c.put("fresh", entry(now.Add(time.Minute)), now)
	if got := c.len(); got != 1 {
		t.Fatalf("after inserting into a cache full of expired entries: %d entries, want 1", got)
	}
	for i := range 100 {
		c.put(fmt.Sprintf("tok-%d", i), entry(now.Add(time.Minute)), now)
		if got := c.len(); got > 8 {
			t.Fatalf("cache holds %d entries, limit 8", got)
		}
	}
	c.put("last", entry(now.Add(time.Minute)), now)
	if _, ok := c.get("last", now); !ok {
		t.Fatal("fresh entry not found")
	}
	if _, ok := c.get("last", now.Add(time.Minute)); !ok {
		t.Fatal("entry not found at exactly notAfter")
	}
	if _, ok := c.get("last", now.Add(time.Minute+time.Nanosecond)); ok {
		t.Fatal("entry found after notAfter")
	}
	c.put("rotated", entry(now.Add(time.Minute)), now)
	k2 := &verifyKey{kid: "k"} // same kid, different key object: the key changed at the issuer
	is.keys.keys.Store(&keySet{byKid: map[string]*verifyKey{"k": k2}, all: []*verifyKey{k2}})
	if _, ok := c.get("rotated", now); ok {
		t.Fatal("entry of a replaced key still served")
	}
}
