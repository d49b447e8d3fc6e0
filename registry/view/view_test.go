package view_test

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
)

func TestObserveWaitsForTheListenersOfWhoeverPutItFirst(t *testing.T) {
	// Invariant: read-your-writes holds whoever puts an object first. When the feed puts a write on its goroutine
	// and the writer then observes the same object, the writer returns only after the listeners have seen it.
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(events []view.Event) {
		close(entered)
		<-release // a listener still at work (the policy data push, say)
	}
	c := view.New(nil, slog.New(slog.DiscardHandler), slow)
	s := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "d"}}
	s.Rev = 7

	go c.Observe(s) // the feed applies the write first
	<-entered
	returned := make(chan struct{})
	go func() { c.Observe(s); close(returned) }() // the writer observes its own write
	select {
	case <-returned:
		t.Fatal("the writer's Observe returned while the listeners had not seen the write")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer's Observe never returned")
	}
}

func TestListenersHearChangesInTheOrderTheViewMadeThem(t *testing.T) {
	// Invariant: listeners hear the changes to the view in the order they were made, even when the writers run on
	// different goroutines: a listener that keeps ev.New (the search index, the visible-set cache) ends with the
	// object the view holds, not an older rev.
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var heard []int64
	listener := func(events []view.Event) {
		if events[0].New.Metadata().Rev == 7 {
			close(entered)
			<-release // still at work on the first change
		}
		mu.Lock()
		heard = append(heard, events[0].New.Metadata().Rev)
		mu.Unlock()
	}
	c := view.New(nil, slog.New(slog.DiscardHandler), listener)
	older := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "older"}}
	older.Rev = 7
	newer := &catalog.Server{Name: "ns/x", Governance: catalog.Governance{Description: "newer"}}
	newer.Rev = 8

	var wg sync.WaitGroup
	wg.Go(func() { c.Observe(older) })
	<-entered
	wg.Go(func() { c.Observe(newer) }) // the view holds rev 8 at once
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if got, _ := c.Get(catalog.KindServer, "ns/x"); got != newer {
		t.Fatalf("view holds rev %d", got.Metadata().Rev)
	}
	if want := []int64{7, 8}; !slices.Equal(heard, want) {
		t.Fatalf("listeners heard revs %v, want %v", heard, want)
	}
}
