package view_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
)

func TestObserveWaitsForTheListenersOfWhoeverPutItFirst(t *testing.T) {
	// Invariant: read-your-writes holds whoever puts an object first. When the feed puts a write on its goroutine
	// and the writer then observes the same object, the writer returns only after the listeners have seen it.
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(events []view.Event) {
		close(entered)
		<-release // a listener still at work (the policy data push, say)
	}
	c := view.New(nil, slog.New(slog.DiscardHandler), slow)
	s := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	s.Rev = 7

	go c.Observe(s) // the feed applies the write first
	<-entered
	returned := make(chan struct{})
	go func() { c.Observe(s); close(returned) }() // the writer observes its own write
	select {
	case <-returned:
		t.Fatal("the writer's Observe returned while the listeners had not seen the write")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer's Observe never returned")
	}
}

func TestListenersHearChangesInTheOrderTheViewMadeThem(t *testing.T) {
	// Invariant: listeners hear the changes to the view in the order they were made, even when the writers run on
	// different goroutines: a listener that keeps ev.New (the search index, the visible-set cache) ends with the
	// object the view holds, not an older rev.
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var heard []int64
	listener := func(events []view.Event) {
		if events[0].New.Metadata().Rev == 7 {
			close(entered)
			<-release // still at work on the first change
		}
		mu.Lock()
		heard = append(heard, events[0].New.Metadata().Rev)
		mu.Unlock()
	}
	c := view.New(nil, slog.New(slog.DiscardHandler), listener)
	older := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "older"}}
	older.Rev = 7
	newer := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "newer"}}
	newer.Rev = 8

	var wg sync.WaitGroup
	wg.Go(func() { c.Observe(older) })
	<-entered
	wg.Go(func() { c.Observe(newer) }) // the view holds rev 8 at once
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if got, _ := c.Get(catalog.KindServer, "ns/x"); got != newer {
		t.Fatalf("view holds rev %d", got.Metadata().Rev)
	}
	if want := []int64{7, 8}; !slices.Equal(heard, want) {
		t.Fatalf("listeners heard revs %v, want %v", heard, want)
	}
}

func TestADeletedObjectIsNotPutBackByAnOlderRead(t *testing.T) {
	// Invariant: once the view has forgotten a key deleted at seq, a copy read or written before the delete (the
	// feed's read of an earlier change, a slower local write) does not bring it back; a re-creation, with a later
	// rev, does.
	c := view.New(nil, nil)
	s := func(rev int64) *catalog.Server {
		o := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
		o.Rev = rev
		return o
	}
	c.Observe(s(10))
	c.Forget(catalog.KindServer, "ns/x", 11) // this process deleted it and answered 204
	c.Observe(s(10))                         // the feed's read of change 10, made before the delete
	if _, ok := c.Get(catalog.KindServer, "ns/x"); ok {
		t.Fatal("a copy older than the delete brought the object back")
	}
	c.Observe(s(12))
	if got, ok := c.Get(catalog.KindServer, "ns/x"); !ok || got.Metadata().Rev != 12 {
		t.Fatal("the object re-created after the delete is missing")
	}
}

// listing is a store whose List runs a hook first: a write that lands while a rebuild lists the documents.
type listing struct {
	objs   []catalog.Object
	during func()
}

func (l *listing) Get(context.Context, catalog.Kind, string) (catalog.Object, error) {
	return nil, catalog.ErrNotFound
}

func (l *listing) List(_ context.Context, k catalog.Kind) ([]catalog.Object, error) {
	if k != catalog.KindServer {
		return nil, nil
	}
	objs := l.objs
	if l.during != nil {
		l.during()
		l.during = nil
	}
	return objs, nil
}

func (l *listing) LastSeq(context.Context) (int64, error) { return 10, nil }

func (l *listing) Changes(context.Context, int64, int64) ([]catalog.Change, error) { return nil, nil }

func TestARebuildDoesNotBringBackAnObjectDeletedWhileItListed(t *testing.T) {
	// Invariant: a rebuild whose listing read a document that this process deleted before the rebuild finished does
	// not put the object back: the client that was answered 204 must not find it again.
	x := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	x.Rev = 10
	st := &listing{objs: []catalog.Object{x}}
	c := view.New(st, nil)
	if _, err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.during = func() { c.Forget(catalog.KindServer, "ns/x", 11) }
	if err := c.Rebuild(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(catalog.KindServer, "ns/x"); ok {
		t.Fatal("the rebuild brought back an object deleted while it listed the documents")
	}
}

func TestAFailedDeleteThatAppliedRemovesARecreatedObject(t *testing.T) {
	// Invariant: a change record of a failed write (op none) whose document is gone removes the key as of that
	// record, even when the same batch holds an earlier delete of the key: here this process re-created the object
	// at 6 after the delete at 5, and a delete at 7 was applied by the server although its request was cancelled.
	c := view.New(&listing{}, nil) // every document is gone
	x := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	x.Rev = 6
	c.Observe(x)
	err := c.Apply(t.Context(), []catalog.Change{
		{Seq: 5, Kind: catalog.KindServer, Key: "ns/x", Op: catalog.OpDelete},
		{Seq: 6, Kind: catalog.KindServer, Key: "ns/x", Op: catalog.OpPut},
		{Seq: 7, Kind: catalog.KindServer, Key: "ns/x", Op: catalog.OpNone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get(catalog.KindServer, "ns/x"); ok {
		t.Fatalf("the view still shows rev %d of an object whose document is gone", got.Metadata().Rev)
	}
}

func TestARebuildDoesNotLetAnOlderLocalWriteBringBackADeletedObject(t *testing.T) {
	// Invariant: a copy older than a delete does not bring the object back even when a rebuild ran in between: a
	// writer that stored rev 10 and is slow to show it, while another request deleted the key at 11 (answered 204)
	// and the feed rebuilt (its listing has no document to show, and says nothing of the slow writer's copy).
	c := view.New(&listing{}, nil)
	if _, err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	s.Rev = 10
	c.Forget(catalog.KindServer, "ns/x", 11)
	if err := c.Rebuild(t.Context(), 11); err != nil {
		t.Fatal(err)
	}
	c.Observe(s) // the slow writer of rev 10
	if _, ok := c.Get(catalog.KindServer, "ns/x"); ok {
		t.Fatal("a copy older than the delete brought the object back after a rebuild")
	}
}

func TestARebuildShowsADocumentStoredAfterAnEarlierDelete(t *testing.T) {
	// Invariant: a tombstone hides only copies the store no longer holds. On a shared server a create that took
	// its sequence number (10) before a delete of the same key (11) can insert its document after the delete ran;
	// the store then holds rev 10 for good, and a rebuild that lists it after the delete must show it (the client
	// was answered 201).
	x := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	x.Rev = 10
	st := &listing{}
	c := view.New(st, nil)
	if _, err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Forget(catalog.KindServer, "ns/x", 11)
	st.objs = []catalog.Object{x} // the create landed after the delete
	if err := c.Rebuild(t.Context(), 11); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(catalog.KindServer, "ns/x"); !ok {
		t.Fatal("a rebuild hid a document the store holds")
	}
	c.Observe(x) // and a later read of it is not refused either
	if _, ok := c.Get(catalog.KindServer, "ns/x"); !ok {
		t.Fatal("the document vanished again")
	}
}
