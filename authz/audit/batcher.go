package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Sink stores audit records; the store adapter implements it.
type Sink interface {
	// InsertAudit stores a batch whose argument keys are already escaped for MongoDB field-name rules (EscapeKey).
	// It must be idempotent by Record.ID: after a failure (a timeout, a broken connection, an unordered insert that
	// stored part of the batch) the same records are offered again, so records whose ID is already stored must be
	// skipped, not reported as errors.
	InsertAudit(ctx context.Context, records []Record) error
}

// Defaults of BatcherConfig.
const (
	DefaultBuffer        = 8192
	DefaultBatchSize     = 256
	DefaultFlushInterval = time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxAttempts   = 5
	DefaultRetryBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultDrainTimeout  = 10 * time.Second
	DefaultDropLogEvery  = 10 * time.Second
)

// BatcherConfig configures a Batcher. Zero fields take the defaults.
type BatcherConfig struct {
	// Buffer is how many records may wait for the sink; beyond it Submit drops (default DefaultBuffer).
	Buffer int
	// BatchSize flushes as soon as this many records are waiting (default DefaultBatchSize).
	BatchSize int
	// FlushInterval flushes whatever is waiting this often (default DefaultFlushInterval).
	FlushInterval time.Duration
	// WriteTimeout bounds one InsertAudit call (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxAttempts is how often one batch is offered to the sink before its records count as failed
	// (default DefaultMaxAttempts).
	MaxAttempts int
	// RetryBackoff is the pause after the first failed attempt; it doubles per attempt up to MaxBackoff
	// (defaults DefaultRetryBackoff, DefaultMaxBackoff).
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// DrainTimeout bounds the final flush after Run's context ends (default DefaultDrainTimeout).
	DrainTimeout time.Duration
	// DropLogEvery rate-limits the warning logged while records are dropped (default DefaultDropLogEvery).
	DropLogEvery time.Duration
	// Redactor, when set, redacts Record.Arguments on the Batcher's goroutine, off the request path. Either way the
	// stored arguments are a copy whose keys are escaped for MongoDB field-name rules (see EscapeKey).
	Redactor *Redactor
	// Now is the clock for Record.Time and the drop log (default time.Now).
	Now func() time.Time
}

// Validate checks the configuration once, at start.
func (c BatcherConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"buffer", int64(c.Buffer)}, {"batch size", int64(c.BatchSize)}, {"flush interval", int64(c.FlushInterval)},
		{"write timeout", int64(c.WriteTimeout)}, {"max attempts", int64(c.MaxAttempts)},
		{"retry backoff", int64(c.RetryBackoff)}, {"max backoff", int64(c.MaxBackoff)},
		{"drain timeout", int64(c.DrainTimeout)}, {"drop log interval", int64(c.DropLogEvery)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", f.name, f.v))
		}
	}
	if c.BatchSize > 0 && c.Buffer > 0 && c.BatchSize > c.Buffer {
		errs = append(errs, fmt.Errorf("batch size %d exceeds the buffer %d", c.BatchSize, c.Buffer))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate audit batcher: %w", err)
	}
	return nil
}

func (c BatcherConfig) withDefaults() BatcherConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Buffer, DefaultBuffer)
	def(&c.BatchSize, min(DefaultBatchSize, c.Buffer))
	def(&c.MaxAttempts, DefaultMaxAttempts)
	defD(&c.FlushInterval, DefaultFlushInterval)
	defD(&c.WriteTimeout, DefaultWriteTimeout)
	defD(&c.RetryBackoff, DefaultRetryBackoff)
	defD(&c.MaxBackoff, DefaultMaxBackoff)
	defD(&c.DrainTimeout, DefaultDrainTimeout)
	defD(&c.DropLogEvery, DefaultDropLogEvery)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Redactor == nil {
		c.Redactor = &Redactor{} // no rules: still copies and normalises, so stored keys can be escaped
	}
	return c
}

// Stats are the Batcher's counters. Submitted = Written + Failed + records still queued or in flight; Dropped
// records were never queued.
type Stats struct {
	Submitted uint64 // accepted into the buffer
	Written   uint64 // stored by the sink
	Dropped   uint64 // refused by Submit: buffer full, or the Batcher had shut down
	Failed    uint64 // given up: attempts exhausted, or not written before the drain deadline
	Queued    int    // waiting in the buffer now
}

// ErrDrainIncomplete means Run returned with records that were accepted but not written.
var ErrDrainIncomplete = errors.New("audit records lost at shutdown")

// Batcher carries audit records from the request path to a Sink: Submit puts a record in a bounded buffer and never
// waits; Run takes them out, redacts and numbers them, and writes them in batches, by size or by interval, retrying
// a failed batch with backoff a bounded number of times. One Batcher serves a process: ext_authz decisions and
// registry mutations alike.
type Batcher struct {
	sink  Sink
	cfg   BatcherConfig
	log   *slog.Logger
	queue chan Record

	// mu orders Submit against shutdown: Submit holds it shared while it enqueues, drain takes it exclusively to set
	// closed, so no record can slip into the buffer after the final drain has emptied it.
	mu     sync.RWMutex
	closed bool

	running atomic.Bool
	ids     idSequence

	submitted, written, dropped, failed atomic.Uint64
	lastDropLog                         atomic.Int64 // Unix nanos of the last drop warning
	droppedAtLastLog                    atomic.Uint64
}

// NewBatcher validates cfg and returns a Batcher writing to sink. Nothing is written until Run is called.
func NewBatcher(sink Sink, cfg BatcherConfig, log *slog.Logger) (*Batcher, error) {
	if sink == nil {
		return nil, errors.New("new audit batcher: nil sink")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Batcher{
		sink:  sink,
		cfg:   cfg,
		log:   log.With("component", "audit"),
		queue: make(chan Record, cfg.Buffer),
		ids:   idSequence{random: rand.Uint64},
	}, nil
}

// Submit queues rec for writing and reports whether it was accepted. It never blocks: when the buffer is full, or
// after Run has shut down, the record is dropped, counted, and a warning is logged (at most once per DropLogEvery).
// A zero Time is set to now. Submit takes ownership of rec.Arguments.
func (b *Batcher) Submit(rec Record) bool {
	if rec.Time.IsZero() {
		rec.Time = b.cfg.Now()
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.drop("shut down")
		return false
	}
	select {
	case b.queue <- rec:
		b.mu.RUnlock()
		b.submitted.Add(1)
		return true
	default:
		b.mu.RUnlock()
		b.drop("buffer full")
		return false
	}
}

func (b *Batcher) drop(why string) {
	total := b.dropped.Add(1)
	now := b.cfg.Now().UnixNano()
	last := b.lastDropLog.Load()
	if last != 0 && now-last < int64(b.cfg.DropLogEvery) {
		return
	}
	if !b.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	since := total - b.droppedAtLastLog.Swap(total)
	b.log.Warn("audit records dropped", "reason", why, "dropped", since, "dropped_total", total, "buffer", b.cfg.Buffer)
}

// Stats returns the counters.
func (b *Batcher) Stats() Stats {
	return Stats{
		Submitted: b.submitted.Load(),
		Written:   b.written.Load(),
		Dropped:   b.dropped.Load(),
		Failed:    b.failed.Load(),
		Queued:    len(b.queue),
	}
}

// Run writes records until ctx ends, then drains: it stops accepting records, and writes what is buffered within
// DrainTimeout (on a context detached from ctx). It returns nil after a complete drain, an error wrapping
// ErrDrainIncomplete when records were lost at shutdown, and an error at once if called twice.
func (b *Batcher) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("run audit batcher: already running")
	}
	ticker := time.NewTicker(b.cfg.FlushInterval)
	defer ticker.Stop()
	batch := make([]Record, 0, b.cfg.BatchSize)
	for {
		select {
		case <-ctx.Done():
			return b.drain(ctx, batch)
		case rec := <-b.queue:
			batch = append(batch, b.prepare(rec))
			if len(batch) < b.cfg.BatchSize {
				continue
			}
		case <-ticker.C:
			if len(batch) == 0 {
				continue
			}
		}
		if b.write(ctx, batch) == interrupted {
			return b.drain(ctx, batch)
		}
		batch = make([]Record, 0, b.cfg.BatchSize) // the sink may keep the slice it was given
	}
}

// prepare numbers, redacts and key-escapes (see EscapeKey) a record as it leaves the queue, once, so a retried batch
// is offered unchanged.
func (b *Batcher) prepare(rec Record) Record {
	if rec.ID == "" {
		rec.ID = b.ids.next(rec.Time)
	}
	if rec.Arguments != nil {
		rec.Arguments = storableArguments(b.cfg.Redactor.Redact(rec.Arguments))
	}
	return rec
}

type outcome int

const (
	written     outcome = iota
	failed              // attempts exhausted; counted as failed
	interrupted         // ctx ended first; not counted, the caller decides
)

// write offers batch to the sink up to MaxAttempts times with doubling backoff.
func (b *Batcher) write(ctx context.Context, batch []Record) outcome {
	backoff := b.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, b.cfg.WriteTimeout)
		err := b.sink.InsertAudit(wctx, batch)
		cancel()
		if err == nil {
			b.written.Add(uint64(len(batch)))
			return written
		}
		if ctx.Err() != nil {
			return interrupted
		}
		if attempt >= b.cfg.MaxAttempts {
			// Logged before it is counted, so whoever sees the count (Stats, a test) also finds the log line.
			b.log.Error("audit batch not written, records lost", "records", len(batch), "attempts", attempt, "error", err)
			b.failed.Add(uint64(len(batch)))
			return failed
		}
		b.log.Warn("audit batch write failed, retrying", "records", len(batch), "attempt", attempt, "backoff", backoff, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return interrupted
		case <-t.C:
		}
		backoff = min(2*backoff, b.cfg.MaxBackoff)
	}
}

// drain closes the Batcher to new records and writes pending plus everything buffered before the drain deadline.
func (b *Batcher) drain(ctx context.Context, pending []Record) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	for done := false; !done; {
		select {
		case rec := <-b.queue:
			pending = append(pending, b.prepare(rec))
		default:
			done = true
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.DrainTimeout)
	defer cancel()
	lost := 0
	for len(pending) > 0 {
		n := min(len(pending), b.cfg.BatchSize)
		chunk := pending[:n:n]
		pending = pending[n:]
		out := interrupted
		if dctx.Err() == nil {
			out = b.write(dctx, chunk)
		}
		switch out {
		case failed:
			lost += n
		case interrupted:
			b.failed.Add(uint64(n))
			lost += n
		}
	}
	if lost > 0 {
		b.log.Error("audit drain incomplete, records lost", "records", lost, "drain_timeout", b.cfg.DrainTimeout)
		return fmt.Errorf("drain audit batcher: %d records not written: %w", lost, ErrDrainIncomplete)
	}
	b.log.Info("audit batcher drained", "written_total", b.written.Load())
	return nil
}
