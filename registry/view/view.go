// Package view keeps the catalog in memory: built from the store at start, kept current by the change feed (it is
// a feed.Consumer) and by the writes this process makes itself. The REST API, search, the xDS builder and authz
// read from it; none of them query the store to serve a request.
//
// Objects in the view are shared and immutable: a write replaces an object, it never mutates one. Callers must not
// modify what they read.
package view

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Reader is the part of the store the view reads.
type Reader interface {
	Get(ctx context.Context, kind catalog.Kind, key string) (catalog.Object, error)
	List(ctx context.Context, kind catalog.Kind) ([]catalog.Object, error)
	LastSeq(ctx context.Context) (int64, error)
	Changes(ctx context.Context, after, upto int64) ([]catalog.Change, error)
}

// Event describes one change to the view. Old is nil for an addition, New is nil for a removal.
type Event struct {
	Kind catalog.Kind
	Key  string
	Old  catalog.Object
	New  catalog.Object
}

// Listener is told about changes after they are visible to readers, one change at a time and in the order the view
// made them. It runs on the writer's goroutine and must be quick (signal a worker rather than work): later changes
// wait for it. It must not call Observe or Forget. Observe and Forget return only
// after the listeners have seen their change, even when the feed made it first.
type Listener func(events []Event)

// Catalog is the in-memory view of every kind.
type Catalog struct {
	store     Reader
	log       *slog.Logger
	listeners []Listener

	mu     sync.RWMutex
	tables map[catalog.Kind]*table
	// gone remembers keys forgotten recently, so that a copy older than the delete (read or written before it, and
	// put after it: the feed's read of an earlier change, a slower local write, a rebuild's listing) does not bring
	// the object back. A rebuild keeps them (its listing says nothing of a slower local write still on its way to
	// Observe), except those its listing contradicts: a document older than a delete made before the listing began
	// was stored after the delete, by a create that took its sequence number first. At most maxTombstones stay.
	gone    map[ref]tombstone
	goneGen uint64 // tombstones recorded so far

	version atomic.Int64 // bumped on every change; caches key on it
	loaded  atomic.Bool

	notes notifications
}

// notifications keeps read-your-writes whoever puts an object first, and keeps the listeners in step with the view.
// Every change takes a ticket while the view's lock is held, tells the listeners once every earlier ticket has
// finished (so they hear changes in the order the view made them, even from different goroutines: a listener that
// keeps ev.New must not end with an older rev than the view), and then finishes its ticket. When Observe or Forget
// finds its change already in place (the feed applied the same write first, on its own goroutine), it waits until
// every ticket taken so far has finished, so that its caller, like any writer, returns only after the listeners have
// seen the write.
type notifications struct {
	mu     sync.Mutex
	cond   sync.Cond
	issued uint64          // tickets taken
	low    uint64          // every ticket up to low has finished
	done   map[uint64]bool // finished tickets above low
}

// take returns a new ticket; call it with the view's lock held.
func (n *notifications) take() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.issued++
	return n.issued
}

// taken returns the last ticket taken; call it with the view's lock held.
func (n *notifications) taken() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.issued
}

func (n *notifications) finish(t uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		n.done = map[uint64]bool{}
	}
	n.done[t] = true
	for n.done[n.low+1] {
		delete(n.done, n.low+1)
		n.low++
	}
	n.cond.Broadcast()
}

// wait returns once every ticket up to t has finished.
func (n *notifications) wait(t uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.low < t {
		n.cond.Wait()
	}
}

type ref struct {
	kind catalog.Kind
	key  string
}

type tombstone struct {
	seq int64  // the delete's sequence number
	gen uint64 // when it was recorded (goneGen)
}

// maxTombstones bounds gone; the oldest half goes when it is reached. A copy older than that many
// deletes is not expected, and the feed would remove it again.
const maxTombstones = 4096

type table struct {
	byKey map[string]catalog.Object
	keys  []string // sorted
}

func newTable() *table { return &table{byKey: map[string]catalog.Object{}} }

func (t *table) put(o catalog.Object) {
	k := o.Key()
	if _, ok := t.byKey[k]; !ok {
		i, _ := slices.BinarySearch(t.keys, k)
		t.keys = slices.Insert(t.keys, i, k)
	}
	t.byKey[k] = o
}

func (t *table) remove(k string) {
	if _, ok := t.byKey[k]; !ok {
		return
	}
	delete(t.byKey, k)
	if i, found := slices.BinarySearch(t.keys, k); found {
		t.keys = slices.Delete(t.keys, i, i+1)
	}
}

// New returns an empty view; Load fills it. Listeners are called in order on every change.
func New(store Reader, log *slog.Logger, listeners ...Listener) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{store: store, log: log.With("component", "view"), listeners: listeners, tables: map[catalog.Kind]*table{},
		gone: map[ref]tombstone{}}
	c.notes.cond.L = &c.notes.mu
	for _, k := range catalog.Kinds {
		c.tables[k] = newTable()
	}
	return c
}

// AddListener registers a listener. Call it before the view starts changing (during start-up wiring).
func (c *Catalog) AddListener(l Listener) {
	c.mu.Lock()
	c.listeners = append(c.listeners, l)
	c.mu.Unlock()
}

// loadWindow is how many of the newest change records Load checks for writes in flight (one indexed lookup each).
const loadWindow = 32

// Load reads every document and returns the feed position to continue from; replaying from it can only repeat
// changes, never miss one. Writers finish out of order, so a write that took a sequence number at or below the
// newest one may not have stored its document yet when the documents are listed. A change record is appended after
// its document, so the newest records are read before the listing: the position is the one before the first of
// them that is missing, and the feed applies that write when it lands (or, should it never land, rebuilds).
func (c *Catalog) Load(ctx context.Context) (int64, error) {
	last, err := c.store.LastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("load view: %w", err)
	}
	from := max(0, last-loadWindow)
	recs, err := c.store.Changes(ctx, from, last)
	if err != nil {
		return 0, fmt.Errorf("load view: %w", err)
	}
	pos := from
	for _, r := range recs {
		if r.Seq != pos+1 {
			break
		}
		pos = r.Seq
	}
	if err := c.Rebuild(ctx, last); err != nil {
		return 0, err
	}
	c.loaded.Store(true)
	return pos, nil
}

// Loaded reports whether the initial load finished.
func (c *Catalog) Loaded() bool { return c.loaded.Load() }

// Version changes whenever the view does.
func (c *Catalog) Version() int64 { return c.version.Load() }

// Rebuild implements feed.Consumer: it replaces the view with the documents and reports the differences. An object
// the view holds at a newer rev than the documents read (a write that finished while they were being read) is kept,
// and so is one the documents lack that was written after upto.
func (c *Catalog) Rebuild(ctx context.Context, upto int64) error {
	c.mu.RLock()
	listed := c.goneGen // tombstones recorded up to here deleted documents before the listing began
	c.mu.RUnlock()
	fresh := map[catalog.Kind]*table{}
	for _, k := range catalog.Kinds {
		objs, err := c.store.List(ctx, k)
		if err != nil {
			return fmt.Errorf("rebuild view: %w", err)
		}
		t := newTable()
		t.keys = make([]string, 0, len(objs))
		for _, o := range objs {
			t.byKey[o.Key()] = o
			t.keys = append(t.keys, o.Key())
		}
		sort.Strings(t.keys)
		fresh[k] = t
	}
	var events []Event
	c.mu.Lock()
	for _, k := range catalog.Kinds {
		old, cur := c.tables[k], fresh[k]
		for key, o := range cur.byKey {
			r := ref{k, key}
			tb, ok := c.gone[r]
			switch {
			case !ok || o.Metadata().Rev >= tb.seq:
			case tb.gen > listed:
				cur.remove(key) // listed before this process deleted it
			default:
				// Deleted before the listing began, yet the store holds an older rev: a create that took its
				// sequence number before the delete and inserted after it (a shared server has no key lock).
				// The store is right; the tombstone is not.
				delete(c.gone, r)
			}
		}
		for key, prev := range old.byKey {
			o, ok := cur.byKey[key]
			if ok && o.Metadata().Rev < prev.Metadata().Rev || !ok && prev.Metadata().Rev > upto {
				cur.put(prev)
			}
		}
		for key, o := range cur.byKey {
			if prev, ok := old.byKey[key]; !ok || prev.Metadata().Rev != o.Metadata().Rev {
				events = append(events, Event{Kind: k, Key: key, Old: prev, New: o})
			}
		}
		for key, prev := range old.byKey {
			if _, ok := cur.byKey[key]; !ok {
				events = append(events, Event{Kind: k, Key: key, Old: prev})
			}
		}
	}
	c.tables = fresh
	listeners := c.listeners
	if len(events) > 0 {
		c.version.Add(1)
	}
	ticket := c.notes.take()
	c.mu.Unlock()
	c.notify(ticket, listeners, events)
	return nil
}

// Apply implements feed.Consumer: each changed key is read from the store and replaces the view's copy when it is
// newer. Reading the current document (rather than trusting the record) makes replays and reorderings harmless.
//
// A record of a failed write (OpNone) is read too: a writer whose request was cancelled or whose connection broke
// cannot know whether the server applied the write, and records it as changing nothing; the document says what
// happened.
func (c *Catalog) Apply(ctx context.Context, changes []catalog.Change) error {
	last := map[ref]catalog.Change{}
	deleted := map[ref]bool{} // keys the batch deletes
	order := make([]ref, 0, len(changes))
	for _, ch := range changes {
		r := ref{ch.Kind, ch.Key}
		if _, seen := last[r]; !seen {
			order = append(order, r)
		}
		last[r] = ch
		if ch.Op == catalog.OpDelete {
			deleted[r] = true
		}
	}
	for _, r := range order {
		ch := last[r]
		if c.current(r.kind, r.key, ch) {
			continue // this process made the write and already shows it, or a kind this build does not know
		}
		obj, err := c.store.Get(ctx, r.kind, r.key)
		switch {
		case err == nil:
			c.Observe(obj)
		case isNotFound(err) && ch.Op == catalog.OpNone:
			// Gone as of this record, which was appended after every earlier write of the key had finished: the
			// key goes at ch.Seq, not at an earlier delete in the batch, which would keep a copy re-created after
			// that delete (and removed by this failed-but-applied write). Remember the delete only when the batch
			// holds one; otherwise the document may have gone by a later record, which will.
			c.forget(r.kind, r.key, ch.Seq, deleted[r])
		case isNotFound(err):
			c.Forget(r.kind, r.key, ch.Seq)
		default:
			return err
		}
	}
	return nil
}

// current reports whether the view already reflects ch: it holds the key at ch's rev or later, or ch deletes a key
// the view does not hold. A kind this build does not know (a newer writer's) counts as current.
func (c *Catalog) current(kind catalog.Kind, key string, ch catalog.Change) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, known := c.tables[kind]
	if !known {
		return true
	}
	o, ok := t.byKey[key]
	if ch.Op == catalog.OpDelete {
		return !ok
	}
	return ok && o.Metadata().Rev >= ch.Seq
}

// Observe puts an object the process just wrote or read, unless the view already holds a newer rev or forgot the
// key in a later delete.
func (c *Catalog) Observe(obj catalog.Object) {
	k := obj.Kind()
	c.mu.Lock()
	t := c.tables[k]
	prev, ok := t.byKey[obj.Key()]
	tb, deleted := c.gone[ref{k, obj.Key()}]
	if ok && prev.Metadata().Rev >= obj.Metadata().Rev || deleted && tb.seq > obj.Metadata().Rev {
		seen := c.notes.taken()
		c.mu.Unlock()
		c.notes.wait(seen) // whoever put it may still be telling the listeners
		return
	}
	if deleted {
		delete(c.gone, ref{k, obj.Key()}) // re-created after the delete
	}
	t.put(obj)
	c.version.Add(1)
	listeners := c.listeners
	ticket := c.notes.take()
	c.mu.Unlock()
	c.notify(ticket, listeners, []Event{{Kind: k, Key: obj.Key(), Old: prev, New: obj}})
}

// Forget removes a key deleted at seq, unless the view holds a rev written after the delete.
func (c *Catalog) Forget(kind catalog.Kind, key string, seq int64) {
	c.forget(kind, key, seq, true)
}

// forget removes a key whose document was gone at seq; bury remembers the delete against older copies.
func (c *Catalog) forget(kind catalog.Kind, key string, seq int64, bury bool) {
	c.mu.Lock()
	t := c.tables[kind]
	prev, ok := t.byKey[key]
	if bury && (!ok || prev.Metadata().Rev < seq) {
		c.bury(ref{kind, key}, seq)
	}
	if !ok || prev.Metadata().Rev > seq {
		seen := c.notes.taken()
		c.mu.Unlock()
		c.notes.wait(seen) // whoever removed it may still be telling the listeners
		return
	}
	t.remove(key)
	c.version.Add(1)
	listeners := c.listeners
	ticket := c.notes.take()
	c.mu.Unlock()
	c.notify(ticket, listeners, []Event{{Kind: kind, Key: key, Old: prev}})
}

// bury records that r was deleted at seq; call it with the view's lock held.
func (c *Catalog) bury(r ref, seq int64) {
	if tb, ok := c.gone[r]; ok && tb.seq >= seq {
		return
	}
	c.goneGen++
	c.gone[r] = tombstone{seq: seq, gen: c.goneGen}
	if len(c.gone) > maxTombstones {
		for r, tb := range c.gone {
			if tb.gen <= c.goneGen-maxTombstones/2 {
				delete(c.gone, r)
			}
		}
	}
}

// notify tells the listeners about the change that took ticket, after those of every earlier ticket, and
// finishes the ticket.
func (c *Catalog) notify(ticket uint64, listeners []Listener, events []Event) {
	defer c.notes.finish(ticket)
	if len(events) == 0 {
		return
	}
	c.notes.wait(ticket - 1)
	for _, l := range listeners {
		l(events)
	}
}

// Get returns one object.
func (c *Catalog) Get(kind catalog.Kind, key string) (catalog.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.tables[kind].byKey[key]
	return o, ok
}

// Len returns how many objects of a kind the view holds.
func (c *Catalog) Len(kind catalog.Kind) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.tables[kind].keys)
}

// All returns every object of a kind in key order.
func (c *Catalog) All(kind catalog.Kind) []catalog.Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tables[kind]
	out := make([]catalog.Object, len(t.keys))
	for i, k := range t.keys {
		out[i] = t.byKey[k]
	}
	return out
}

// Page asks for one page of a listing.
type Page struct {
	// After is the last key of the previous page; the page starts after it. Keyset pagination keeps pages
	// consistent while objects are added and removed.
	After string
	// Prefix restricts keys to those starting with it (a namespace, an entity type).
	Prefix string
	Limit  int
	// Match filters objects; nil accepts all. It runs before the limit, so a page is always full when it can be.
	Match func(catalog.Object) bool
	// Keys, when not nil, restricts the listing to these sorted keys (a caller's precomputed visible set), so a
	// restricted caller's page costs in proportion to what it may see, not to the catalog.
	Keys []string
}

// List returns up to p.Limit matching objects after p.After in key order, and whether more follow.
func (c *Catalog) List(kind catalog.Kind, p Page) (items []catalog.Object, more bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t := c.tables[kind]
	keys := t.keys
	if p.Keys != nil {
		keys = p.Keys
	}
	start := 0
	if p.After != "" || p.Prefix != "" {
		from := max(p.After, p.Prefix)
		start, _ = slices.BinarySearch(keys, from)
		if start < len(keys) && keys[start] == p.After {
			start++
		}
	}
	items = make([]catalog.Object, 0, min(p.Limit, 64))
	for _, k := range keys[start:] {
		if p.Prefix != "" && !hasPrefix(k, p.Prefix) {
			break
		}
		o, ok := t.byKey[k]
		if !ok || p.Match != nil && !p.Match(o) {
			continue
		}
		if len(items) == p.Limit {
			return items, true
		}
		items = append(items, o)
	}
	return items, false
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
