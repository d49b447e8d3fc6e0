package feed

import (
	"context"
	"testing"
)

func TestAbandonedWaitsAreForgotten(t *testing.T) {
	// Invariant: a WaitFor whose context ends leaves nothing behind, so callers that give up (a request that timed
	// out while the feed was stuck behind a store outage) cannot grow the Tailer's memory.
	tl := New(nil, nil, 0, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 1000 {
		if err := tl.WaitFor(ctx, 1<<40); err == nil {
			t.Fatal("a wait for a change never applied returned without error")
		}
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if n := len(tl.waiters); n != 0 {
		t.Fatalf("%d abandoned waits still held", n)
	}
}
