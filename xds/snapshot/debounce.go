package snapshot

import (
	"context"
	"time"
)

// Debounce calls fire after a burst of events: once no event has arrived for quiet, or maxDelay after the first
// event of the burst, whichever comes first, so a steady trickle of changes cannot postpone a rebuild forever.
// Events that arrive while fire runs start the next burst. Debounce returns when ctx is done or events is closed;
// a burst pending at that moment is dropped (the caller is shutting down).
//
// It is a free function over its channels and callback (after istio's debounce), so it is tested directly.
func Debounce(ctx context.Context, events <-chan struct{}, quiet, maxDelay time.Duration, fire func()) {
	var (
		quietTimer, maxTimer *time.Timer
		quietC, maxC         <-chan time.Time // nil while no burst is pending
	)
	stop := func() {
		if quietTimer != nil {
			quietTimer.Stop()
			maxTimer.Stop()
		}
		quietC, maxC = nil, nil
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				return
			}
			if quietC == nil {
				quietTimer, maxTimer = time.NewTimer(quiet), time.NewTimer(maxDelay)
				quietC, maxC = quietTimer.C, maxTimer.C
				continue
			}
			quietTimer.Reset(quiet)
		case <-quietC:
			stop()
			fire()
		case <-maxC:
			stop()
			fire()
		}
	}
}
