package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
)

// TestBatcherArgumentKeysTheStoreRefuses drives the Batcher against the embedded store. Invariant: whatever keys a
// caller's arguments use, the record is stored, and so are the records that share its batch. A key with a NUL byte
// ("\u0000" is valid JSON, and authz/mcp passes it) cannot be a BSON field name: before it was escaped, such a record
// made its whole batch fail on every attempt, so one request could erase everyone else's audit records.
func TestBatcherArgumentKeysTheStoreRefuses(t *testing.T) {
	ctx := t.Context()
	store, err := mongo.Open(ctx, mongo.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.WithoutCancel(ctx)) })

	const n = 4
	b, err := audit.NewBatcher(store, audit.BatcherConfig{BatchSize: n, FlushInterval: time.Hour, MaxAttempts: 2,
		RetryBackoff: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()

	poison := map[string]any{
		"a\x00b":  "x",
		"\x00":    map[string]any{"$in\x00ner.key": []any{map[string]any{"\x00%00": 1}}},
		"plain%0": true,
	}
	for i := range n {
		rec := audit.Record{Kind: audit.KindDecision, Subject: "alice", Server: "ns/s", Tool: "t"}
		if i == 1 {
			rec.Arguments = poison
		} else {
			rec.Arguments = map[string]any{"i": i}
		}
		if !b.Submit(rec) {
			t.Fatalf("record %d dropped", i)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := b.Stats(); st.Written != n || st.Failed != 0 {
		t.Fatalf("stats %+v; want all %d records written, none failed", st, n)
	}
	recs, _, err := store.QueryAudit(ctx, mongo.AuditQuery{Subject: "alice", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("stored %d records; want %d", len(recs), n)
	}
	got := recs[n-2].Arguments // newest first
	inner, _ := got["\x00"].(map[string]any)
	list, _ := inner["$in\x00ner.key"].([]any)
	if got["a\x00b"] != "x" || got["plain%0"] != true || len(list) != 1 {
		t.Fatalf("stored arguments %q; want the submitted keys back", got)
	}
	if m, _ := list[0].(map[string]any); len(m) != 1 || m["\x00%00"] == nil {
		t.Fatalf("stored arguments %q; want the submitted keys back", got)
	}
}
