package snapshot_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpgw/mcpgw/xds/snapshot"
)

func TestDebounce(t *testing.T) {
	// Invariant: a burst yields one call, made quiet after its last event, or maxDelay after its first event when
	// the burst keeps going; events after a call start a new burst; cancelling the context stops Debounce and
	// drops a pending burst. Time is synctest's fake clock, so the timings below are exact, not wall-clock.
	const quiet, maxDelay = 100 * time.Millisecond, time.Second
	type step struct {
		wait  time.Duration // advance the clock by this much
		event bool          // then send an event
	}
	tests := []struct {
		name  string
		steps []step
		// calls are the fake times (since start) of the expected calls.
		calls []time.Duration
	}{{
		name:  "one event fires after quiet",
		steps: []step{{0, true}, {500 * time.Millisecond, false}},
		calls: []time.Duration{100 * time.Millisecond},
	}, {
		name:  "a burst fires once, quiet after its last event",
		steps: []step{{0, true}, {50 * time.Millisecond, true}, {50 * time.Millisecond, true}, {time.Second, false}},
		calls: []time.Duration{200 * time.Millisecond},
	}, {
		name: "a continuous trickle fires at maxDelay",
		steps: func() []step {
			var s []step
			for range 15 {
				s = append(s, step{90 * time.Millisecond, true})
			}
			return append(s, step{time.Second, false})
		}(),
		// first event at 90ms, forced at 1090ms; the events at 1170..1350ms form a burst firing at 1450ms.
		calls: []time.Duration{1090 * time.Millisecond, 1450 * time.Millisecond},
	}, {
		name:  "two separate bursts fire twice",
		steps: []step{{0, true}, {300 * time.Millisecond, true}, {300 * time.Millisecond, false}},
		calls: []time.Duration{100 * time.Millisecond, 400 * time.Millisecond},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				events := make(chan struct{})
				var calls []time.Duration
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() {
					defer close(done)
					snapshot.Debounce(ctx, events, quiet, maxDelay, func() { calls = append(calls, time.Since(start)) })
				}()
				for _, s := range tc.steps {
					time.Sleep(s.wait)
					if s.event {
						events <- struct{}{}
					}
				}
				synctest.Wait()
				cancel()
				<-done
				if len(calls) != len(tc.calls) {
					t.Fatalf("calls at %v, want %v", calls, tc.calls)
				}
				for i := range calls {
					if calls[i] != tc.calls[i] {
						t.Fatalf("calls at %v, want %v", calls, tc.calls)
					}
				}
			})
		})
	}
}

func TestDebounceStops(t *testing.T) {
	// Invariant: closing the events channel or cancelling the context returns, and a pending burst never fires.
	synctest.Test(t, func(t *testing.T) {
		events := make(chan struct{})
		fired := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			snapshot.Debounce(t.Context(), events, time.Second, time.Minute, func() { fired = true })
		}()
		events <- struct{}{}
		close(events)
		<-done
		time.Sleep(time.Hour)
		if fired {
			t.Fatal("a burst pending at close fired")
		}
	})
}
