package view_test

import (
	"log/slog"
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
