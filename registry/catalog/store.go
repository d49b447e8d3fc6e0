package catalog

import (
	"context"
	"time"
)

// Op says what a change did.
type Op string

// Change operations.
const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
	// OpNone fills the sequence number of a write that failed after taking it (a duplicate create, a lost
	// conditional update), so that readers of the feed do not wait on a hole.
	OpNone Op = "none"
)

// Change is one record of the change feed. Seq is its place in the global sequence and equals the Rev the write gave
// the object (for a delete, the sequence taken by the delete).
type Change struct {
	Seq  int64     `json:"seq"`
	Kind Kind      `json:"kind"`
	Key  string    `json:"key"`
	Op   Op        `json:"op"`
	At   time.Time `json:"at"`
}

// Store is the durable catalog. Every write takes the next value of the global sequence, stamps it as the object's
// Rev, writes the object and then appends a Change with that sequence. Writers finish out of order, so the feed can
// briefly have gaps; readers of the feed must tolerate them (see package registry/feed).
type Store interface {
	// Create writes a new object. It fails with ErrConflict when the key exists. It sets obj's Rev.
	Create(ctx context.Context, obj Object) (Change, error)
	// Update replaces an existing object whose current Rev is ifRev (any rev when ifRev is 0). It fails with
	// ErrNotFound or ErrRevMismatch. It sets obj's Rev.
	Update(ctx context.Context, obj Object, ifRev int64) (Change, error)
	// Delete removes an object whose current Rev is ifRev (any rev when ifRev is 0).
	Delete(ctx context.Context, kind Kind, key string, ifRev int64) (Change, error)
	// Get reads one object by key.
	Get(ctx context.Context, kind Kind, key string) (Object, error)
	// List reads every object of a kind, for building views.
	List(ctx context.Context, kind Kind) ([]Object, error)
	// Changes returns the change records with after < Seq <= upto, in sequence order. Missing sequence numbers (writes
	// in flight or lost) are simply absent.
	Changes(ctx context.Context, after, upto int64) ([]Change, error)
	// LastSeq returns the highest sequence number handed out so far.
	LastSeq(ctx context.Context) (int64, error)
}
