package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Run watches the override directory and reloads the policy when it
// changes, debounced so that an editor's burst of writes (or a ConfigMap
// swap) loads once. A policy that does not load keeps the last good one and
// is logged once per distinct failure. Without a directory Run just waits.
// It returns when ctx is done (nil) or when the watch cannot be set up.
func (e *Engine) Run(ctx context.Context) error {
	if e.dir == "" {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch policy directory: %w", err)
	}
	defer w.Close()
	if err := w.Add(e.dir); err != nil {
		return fmt.Errorf("watch policy directory: %w", err)
	}

	changes := make(chan struct{}, 1)
	notify := func() {
		select {
		case changes <- struct{}{}:
		default: // a reload is already pending
		}
	}
	// Catch up with changes made between New and the watch.
	notify()

	var lastFailure string
	reload := func() {
		if err := e.reload(ctx); err != nil {
			if msg := err.Error(); msg != lastFailure {
				lastFailure = msg
				e.log.Error("policy reload failed; keeping the last good policy", "dir", e.dir, "err", err)
			} else {
				e.log.Debug("policy reload failed again; keeping the last good policy", "dir", e.dir)
			}
			return
		}
		lastFailure = ""
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		debounce(ctx, changes, e.debounce, time.After, reload)
	}()

	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				<-done
				return nil
			}
			if ev.Op != fsnotify.Chmod {
				notify()
			}
		case err, ok := <-w.Errors:
			if !ok {
				<-done
				return nil
			}
			e.log.Warn("policy directory watch error", "dir", e.dir, "err", err)
			notify() // events may have been lost: re-read
		}
	}
}

// reload reads and compiles the directory and publishes it when its sources
// changed.
func (e *Engine) reload(ctx context.Context) error {
	srcs, err := readSources(e.dir)
	if err != nil {
		return fmt.Errorf("reload policy: %w", err)
	}
	if digest(srcs) == e.state.Load().policy.digest {
		return nil
	}
	p, err := compile(srcs)
	if err != nil {
		return fmt.Errorf("reload policy: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.publish(ctx, p, e.state.Load().data); err != nil {
		return fmt.Errorf("reload policy: %w", err)
	}
	e.log.Info("policy reloaded", "dir", e.dir, "files", p.files, "generation", e.state.Load().generation)
	return nil
}

// debounce calls fn once the events channel has been quiet for quiet after
// one or more events, until ctx is done or events is closed. after is
// time.After in production and a controllable clock in tests.
func debounce(ctx context.Context, events <-chan struct{}, quiet time.Duration, after func(time.Duration) <-chan time.Time, fn func()) {
	var timer <-chan time.Time // nil: nothing pending
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				return
			}
			timer = after(quiet)
		case <-timer:
			timer = nil
			fn()
		}
	}
}
