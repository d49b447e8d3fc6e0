package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
)

func open(t testing.TB, dir string) *mongo.Store {
	t.Helper()
	s, err := mongo.Open(t.Context(), mongo.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.WithoutCancel(t.Context())) })
	return s
}

func server(name string) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "d", Tags: []string{"a"}},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "http://127.0.0.1:9/mcp",
			Tools: []catalog.Tool{{Name: "t", InputSchema: []byte(`{"type":"object","properties":{"$x":{"type":"string"}}}`)}}}}}
	s.Normalize()
	return s
}

func TestCRUDAndRevs(t *testing.T) {
	// Invariant: every write stamps the next global sequence as the rev; conditional writes fail on a stale rev;
	// duplicates conflict; the stored document round-trips exactly, raw JSON included.
	ctx := t.Context()
	s := open(t, t.TempDir())
	a := server("ns/a")
	c1, err := s.Create(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Seq != a.Rev || c1.Op != catalog.OpPut {
		t.Fatalf("change %+v rev %d", c1, a.Rev)
	}
	if _, err := s.Create(ctx, server("ns/a")); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("duplicate create: %v", err)
	}
	got, err := s.Get(ctx, catalog.KindServer, "ns/a")
	if err != nil {
		t.Fatal(err)
	}
	gs := got.(*catalog.Server)
	if gs.Rev != a.Rev || string(gs.Versions[0].Tools[0].InputSchema) != string(a.Versions[0].Tools[0].InputSchema) || !gs.Versions[0].Default {
		t.Fatalf("round trip: %+v", gs)
	}
	b := server("ns/a")
	if _, err := s.Update(ctx, b, a.Rev+100); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("stale update: %v", err)
	}
	c2, err := s.Update(ctx, b, a.Rev)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Seq <= c1.Seq {
		t.Fatalf("seq did not advance: %d then %d", c1.Seq, c2.Seq)
	}
	if _, err := s.Update(ctx, server("ns/missing"), 0); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if _, err := s.Delete(ctx, catalog.KindServer, "ns/a", c1.Seq); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("stale delete: %v", err)
	}
	c3, err := s.Delete(ctx, catalog.KindServer, "ns/a", c2.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, catalog.KindServer, "ns/a"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	ch, err := s.Changes(ctx, 0, c3.Seq)
	if err != nil {
		t.Fatal(err)
	}
	// the refused duplicate create left an OpNone record for its sequence number
	if len(ch) != 4 || ch[1].Op != catalog.OpNone || ch[3].Op != catalog.OpDelete || ch[0].Seq != c1.Seq {
		t.Fatalf("changes: %+v", ch)
	}
}

func TestConcurrentWritersNeverReuseASequence(t *testing.T) {
	// Invariant: concurrent writers get distinct sequence numbers, and every one of them has its change record.
	ctx := t.Context()
	s := open(t, t.TempDir())
	const writers, each = 8, 20
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c, err := s.Create(ctx, server(fmt.Sprintf("ns/w%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[c.Seq] {
					t.Errorf("sequence %d reused", c.Seq)
				}
				seen[c.Seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Changes(ctx, 0, last)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != writers*each || int(last) != writers*each {
		t.Fatalf("got %d changes, last %d; want %d", len(ch), last, writers*each)
	}
	for i := 1; i < len(ch); i++ {
		if ch[i].Seq <= ch[i-1].Seq {
			t.Fatalf("changes out of order at %d", i)
		}
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	// Invariant: what was written is there after the process reopens the data directory, and the sequence continues.
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	for i := range 50 {
		if _, err := s.Create(ctx, server(fmt.Sprintf("ns/s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close(ctx)
	s2 := open(t, dir)
	all, err := s2.List(ctx, catalog.KindServer)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 50 {
		t.Fatalf("got %d servers after reopen", len(all))
	}
	c, err := s2.Create(ctx, server("ns/next"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Seq != 51 {
		t.Fatalf("sequence did not continue: %d", c.Seq)
	}
}

func TestWriteStoredIsReportedEvenWhenItsChangeRecordFails(t *testing.T) {
	// Invariant: once the document is written, the write has happened: the store reports it with its change even
	// when appending the change record fails (readers meet a hole and rebuild from the documents). Answering an error,
	// a conflict here, would make a client retry a create that exists or think a delete failed.
	ctx := t.Context()
	s := open(t, t.TempDir())
	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Occupy the next change record's _id, so that appending it fails.
	if _, err := s.Database().Collection("changes").InsertOne(ctx, map[string]any{"_id": mongo.SeqID(last + 1)}); err != nil {
		t.Fatal(err)
	}
	a := server("ns/a")
	c, err := s.Create(ctx, a)
	if err != nil {
		t.Fatalf("create whose document was written: %v", err)
	}
	got, err := s.Get(ctx, catalog.KindServer, "ns/a")
	if err != nil {
		t.Fatal(err)
	}
	if c.Seq != last+1 || got.Metadata().Rev != c.Seq {
		t.Fatalf("change %+v, stored rev %d, want %d", c, got.Metadata().Rev, last+1)
	}
}

func TestSecondProcessOnADataDirIsRefused(t *testing.T) {
	// Invariant: one embedded store per data directory. A second Open (another mcpgw on the same --data-dir) fails
	// with ErrDataDirInUse naming the owner, and leaves the first store working, its socket and its data untouched;
	// once the first closes, the directory can be opened again.
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	if _, err := s.Create(ctx, server("ns/first")); err != nil {
		t.Fatal(err)
	}
	_, err := mongo.Open(ctx, mongo.Config{DataDir: dir})
	if !errors.Is(err, mongo.ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second open: %v", err)
	}
	if _, err := s.Create(ctx, server("ns/second")); err != nil {
		t.Fatalf("the first store after a refused second open: %v", err)
	}
	_ = s.Close(ctx)
	s2 := open(t, dir)
	if all, err := s2.List(ctx, catalog.KindServer); err != nil || len(all) != 2 {
		t.Fatalf("reopened after close: %d servers, %v", len(all), err)
	}
}
