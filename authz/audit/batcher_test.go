package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// liveness bounds how long a test waits for something that must happen; it is a hang guard, never a timing claim.
const liveness = 20 * time.Second

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// started runs b.Run in the background and returns a stop function that cancels it and returns Run's error.
func started(t *testing.T, b *Batcher) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(liveness):
				t.Fatal("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitWrote(t *testing.T, s *memSink, n int) {
	t.Helper()
	for got := 0; got < n; {
		select {
		case k := <-s.wrote:
			got += k
		case <-time.After(liveness):
			t.Fatalf("sink received %d of %d records", got, n)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func decision(i int) Record {
	return Record{Kind: KindDecision, DecisionID: fmt.Sprint("d", i), Subject: "alice", Server: "io.example/weather",
		Method: "tools/call", Tool: "get_weather", Allow: true, Reason: "grant"}
}

func mustBatcher(t *testing.T, sink Sink, cfg BatcherConfig) (*Batcher, func() []string) {
	t.Helper()
	log, msgs := newLogRecorder(t)
	b, err := NewBatcher(sink, cfg, log)
	if err != nil {
		t.Fatalf("NewBatcher: %v", err)
	}
	return b, msgs
}

func TestBatcherFlushesBySize(t *testing.T) {
	// Invariant: a full batch is written at once, without waiting for the interval, and records arrive in
	// submission order with strictly increasing IDs.
	sink := newMemSink()
	b, _ := mustBatcher(t, sink, BatcherConfig{Buffer: 64, BatchSize: 4, FlushInterval: time.Hour})
	stop := started(t, b)
	for i := range 8 {
		if !b.Submit(decision(i)) {
			t.Fatalf("Submit %d refused", i)
		}
	}
	waitWrote(t, sink, 8)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs, _, batches := sink.snapshot()
	if !slices.Equal(batches, []int{4, 4}) {
		t.Errorf("batches = %v; want [4 4]", batches)
	}
	for i, r := range recs {
		if r.DecisionID != fmt.Sprint("d", i) {
			t.Errorf("record %d is %s", i, r.DecisionID)
		}
		if i > 0 && r.ID <= recs[i-1].ID {
			t.Errorf("id %d %s not after %s", i, r.ID, recs[i-1].ID)
		}
	}
	if s := b.Stats(); s != (Stats{Submitted: 8, Written: 8}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatcherFlushesByInterval(t *testing.T) {
	// Invariant: records that never fill a batch are still written, by the interval.
	sink := newMemSink()
	b, _ := mustBatcher(t, sink, BatcherConfig{BatchSize: 100, FlushInterval: 5 * time.Millisecond})
	stop := started(t, b)
	for i := range 3 {
		b.Submit(decision(i))
	}
	waitWrote(t, sink, 3)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := b.Stats(); s.Written != 3 || s.Failed != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatcherOverflowIsCountedAndLogged(t *testing.T) {
	// Invariant: a full buffer drops records without blocking; every drop is counted, and the warning is logged
	// at most once per DropLogEvery, carrying the count since the last warning.
	sink := newMemSink()
	clock := newFakeClock()
	b, msgs := mustBatcher(t, sink, BatcherConfig{Buffer: 4, BatchSize: 4, DropLogEvery: time.Minute, Now: clock.Now})
	accepted := 0
	for i := range 20 { // Run has not started: nothing leaves the buffer
		if b.Submit(decision(i)) {
			accepted++
		}
	}
	if accepted != 4 {
		t.Fatalf("accepted %d; want 4", accepted)
	}
	if s := b.Stats(); s.Submitted != 4 || s.Dropped != 16 || s.Queued != 4 {
		t.Errorf("stats = %+v", s)
	}
	if n := countMsg(msgs(), "audit records dropped"); n != 1 {
		t.Errorf("%d drop warnings within one interval; want 1", n)
	}
	clock.Advance(time.Minute)
	b.Submit(decision(99))
	if n := countMsg(msgs(), "audit records dropped"); n != 2 {
		t.Errorf("%d drop warnings after the interval; want 2", n)
	}
	stop := started(t, b)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := b.Stats(); s.Written != 4 || s.Dropped != 17 {
		t.Errorf("stats after drain = %+v", s)
	}
}

func TestBatcherSlowSinkNeverBlocksSubmit(t *testing.T) {
	// Invariant: while the sink hangs, Submit keeps returning (the test would hang otherwise); what it accepts is
	// written once the sink recovers, and accepted + dropped accounts for every call.
	sink := newMemSink()
	sink.gate = make(chan struct{})
	b, _ := mustBatcher(t, sink, BatcherConfig{Buffer: 16, BatchSize: 4, FlushInterval: time.Millisecond})
	stop := started(t, b)
	const n = 1000
	for i := range n {
		b.Submit(decision(i))
	}
	s := b.Stats()
	if s.Dropped == 0 || s.Submitted+s.Dropped != n {
		t.Fatalf("stats while the sink hangs = %+v", s)
	}
	close(sink.gate)
	eventually(t, "accepted records written", func() bool { return b.Stats().Written == s.Submitted })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs, _, _ := sink.snapshot()
	if uint64(len(recs)) != s.Submitted {
		t.Errorf("stored %d; want %d", len(recs), s.Submitted)
	}
}

func TestBatcherRetriesFailedBatch(t *testing.T) {
	// Invariant: a failed batch is offered again, unchanged (same IDs, redacted once), until it is stored; a
	// partial write followed by a retry stores every record exactly once.
	sink := newMemSink()
	sink.fail = func(call int, batch []Record) (int, error) {
		switch call {
		case 1:
			return 1, errSinkDown // stored the first record, then broke
		case 2:
			return 0, errSinkDown
		}
		return 0, nil
	}
	red, err := NewRedactor(RedactConfig{Rules: []Rule{{Key: "token", Action: ActionHash}}, HashKey: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	b, msgs := mustBatcher(t, sink, BatcherConfig{BatchSize: 3, FlushInterval: time.Hour, RetryBackoff: time.Millisecond, Redactor: red})
	stop := started(t, b)
	for i := range 3 {
		r := decision(i)
		r.Arguments = map[string]any{"token": "secret", "q": "x"}
		b.Submit(r)
	}
	waitWrote(t, sink, 3)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs, calls, _ := sink.snapshot()
	if calls != 3 || len(recs) != 3 {
		t.Fatalf("calls = %d, stored = %d; want 3, 3", calls, len(recs))
	}
	want := red.Hash("secret")
	for _, r := range recs {
		if r.Arguments["token"] != want {
			t.Errorf("token = %v; want one hash %s", r.Arguments["token"], want)
		}
	}
	if s := b.Stats(); s.Written != 3 || s.Failed != 0 {
		t.Errorf("stats = %+v", s)
	}
	if n := countMsg(msgs(), "audit batch write failed, retrying"); n != 2 {
		t.Errorf("%d retry warnings; want 2", n)
	}
}

func TestBatcherGivesUpAfterMaxAttempts(t *testing.T) {
	// Invariant: a batch the sink keeps refusing is retried exactly MaxAttempts times, then counted as failed and
	// logged; the Batcher keeps serving later records.
	sink := newMemSink()
	var healthy atomic.Bool
	sink.fail = func(int, []Record) (int, error) {
		if healthy.Load() {
			return 0, nil
		}
		return 0, errSinkDown
	}
	b, msgs := mustBatcher(t, sink, BatcherConfig{BatchSize: 2, FlushInterval: time.Hour, MaxAttempts: 3, RetryBackoff: time.Millisecond})
	stop := started(t, b)
	b.Submit(decision(1))
	b.Submit(decision(2))
	eventually(t, "batch given up", func() bool { return b.Stats().Failed == 2 })
	if _, calls, _ := sink.snapshot(); calls != 3 {
		t.Errorf("attempts = %d; want 3", calls)
	}
	if n := countMsg(msgs(), "audit batch not written, records lost"); n != 1 {
		t.Errorf("%d loss errors logged; want 1", n)
	}
	healthy.Store(true)
	b.Submit(decision(3))
	b.Submit(decision(4))
	waitWrote(t, sink, 2)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := b.Stats(); s != (Stats{Submitted: 4, Written: 2, Failed: 2}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatcherDrainsOnShutdown(t *testing.T) {
	// Invariant: records still buffered when Run's context ends are written before Run returns, in batches no
	// larger than BatchSize; afterwards Submit refuses and counts.
	sink := newMemSink()
	b, msgs := mustBatcher(t, sink, BatcherConfig{Buffer: 1000, BatchSize: 64, FlushInterval: time.Hour})
	for i := range 500 {
		b.Submit(decision(i))
	}
	stop := started(t, b)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs, _, batches := sink.snapshot()
	if len(recs) != 500 {
		t.Errorf("stored %d; want 500", len(recs))
	}
	for _, n := range batches {
		if n > 64 {
			t.Errorf("batch of %d exceeds 64", n)
		}
	}
	if b.Submit(decision(501)) {
		t.Errorf("Submit accepted after shutdown")
	}
	if s := b.Stats(); s != (Stats{Submitted: 500, Written: 500, Dropped: 1}) {
		t.Errorf("stats = %+v", s)
	}
	if countMsg(msgs(), "audit records dropped") != 1 {
		t.Errorf("drop after shutdown not logged: %v", msgs())
	}
}

func TestBatcherDrainDeadline(t *testing.T) {
	// Invariant: when the sink cannot take the buffered records before the drain deadline, Run still returns,
	// reports ErrDrainIncomplete, and counts every unwritten record as failed.
	sink := newMemSink()
	sink.gate = make(chan struct{}) // never opens
	b, _ := mustBatcher(t, sink, BatcherConfig{BatchSize: 2, FlushInterval: time.Hour, DrainTimeout: 20 * time.Millisecond,
		RetryBackoff: time.Millisecond})
	for i := range 5 {
		b.Submit(decision(i))
	}
	stop := started(t, b)
	err := stop()
	if !errors.Is(err, ErrDrainIncomplete) {
		t.Fatalf("Run = %v; want ErrDrainIncomplete", err)
	}
	if s := b.Stats(); s != (Stats{Submitted: 5, Failed: 5}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatcherConcurrentSubmitters(t *testing.T) {
	// Invariant: under concurrent Submit and shutdown, every call is accounted for exactly once:
	// submitted + dropped = calls, and submitted = written + failed once Run has returned.
	sink := newMemSink()
	b, _ := mustBatcher(t, sink, BatcherConfig{Buffer: 256, BatchSize: 32, FlushInterval: time.Millisecond})
	stop := started(t, b)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				b.Submit(decision(w*each + i))
			}
		})
	}
	wg.Wait()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := b.Stats()
	if s.Submitted+s.Dropped != workers*each || s.Submitted != s.Written+s.Failed || s.Queued != 0 {
		t.Errorf("stats do not add up: %+v", s)
	}
	recs, _, _ := sink.snapshot()
	if uint64(len(recs)) != s.Written {
		t.Errorf("stored %d; stats say %d", len(recs), s.Written)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if !slices.IsSorted(ids) {
		t.Errorf("stored IDs are not in write order")
	}
}

func TestBatcherRunTwice(t *testing.T) {
	// Invariant: one Batcher has one Run loop; a second Run fails at once instead of racing the first.
	b, _ := mustBatcher(t, newMemSink(), BatcherConfig{})
	stop := started(t, b)
	eventually(t, "first Run started", b.running.Load)
	if err := b.Run(t.Context()); err == nil {
		t.Errorf("second Run succeeded")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestBatcherConfigValidate(t *testing.T) {
	// Invariant: nonsensical limits are refused at construction, and a nil sink too.
	tests := []struct {
		name string
		cfg  BatcherConfig
		ok   bool
	}{
		{name: "zero value", cfg: BatcherConfig{}, ok: true},
		{name: "small buffer takes a matching batch", cfg: BatcherConfig{Buffer: 8}, ok: true},
		{name: "negative buffer", cfg: BatcherConfig{Buffer: -1}},
		{name: "negative interval", cfg: BatcherConfig{FlushInterval: -time.Second}},
		{name: "negative attempts", cfg: BatcherConfig{MaxAttempts: -1}},
		{name: "batch larger than buffer", cfg: BatcherConfig{Buffer: 8, BatchSize: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBatcher(newMemSink(), tc.cfg, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("NewBatcher err = %v; want ok=%v", err, tc.ok)
			}
			if tc.ok && b.cfg.BatchSize > b.cfg.Buffer {
				t.Errorf("defaults give batch %d > buffer %d", b.cfg.BatchSize, b.cfg.Buffer)
			}
		})
	}
	if _, err := NewBatcher(nil, BatcherConfig{}, nil); err == nil {
		t.Errorf("nil sink accepted")
	}
}

func TestBatcherStoresEscapedCopies(t *testing.T) {
	// Invariant: without any redaction rule, the sink still receives a copy of the arguments whose keys a
	// MongoDB-compatible store accepts, and the submitted map is left as it was.
	sink := newMemSink()
	b, _ := mustBatcher(t, sink, BatcherConfig{BatchSize: 1})
	stop := started(t, b)
	args := map[string]any{"$schema": "s", "user.name": "alice", "n": map[string]string{"k.v": "1"}}
	r := decision(1)
	r.Arguments = args
	b.Submit(r)
	waitWrote(t, sink, 1)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs, _, _ := sink.snapshot()
	want := map[string]any{"%24schema": "s", "user%2Ename": "alice", "n": map[string]any{"k%2Ev": "1"}}
	if diff := cmp.Diff(want, recs[0].Arguments); diff != "" {
		t.Errorf("stored arguments (-want +got):\n%s", diff)
	}
	if _, ok := args["$schema"]; !ok || len(args) != 3 {
		t.Errorf("submitted map modified: %v", args)
	}
}
