// Package feed tails the catalog's change feed for a consumer.
//
// The store hands out a global sequence; every write appends a change record keyed by its sequence number after
// the write itself. Writers finish out of order, so the records a reader sees may have holes. The Tailer applies
// records strictly in sequence order: at a hole it waits (GapWait) for the write in flight, and when the hole does
// not fill (the writer crashed, or the records were trimmed) it asks the consumer to rebuild from the documents
// themselves and continues after the highest sequence it saw, having read first which records up to it had landed
// (the writes of the others may still be in flight). A periodic reconciliation rebuilds without moving the position,
// for the same reason. A write slower than GapWait is not lost for long: the
// Tailer keeps looking up the sequence numbers a rebuild passed over (for LateWrites) and applies a record that
// arrives late on its own. Applying a record means reading the document and comparing revs, so replays, and a late
// record applied after later ones, are harmless.
package feed

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Source is the part of the store the Tailer reads.
type Source interface {
	LastSeq(ctx context.Context) (int64, error)
	Changes(ctx context.Context, after, upto int64) ([]catalog.Change, error)
}

// Consumer receives the feed.
type Consumer interface {
	// Apply handles changes in sequence order: consecutive ones, or a single late record of a sequence number that
	// a rebuild passed over (applied after later ones; the consumer reads the document, so that is harmless).
	Apply(ctx context.Context, changes []catalog.Change) error
	// Rebuild reconciles the consumer's state with the documents in the store; the Tailer then continues after upto.
	Rebuild(ctx context.Context, upto int64) error
}

// Options tune a Tailer. Zero values take the defaults.
type Options struct {
	// Interval between polls when nothing wakes the Tailer. Default 200ms.
	Interval time.Duration
	// GapWait is how long a hole may stay open before the consumer rebuilds. Default 2s.
	GapWait time.Duration
	// LateWrites is how long the Tailer keeps looking for the records of sequence numbers a rebuild passed over (a
	// write slower than GapWait). Default 1m.
	LateWrites time.Duration
	// Reconcile, when positive, rebuilds periodically: the backstop for writes slower than LateWrites and for
	// holes beyond the records one poll reads.
	Reconcile time.Duration
	// MaxBatch bounds how many records one read asks for. Default 1000.
	MaxBatch int64
	// Wake, when set, delivers a signal whenever the store reports new changes (a change stream).
	Wake   <-chan struct{}
	Logger *slog.Logger
}

// Stats are the Tailer's counters.
type Stats struct {
	Position int64 // last sequence applied
	Applied  int64 // change records applied
	Rebuilds int64 // rebuilds after gaps that did not fill, trims and periodic reconciliation
	Errors   int64 // failed polls
}

// Tailer follows the change feed for one consumer.
type Tailer struct {
	src  Source
	dst  Consumer
	opts Options
	log  *slog.Logger

	pos      atomic.Int64
	applied  atomic.Int64
	rebuilds atomic.Int64
	errs     atomic.Int64
	kick     chan struct{}

	mu      sync.Mutex
	waiters []waiter

	gapSince time.Time           // when the current hole was first seen; zero when none
	skipped  map[int64]time.Time // sequence numbers a rebuild passed over, and when; looked up until LateWrites
}

type waiter struct {
	seq int64
	ch  chan struct{}
}

// New returns a Tailer that continues after position start (which the consumer's state already reflects).
func New(src Source, dst Consumer, start int64, opts Options) *Tailer {
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.GapWait <= 0 {
		opts.GapWait = 2 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.LateWrites <= 0 {
		opts.LateWrites = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tailer{src: src, dst: dst, opts: opts, log: log.With("component", "feed"), kick: make(chan struct{}, 1),
		skipped: map[int64]time.Time{}}
	t.pos.Store(start)
	return t
}

// Position is the last sequence applied.
func (t *Tailer) Position() int64 { return t.pos.Load() }

// Stats returns the counters.
func (t *Tailer) Stats() Stats {
	return Stats{Position: t.pos.Load(), Applied: t.applied.Load(), Rebuilds: t.rebuilds.Load(), Errors: t.errs.Load()}
}

// Kick makes the Tailer poll now instead of at the next interval.
func (t *Tailer) Kick() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// WaitFor blocks until the Tailer has applied seq, or ctx ends.
func (t *Tailer) WaitFor(ctx context.Context, seq int64) error {
	if t.pos.Load() >= seq {
		return nil
	}
	ch := make(chan struct{})
	t.mu.Lock()
	t.waiters = append(t.waiters, waiter{seq: seq, ch: ch})
	t.mu.Unlock()
	if t.pos.Load() >= seq { // applied while registering
		t.release()
	}
	t.Kick()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		t.waiters = slices.DeleteFunc(t.waiters, func(w waiter) bool { return w.ch == ch })
		t.mu.Unlock()
		return fmt.Errorf("wait for change %d: %w", seq, ctx.Err())
	}
}

func (t *Tailer) release() {
	pos := t.pos.Load()
	t.mu.Lock()
	keep := t.waiters[:0]
	for _, w := range t.waiters {
		if w.seq <= pos {
			close(w.ch)
		} else {
			keep = append(keep, w)
		}
	}
	t.waiters = keep
	t.mu.Unlock()
}

// Run polls until ctx ends. Poll errors are logged and retried; they never end the loop.
func (t *Tailer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	var reconcile <-chan time.Time
	if t.opts.Reconcile > 0 {
		r := time.NewTicker(t.opts.Reconcile)
		defer r.Stop()
		reconcile = r.C
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-t.kick:
		case <-t.opts.Wake:
		case <-reconcile:
			if err := t.reconcile(ctx, "periodic reconciliation"); err != nil {
				t.log.Warn("periodic reconciliation failed", "err", err)
			}
			continue
		}
		err := t.Poll(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			t.errs.Add(1)
			if !failing {
				t.log.Warn("change feed poll failed; retrying", "err", err)
			}
			failing = true
		case failing:
			t.log.Info("change feed poll recovered", "position", t.pos.Load())
			failing = false
		}
	}
}

// Poll reads and applies whatever is available now. It is exported for tests and for callers that drive the
// Tailer themselves.
func (t *Tailer) Poll(ctx context.Context) error {
	if err := t.lateRecords(ctx); err != nil {
		return err
	}
	for {
		last, err := t.src.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("poll change feed: %w", err)
		}
		pos := t.pos.Load()
		if last <= pos {
			t.gapSince = time.Time{}
			return nil
		}
		upto := min(last, pos+t.opts.MaxBatch)
		changes, err := t.src.Changes(ctx, pos, upto)
		if err != nil {
			return fmt.Errorf("poll change feed: %w", err)
		}
		run := contiguous(pos, changes)
		if len(run) > 0 {
			if err := t.dst.Apply(ctx, run); err != nil {
				return fmt.Errorf("apply changes %d..%d: %w", run[0].Seq, run[len(run)-1].Seq, err)
			}
			t.pos.Store(run[len(run)-1].Seq)
			t.applied.Add(int64(len(run)))
			t.gapSince = time.Time{}
			t.release()
		}
		if len(run) > 0 && run[len(run)-1].Seq == upto {
			if upto == last {
				return nil
			}
			continue // a full batch applied and more remain
		}
		// A hole at pos+1: a write in flight, a crashed writer, or trimmed records.
		if t.gapSince.IsZero() {
			t.gapSince = time.Now()
			return nil
		}
		if time.Since(t.gapSince) < t.opts.GapWait {
			return nil
		}
		// Rebuild past the hole, to last. Writes finish out of order, so first read which records up to last have
		// landed: a write whose record is there has stored its document, which the rebuild's listing then shows.
		// The newest holes are writes that may still be in flight (the oldest: crashed writers, trimmed records);
		// they are looked up after the rebuild until their records arrive.
		t.gapSince = time.Time{}
		missing := holes(pos, upto, changes)
		for upto < last {
			next := min(last, upto+t.opts.MaxBatch)
			more, err := t.src.Changes(ctx, upto, next)
			if err != nil {
				return fmt.Errorf("poll change feed: %w", err)
			}
			missing = append(missing, holes(upto, next, more)...)
			if len(missing) > maxSkipped {
				missing = missing[len(missing)-maxSkipped:]
			}
			upto = next
		}
		if err := t.rebuildTo(ctx, last, fmt.Sprintf("change %d never arrived", t.pos.Load()+1)); err != nil {
			return err
		}
		now := time.Now()
		for i := len(missing) - 1; i >= 0 && len(t.skipped) < maxSkipped; i-- {
			t.skipped[missing[i]] = now // newest first; the periodic reconciliation catches the rest
		}
		return nil
	}
}

// maxSkipped bounds the sequence numbers looked up after rebuilds (one read of their span per poll).
const maxSkipped = 64

// lateRecords applies the records that arrived since for sequence numbers a rebuild passed over, and forgets those
// older than LateWrites.
func (t *Tailer) lateRecords(ctx context.Context) error {
	if len(t.skipped) == 0 {
		return nil
	}
	seqs := slices.Sorted(maps.Keys(t.skipped))
	// One read covers them all when they lie close together (the usual case: the newest holes of one rebuild);
	// Changes then fetches the span by one range query or a few lookups, whichever the store does cheaper.
	var span map[int64]catalog.Change
	if lo, hi := seqs[0]-1, seqs[len(seqs)-1]; hi-lo <= t.opts.MaxBatch {
		recs, err := t.src.Changes(ctx, lo, hi)
		if err != nil {
			return fmt.Errorf("look up late changes %d..%d: %w", lo+1, hi, err)
		}
		span = make(map[int64]catalog.Change, len(seqs))
		for _, r := range recs {
			if _, ok := t.skipped[r.Seq]; ok {
				span[r.Seq] = r
			}
		}
	}
	for _, seq := range seqs {
		var found []catalog.Change
		if span != nil {
			if r, ok := span[seq]; ok {
				found = []catalog.Change{r}
			}
		} else {
			var err error
			if found, err = t.src.Changes(ctx, seq-1, seq); err != nil {
				return fmt.Errorf("look up late change %d: %w", seq, err)
			}
		}
		if len(found) == 0 {
			if time.Since(t.skipped[seq]) > t.opts.LateWrites {
				delete(t.skipped, seq)
			}
			continue
		}
		if err := t.dst.Apply(ctx, found); err != nil {
			return fmt.Errorf("apply late change %d: %w", seq, err)
		}
		t.log.Info("applied a change that arrived after a rebuild passed it", "seq", seq)
		t.applied.Add(1)
		delete(t.skipped, seq)
	}
	return nil
}

// holes returns the sequence numbers in (pos, upto] that changes lacks.
func holes(pos, upto int64, changes []catalog.Change) []int64 {
	have := make(map[int64]bool, len(changes))
	for _, c := range changes {
		have[c.Seq] = true
	}
	var out []int64
	for seq := pos + 1; seq <= upto; seq++ {
		if !have[seq] {
			out = append(out, seq)
		}
	}
	return out
}

// reconcile rebuilds the consumer's state from the documents without moving the position: a write that has taken
// its sequence number but not yet written its document when the rebuild lists the documents lands later, and the
// feed must still apply its record then. Replaying records the rebuild already reflects is harmless.
func (t *Tailer) reconcile(ctx context.Context, why string) error {
	return t.rebuildTo(ctx, t.pos.Load(), why)
}

// rebuildTo rebuilds the consumer and continues after upto.
func (t *Tailer) rebuildTo(ctx context.Context, upto int64, why string) error {
	t.log.Info("rebuilding from documents", "reason", why, "from", t.pos.Load(), "to", upto)
	if err := t.dst.Rebuild(ctx, upto); err != nil {
		return fmt.Errorf("rebuild to %d: %w", upto, err)
	}
	if upto > t.pos.Load() {
		t.pos.Store(upto)
	}
	t.rebuilds.Add(1)
	t.release()
	return nil
}

// contiguous returns the prefix of changes that continues pos without a hole.
func contiguous(pos int64, changes []catalog.Change) []catalog.Change {
	n := 0
	for _, c := range changes {
		if c.Seq != pos+1 {
			break
		}
		pos++
		n++
	}
	return changes[:n]
}
