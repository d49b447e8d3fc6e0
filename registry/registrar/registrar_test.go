package registrar_test

import (
	"context"
	"sync"
	"testing"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

type allowAll struct{}

func (allowAll) Allow(context.Context, registrar.Actor, registrar.Action, catalog.Kind, string) error {
	return nil
}

// records keeps the audit records the registrar submits.
type records struct {
	mu  sync.Mutex
	all []audit.Record
}

func (r *records) Submit(rec audit.Record) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rec)
	return true
}

// racingStore is the real store with another writer's update landing just before the registrar's first delete,
// after the registrar read the object: the interleaving of two requests on two replicas.
type racingStore struct {
	*mongo.Store
	once   sync.Once
	update func()
}

func (s *racingStore) Delete(ctx context.Context, kind catalog.Kind, key string, ifRev int64) (catalog.Change, error) {
	s.once.Do(s.update)
	return s.Store.Delete(ctx, kind, key, ifRev)
}

func server(name, title string) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Title: title, Description: "d"},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", URL: "https://mcp.example.com/mcp"}}}
	s.Normalize()
	return s
}

func TestUnconditionalDeleteAuditsTheRevItRemoved(t *testing.T) {
	// Invariant: a delete without If-Match still succeeds when another writer changes the object between the
	// registrar's read and its delete, and its audit record names the rev that was removed, not the older one read.
	ctx := t.Context()
	st, err := mongo.Open(ctx, mongo.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close(context.WithoutCancel(ctx)) }()
	c, err := st.Create(ctx, server("ns/x", "first"))
	if err != nil {
		t.Fatal(err)
	}
	var updated int64
	rs := &racingStore{Store: st, update: func() {
		u, err := st.Update(ctx, server("ns/x", "second"), 0)
		if err != nil {
			t.Error(err)
		}
		updated = u.Seq
	}}
	cat := view.New(rs, nil)
	if _, err := cat.Load(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &records{}
	rg, err := registrar.New(rs, cat, registrar.Options{Gate: allowAll{}, Auditor: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := rg.Delete(ctx, registrar.Actor{Subject: "root"}, catalog.KindServer, "ns/x", 0); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.Get(ctx, catalog.KindServer, "ns/x"); err == nil {
		t.Fatal("the server is still stored")
	}
	if len(rec.all) != 1 || rec.all[0].RevBefore != updated || !rec.all[0].Allow {
		t.Fatalf("audit %+v, want one allowed delete of rev %d (created at %d)", rec.all, updated, c.Seq)
	}
}
