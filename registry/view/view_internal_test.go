package view

import (
	"fmt"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestTombstonesAreBounded(t *testing.T) {
	// Invariant: remembering deleted keys costs bounded memory even when no rebuild runs to drop them, and the
	// newest deletes are the ones remembered.
	c := New(nil, nil)
	const n = 3 * maxTombstones
	for i := range n {
		c.Forget(catalog.KindServer, fmt.Sprintf("ns/s%d", i), int64(i+1))
	}
	if len(c.gone) > maxTombstones {
		t.Fatalf("%d tombstones after %d deletes; at most %d", len(c.gone), n, maxTombstones)
	}
	if _, ok := c.gone[ref{catalog.KindServer, fmt.Sprintf("ns/s%d", n-1)}]; !ok {
		t.Fatal("the newest delete is not remembered")
	}
}
