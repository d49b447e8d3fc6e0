package audit

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// countSink stores nothing; it lets the benchmarks measure the Batcher rather than a store.
type countSink struct{ n int }

func (s *countSink) InsertAudit(_ context.Context, records []Record) error {
	s.n += len(records)
	return nil
}

func benchRecord() Record {
	return Record{Kind: KindDecision, Time: time.Now(), DecisionID: "d-1", Subject: "alice", Client: "claude-code",
		Groups: []string{"eng", "oncall"}, Issuer: "https://idp.example", Server: "io.example/gh", Version: "1.2.0",
		Method: "tools/call", Tool: "search_issues", Allow: true, Reason: "grant eng-read",
		Arguments: map[string]any{"repo": "mcpgw/mcpgw", "query": "is:open", "limit": 20}, Latency: 180 * time.Microsecond}
}

// runningBatcher starts a Batcher with the given buffer on a countSink; stop cancels Run and waits for it.
func runningBatcher(b *testing.B, buffer int) (*Batcher, func()) {
	bt, err := NewBatcher(&countSink{}, BatcherConfig{Buffer: buffer, BatchSize: 512}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- bt.Run(ctx) }()
	return bt, func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmit measures Submit on the request path with Run consuming concurrently. The timer pauses every
// 4096 records until the buffer is empty again, so the figure is the cost of an accepted record, not of a drop.
func BenchmarkSubmit(b *testing.B) {
	bt, stop := runningBatcher(b, 1<<13)
	rec := benchRecord()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%4096 == 0 {
			b.StopTimer()
			for bt.Stats().Queued > 0 {
				runtime.Gosched()
			}
			b.StartTimer()
		}
		bt.Submit(rec)
	}
	b.StopTimer()
	stop()
	if s := bt.Stats(); s.Dropped > 0 {
		b.Fatalf("%d records dropped; the figure would include drops", s.Dropped)
	}
}

// BenchmarkThroughput measures the whole path per record: Submit from two goroutines, numbering, batching and the
// hand-over to a sink that stores nothing. dropped/op shows how much a tight loop outruns the consumer.
func BenchmarkThroughput(b *testing.B) {
	bt, stop := runningBatcher(b, 1<<16)
	rec := benchRecord()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bt.Submit(rec)
		}
	})
	stop()
	s := bt.Stats()
	b.ReportMetric(float64(s.Dropped)/float64(s.Submitted+s.Dropped), "dropped/op")
}

func BenchmarkRedact(b *testing.B) {
	r := mustRedactor(b, RedactConfig{HashKey: testKey, MaxStringBytes: 4096, Rules: []Rule{
		{Key: "*password*", Action: ActionRemove}, {Key: "*token*", Action: ActionHash}, {Regex: `(?i)^authorization$`, Action: ActionHash},
	}})
	args := map[string]any{"repo": "mcpgw/mcpgw", "query": "is:open", "limit": 20, "auth": map[string]any{"token": "t0k3n", "user": "alice"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Redact(args)
	}
}
