package audit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// memSink is an in-memory Sink: the store is a process boundary, so the tests stand in for it with a map keyed by
// ID that honours the idempotency contract (a record already stored is skipped).
type memSink struct {
	mu      sync.Mutex
	byID    map[string]Record
	order   []string // IDs in the order they were first stored
	calls   int
	batches []int // size of every batch offered
	// fail, when set, is consulted before each call; it may store a prefix of the batch (stored > 0) to model a
	// partial write, and returns the error to report.
	fail func(call int, batch []Record) (stored int, err error)
	// gate, when set, makes InsertAudit wait until it is closed or the call's context ends.
	gate chan struct{}
	// wrote receives the number of records stored by each successful call.
	wrote chan int
}

func newMemSink() *memSink {
	return &memSink{byID: map[string]Record{}, wrote: make(chan int, 1024)}
}

var errSinkDown = errors.New("sink down")

func (s *memSink) InsertAudit(ctx context.Context, records []Record) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.batches = append(s.batches, len(records))
	if s.fail != nil {
		stored, err := s.fail(s.calls, records)
		s.store(records[:stored])
		if err != nil {
			return err
		}
	}
	s.store(records)
	select {
	case s.wrote <- len(records):
	default:
	}
	return nil
}

func (s *memSink) store(records []Record) {
	for _, r := range records {
		if _, dup := s.byID[r.ID]; dup {
			continue
		}
		s.byID[r.ID] = r
		s.order = append(s.order, r.ID)
	}
}

func (s *memSink) snapshot() (records []Record, calls int, batches []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		records = append(records, s.byID[id])
	}
	return records, s.calls, append([]int(nil), s.batches...)
}

// logRecorder is a slog.Handler that forwards to t.Logf and keeps the messages for assertions.
type logRecorder struct {
	t    testing.TB
	mu   *sync.Mutex
	msgs *[]string
}

func newLogRecorder(t testing.TB) (*slog.Logger, func() []string) {
	h := logRecorder{t: t, mu: &sync.Mutex{}, msgs: &[]string{}}
	return slog.New(h), func() []string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]string(nil), *h.msgs...)
	}
}

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.mu.Lock()
	*h.msgs = append(*h.msgs, r.Message)
	h.mu.Unlock()
	h.t.Logf("%s", b.String())
	return nil
}

func (h logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logRecorder) WithGroup(string) slog.Handler      { return h }

func countMsg(msgs []string, msg string) int {
	n := 0
	for _, m := range msgs {
		if m == msg {
			n++
		}
	}
	return n
}
