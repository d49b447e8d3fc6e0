package feed_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/feed"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

func openStore(t *testing.T) *mongo.Store {
	t.Helper()
	s, err := mongo.Open(t.Context(), mongo.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.WithoutCancel(t.Context())) })
	return s
}

func srv(name string) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "d"},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "http://127.0.0.1:9/mcp"}}}
	s.Normalize()
	return s
}

// recorder is a consumer that remembers what it applied, like a persisted exporter would.
type recorder struct {
	mu       sync.Mutex
	store    catalog.Store
	seen     map[string]catalog.Op
	rebuilds int
}

func (r *recorder) Apply(_ context.Context, cs []catalog.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		r.seen[c.Key] = c.Op
	}
	return nil
}

func (r *recorder) Rebuild(ctx context.Context, _ int64) error {
	objs, err := r.store.List(ctx, catalog.KindServer)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rebuilds++
	for k := range r.seen {
		r.seen[k] = catalog.OpDelete
	}
	for _, o := range objs {
		r.seen[o.Key()] = catalog.OpPut
	}
	return nil
}

func (r *recorder) has(key string, op catalog.Op) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key] == op
}

// followed loads a view of the store and returns it with a tailer that follows the store from where the load left
// off (polled by the test).
func followed(t *testing.T, st *mongo.Store) (*view.Catalog, *feed.Tailer) {
	t.Helper()
	v := view.New(st, nil)
	pos, err := v.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v, feed.New(st, v, pos, feed.Options{})
}

// takeSeq takes the next sequence number as a writer does before it writes, and returns it.
func takeSeq(t *testing.T, st *mongo.Store) int64 {
	t.Helper()
	ctx := t.Context()
	_, err := st.Database().Collection("counters").UpdateOne(ctx, bson.D{{Key: "_id", Value: "changes"}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func pollUntil(t *testing.T, tl *feed.Tailer, cond func() bool) {
	t.Helper()
	for range 500 {
		if err := tl.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never met")
}

func TestRestartedConsumerCatchesUp(t *testing.T) {
	// Invariant: a consumer that stops and restarts from its saved position receives every change made meanwhile,
	// in order, without a rebuild.
	ctx := t.Context()
	st := openStore(t)
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{})
	if _, err := st.Create(ctx, srv("ns/a")); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { return rec.has("ns/a", catalog.OpPut) })
	saved := tl.Position()

	// Stopped: these happen while no tailer runs. More than one batch's worth of point lookups.
	for i := range 40 {
		if _, err := st.Create(ctx, srv(fmt.Sprintf("ns/b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Delete(ctx, catalog.KindServer, "ns/a", 0); err != nil {
		t.Fatal(err)
	}
	tl2 := feed.New(st, rec, saved, feed.Options{MaxBatch: 16})
	pollUntil(t, tl2, func() bool { return rec.has("ns/a", catalog.OpDelete) })
	for i := range 40 {
		if !rec.has(fmt.Sprintf("ns/b%d", i), catalog.OpPut) {
			t.Fatalf("ns/b%d missed", i)
		}
	}
	if rec.rebuilds != 0 {
		t.Fatalf("caught up by rebuilding %d times; want replay", rec.rebuilds)
	}
	last, _ := st.LastSeq(ctx)
	if tl2.Position() != last {
		t.Fatalf("position %d, last %d", tl2.Position(), last)
	}
}

func TestGapThatNeverFillsRebuilds(t *testing.T) {
	// Invariant: a sequence number taken by a writer that never finished leaves a hole; the consumer waits, then
	// rebuilds from the documents and continues past it, and nothing written after the hole is lost.
	ctx := t.Context()
	st := openStore(t)
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{GapWait: 50 * time.Millisecond})
	if _, err := st.Create(ctx, srv("ns/before")); err != nil {
		t.Fatal(err)
	}
	takeSeq(t, st) // a writer takes the next sequence number and crashes before writing anything
	if _, err := st.Create(ctx, srv("ns/after")); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { return rec.has("ns/after", catalog.OpPut) })
	if rec.rebuilds != 1 || !rec.has("ns/before", catalog.OpPut) {
		t.Fatalf("rebuilds %d, seen %v", rec.rebuilds, rec.seen)
	}
	last, _ := st.LastSeq(ctx)
	if tl.Position() != last {
		t.Fatalf("position %d, want %d", tl.Position(), last)
	}
}

func TestTrimmedFeedRebuilds(t *testing.T) {
	// Invariant: a consumer behind the retained feed rebuilds instead of silently skipping trimmed changes.
	ctx := t.Context()
	st := openStore(t)
	for i := range 3 {
		if _, err := st.Create(ctx, srv(fmt.Sprintf("ns/s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.TrimChanges(ctx, 2); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{GapWait: 20 * time.Millisecond})
	pollUntil(t, tl, func() bool { return rec.has("ns/s0", catalog.OpPut) && tl.Position() == 3 })
	if rec.rebuilds != 1 {
		t.Fatalf("rebuilds = %d", rec.rebuilds)
	}
}

func TestViewFollowsAnotherWriter(t *testing.T) {
	// Invariant: a view fed by the tailer converges to the store after writes it did not make itself, and its
	// listeners hear about each change once.
	ctx := t.Context()
	st := openStore(t)
	if _, err := st.Create(ctx, srv("ns/pre")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []view.Event
	v := view.New(st, nil, func(ev []view.Event) { mu.Lock(); events = append(events, ev...); mu.Unlock() })
	pos, err := v.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tl := feed.New(st, v, pos, feed.Options{})
	a := srv("ns/a")
	if _, err := st.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := srv("ns/a")
	b.Description = "changed"
	if _, err := st.Update(ctx, b, a.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, catalog.KindServer, "ns/pre", 0); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { _, ok := v.Get(catalog.KindServer, "ns/pre"); return !ok })
	got, ok := v.Get(catalog.KindServer, "ns/a")
	if !ok || got.(*catalog.Server).Description != "changed" {
		t.Fatalf("view has %+v", got)
	}
	items, more := v.List(catalog.KindServer, view.Page{Limit: 10})
	if len(items) != 1 || more {
		t.Fatalf("list: %d items, more=%v", len(items), more)
	}
	mu.Lock()
	defer mu.Unlock()
	// initial load of ns/pre, ns/a once (create and update coalesce: one read sees the newest), delete of ns/pre
	if len(events) != 3 {
		t.Fatalf("events: %d", len(events))
	}
}

func TestWriteSlowerThanGapWaitIsAppliedAfterTheRebuild(t *testing.T) {
	// Invariant: a write whose change record lands after a rebuild passed over its sequence number is applied when
	// it lands (within a poll or two), not only at the next periodic reconciliation.
	ctx := t.Context()
	st := openStore(t)
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{GapWait: 50 * time.Millisecond}) // no periodic reconciliation
	if _, err := st.Create(ctx, srv("ns/before")); err != nil {
		t.Fatal(err)
	}
	slow := takeSeq(t, st) // a slow writer takes the next sequence number...
	if _, err := st.Create(ctx, srv("ns/after")); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { return rec.has("ns/after", catalog.OpPut) })
	if rec.rebuilds != 1 {
		t.Fatalf("rebuilds %d, want 1", rec.rebuilds)
	}
	// ...and finishes after the rebuild: its change record arrives late.
	_, err := st.Database().Collection("changes").InsertOne(ctx, bson.D{{Key: "_id", Value: mongo.SeqID(slow)},
		{Key: "seq", Value: slow}, {Key: "kind", Value: string(catalog.KindServer)}, {Key: "key", Value: "ns/slow"},
		{Key: "op", Value: string(catalog.OpPut)}, {Key: "at", Value: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { return rec.has("ns/slow", catalog.OpPut) })
	if rec.rebuilds != 1 {
		t.Fatalf("rebuilds %d: the late record should be applied, not rebuilt for", rec.rebuilds)
	}
}

// appendLate appends the change record of a write that took seq and finishes only now.
func appendLate(t *testing.T, st *mongo.Store, seq int64, key string) {
	t.Helper()
	_, err := st.Database().Collection("changes").InsertOne(t.Context(), bson.D{{Key: "_id", Value: mongo.SeqID(seq)},
		{Key: "seq", Value: seq}, {Key: "kind", Value: string(catalog.KindServer)}, {Key: "key", Value: key},
		{Key: "op", Value: string(catalog.OpPut)}, {Key: "at", Value: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRebuildAtAGapKeepsLookingForWritesBeyondTheBatch(t *testing.T) {
	// Invariant: a write in flight beyond the batch in which the Tailer met a hole (its document not yet written
	// when the rebuild listed the documents) is applied when its record lands, not passed over by the rebuild.
	ctx := t.Context()
	st := openStore(t)
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{GapWait: 50 * time.Millisecond, MaxBatch: 2})
	if _, err := st.Create(ctx, srv("ns/s1")); err != nil { // 1
		t.Fatal(err)
	}
	takeSeq(t, st)                                          // 2: a writer that crashed
	if _, err := st.Create(ctx, srv("ns/s3")); err != nil { // 3
		t.Fatal(err)
	}
	slow := takeSeq(t, st)                                  // 4: a writer still at work
	if _, err := st.Create(ctx, srv("ns/s5")); err != nil { // 5
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { return rec.rebuilds == 1 })
	appendLate(t, st, slow, "ns/slow")
	pollUntil(t, tl, func() bool { return rec.has("ns/slow", catalog.OpPut) && rec.has("ns/s5", catalog.OpPut) })
}

func TestReconciliationDoesNotPassWritesInFlight(t *testing.T) {
	// Invariant: a periodic reconciliation repairs the consumer's state but does not move its position: a write
	// that took its sequence number before the reconciliation and lands after it is applied when its record lands,
	// not five minutes later.
	ctx := t.Context()
	st := openStore(t)
	if _, err := st.Create(ctx, srv("ns/before")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{Interval: time.Hour, Reconcile: 10 * time.Millisecond})
	pollUntil(t, tl, func() bool { return rec.has("ns/before", catalog.OpPut) })
	slow := takeSeq(t, st) // a writer at work while the reconciliation lists the documents
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- tl.Run(rctx) }()
	for range 500 {
		rec.mu.Lock()
		n := rec.rebuilds
		rec.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec.rebuilds == 0 {
		t.Fatal("no reconciliation ran")
	}
	appendLate(t, st, slow, "ns/slow")
	pollUntil(t, tl, func() bool { return rec.has("ns/slow", catalog.OpPut) })
}

func TestViewLoadedWhileAWriteIsInFlightAppliesIt(t *testing.T) {
	// Invariant: a view loaded while a write is in flight (its sequence number taken, its document not yet written
	// when the view lists the documents) shows the write once it lands: the position the view reports lies before
	// the write's record.
	ctx := t.Context()
	st := openStore(t)
	if _, err := st.Create(ctx, srv("ns/a")); err != nil {
		t.Fatal(err)
	}
	// A writer on another replica takes the next sequence number and has neither its document nor its record
	// stored yet: make the write, then take both back out until the test lets the writer finish.
	c, err := st.Create(ctx, srv("ns/slow"))
	if err != nil {
		t.Fatal(err)
	}
	servers := st.Database().Collection(string(catalog.KindServer))
	doc, err := servers.FindOne(ctx, bson.D{{Key: "_id", Value: "ns/slow"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servers.DeleteOne(ctx, bson.D{{Key: "_id", Value: "ns/slow"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Database().Collection("changes").DeleteOne(ctx, bson.D{{Key: "_id", Value: mongo.SeqID(c.Seq)}}); err != nil {
		t.Fatal(err)
	}

	v, tl := followed(t, st)
	if _, ok := v.Get(catalog.KindServer, "ns/a"); !ok {
		t.Fatal("ns/a not loaded")
	}

	if _, err := servers.InsertOne(ctx, doc); err != nil { // the writer finishes
		t.Fatal(err)
	}
	appendLate(t, st, c.Seq, "ns/slow")
	pollUntil(t, tl, func() bool { _, ok := v.Get(catalog.KindServer, "ns/slow"); return ok })
}

func TestViewShowsAWriteRecordedAsFailedThatLanded(t *testing.T) {
	// Invariant: a write whose outcome the writer could not know (its request was cancelled, or the connection
	// broke, after the server applied it) is recorded as changing nothing, yet its document is stored: views read
	// the document for such a record too, so they show what the store holds instead of missing it until the next
	// reconciliation.
	ctx := t.Context()
	st := openStore(t)
	v, tl := followed(t, st)
	c, err := st.Create(ctx, srv("ns/a"))
	if err != nil {
		t.Fatal(err)
	}
	// What the writer recorded when InsertOne returned an error although the document was stored.
	_, err = st.Database().Collection("changes").UpdateOne(ctx, bson.D{{Key: "_id", Value: mongo.SeqID(c.Seq)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "op", Value: string(catalog.OpNone)}}}})
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool { _, ok := v.Get(catalog.KindServer, "ns/a"); return ok })
}

func TestViewShowsAnUpdateRecordedAsFailedBehindAnEarlierWrite(t *testing.T) {
	// Invariant: a record of a failed write is read even when the same poll also reads an earlier write of the key
	// that the view already shows: the later record is the one that decides whether the document must be read.
	ctx := t.Context()
	st := openStore(t)
	v, tl := followed(t, st)
	a := srv("ns/a")
	if _, err := st.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	v.Observe(a) // this process made the write and shows it at once
	b := srv("ns/a")
	b.Description = "updated"
	c, err := st.Update(ctx, b, a.Rev)
	if err != nil {
		t.Fatal(err)
	}
	// The update's request was cancelled after the server applied it: its writer recorded it as failed.
	_, err = st.Database().Collection("changes").UpdateOne(ctx, bson.D{{Key: "_id", Value: mongo.SeqID(c.Seq)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "op", Value: string(catalog.OpNone)}}}})
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, tl, func() bool {
		got, ok := v.Get(catalog.KindServer, "ns/a")
		return ok && got.Metadata().Rev == c.Seq
	})
}

func TestConsumerFarBehindTrimmedRecordsRebuildsOnce(t *testing.T) {
	// Invariant: a consumer behind many batches of trimmed records rebuilds once and continues at the head, rather
	// than waiting out a hole and rebuilding for every batch.
	ctx := t.Context()
	st := openStore(t)
	for i := range 12 {
		if _, err := st.Create(ctx, srv(fmt.Sprintf("ns/s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.TrimChanges(ctx, 10); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{store: st, seen: map[string]catalog.Op{}}
	tl := feed.New(st, rec, 0, feed.Options{GapWait: 20 * time.Millisecond, MaxBatch: 2})
	pollUntil(t, tl, func() bool { return tl.Position() == 12 })
	if rec.rebuilds != 1 || !rec.has("ns/s0", catalog.OpPut) {
		t.Fatalf("rebuilds = %d", rec.rebuilds)
	}
}

func TestTrimmerKeepsTheNewestRecordsAndWhatTheTailerHasNotApplied(t *testing.T) {
	// Invariant: the trimmer deletes only records below both the tailer's position and the newest Keep records, so
	// the collection stays bounded while the tailer never misses a record it has not applied; a second run with
	// nothing new deletes nothing.
	st := openStore(t)
	ctx := t.Context()
	for i := range 30 {
		if _, err := st.Create(ctx, srv(fmt.Sprintf("ns/s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	tl := feed.New(st, &recorder{store: st, seen: map[string]catalog.Op{}}, 0, feed.Options{MaxBatch: 20})
	if err := tl.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if tl.Position() != 30 {
		t.Fatalf("position %d after a poll, want 30", tl.Position())
	}
	tr := &feed.Trimmer{Store: st, Tailer: tl, Keep: 10}
	tl2 := feed.New(st, &recorder{store: st, seen: map[string]catalog.Op{}}, 0, feed.Options{})
	tr2 := &feed.Trimmer{Store: st, Tailer: tl2, Keep: 10}
	if n, err := tr2.Once(ctx); err != nil || n != 0 {
		t.Fatalf("a tailer at 0 trimmed %d records (%v)", n, err)
	}
	if n, err := tr.Once(ctx); err != nil || n != tl.Position()-10 {
		t.Fatalf("trimmed %d records at position %d (%v), want %d", n, tl.Position(), err, tl.Position()-10)
	}
	left, err := st.Changes(ctx, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 10 || left[0].Seq != 21 {
		t.Fatalf("left %d records from %d, want the newest 10 from 21", len(left), left[0].Seq)
	}
	if n, err := tr.Once(ctx); err != nil || n != 0 {
		t.Fatalf("a second trim deleted %d (%v)", n, err)
	}
	if _, err := (&feed.Trimmer{Store: st, Tailer: tl}).Once(ctx); err == nil {
		t.Error("Keep 0 accepted")
	}
}
