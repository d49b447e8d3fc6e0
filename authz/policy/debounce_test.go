package policy

import (
	"context"
	"testing"
	"time"
)

// fakeClock hands out timers the test fires by hand.
type fakeClock struct {
	asked chan chan time.Time
}

func (c *fakeClock) after(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.asked <- ch
	return ch
}

func TestDebounce(t *testing.T) {
	// Invariant: a burst of events yields one call, made only when the
	// timer of the burst's last event fires; timers of earlier events are
	// ignored; closing events stops debounce.
	clock := &fakeClock{asked: make(chan chan time.Time, 16)}
	events := make(chan struct{})
	calls := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		debounce(t.Context(), events, time.Second, clock.after, func() { calls <- struct{}{} })
	}()

	var timers []chan time.Time
	for range 3 {
		events <- struct{}{}
		timers = append(timers, <-clock.asked)
	}
	// Timers replaced by a later event are abandoned: firing them does
	// nothing, and debounce keeps receiving events.
	timers[0] <- time.Time{}
	timers[1] <- time.Time{}
	events <- struct{}{}
	last := <-clock.asked
	select {
	case <-calls:
		t.Fatal("called before the last timer fired")
	default:
	}
	last <- time.Time{}
	<-calls

	// A second burst gives a second call.
	events <- struct{}{}
	(<-clock.asked) <- time.Time{}
	<-calls

	close(events)
	<-done
	if len(calls) != 0 {
		t.Fatalf("%d extra calls", len(calls))
	}
}

func TestDebounceStopsWithContext(t *testing.T) {
	// Invariant: debounce returns when its context ends, pending or not.
	ctx, cancel := context.WithCancel(t.Context())
	events := make(chan struct{}, 1)
	events <- struct{}{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		debounce(ctx, events, time.Hour, time.After, func() { t.Error("called") })
	}()
	cancel()
	<-done
}
