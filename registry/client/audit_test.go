package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
)

func TestAudit(t *testing.T) {
	reg := clienttest.Start(t)
	c := reg.Client(t, reg.AdminToken(t))
	ctx := t.Context()
	for _, n := range []string{"acme/a", "acme/b", "acme/c"} {
		mustCreate(t, c.Servers(), server(n))
	}
	if err := c.Servers().Delete(ctx, "acme/b", 0); err != nil {
		t.Fatal(err)
	}
	// Records reach the store asynchronously (the batcher flushes every 10ms): wait until all four are there.
	var recs []audit.Record
	for range 500 {
		page, err := c.ListAudit(ctx, client.AuditQuery{Kind: audit.KindMutation})
		if err != nil {
			t.Fatal(err)
		}
		if recs = page.Items; len(recs) >= 4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(recs) != 4 {
		t.Fatalf("got %d mutation records, want 4", len(recs))
	}
	if recs[0].Action != "delete" || recs[0].Name != "acme/b" || recs[0].Subject != "admin" {
		t.Fatalf("newest record: %+v", recs[0])
	}

	var paged []string
	for r, err := range c.AllAudit(ctx, client.AuditQuery{Kind: audit.KindMutation, Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, r.ID)
	}
	var exported []string
	for r, err := range c.ExportAudit(ctx, client.AuditQuery{Kind: audit.KindMutation, Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		exported = append(exported, r.ID)
	}
	for _, got := range [][]string{paged, exported} {
		if len(got) != len(recs) {
			t.Fatalf("got %d records, want %d", len(got), len(recs))
		}
		for i := range got {
			if got[i] != recs[i].ID {
				t.Fatalf("record %d is %s, want %s", i, got[i], recs[i].ID)
			}
		}
	}
	for range c.ExportAudit(ctx, client.AuditQuery{}) {
		break // stopping early must close the stream without an error or a panic
	}

	// Invariant: each filter keeps exactly the records that match it.
	filters := []struct {
		name string
		q    client.AuditQuery
		want int
	}{
		{"by subject", client.AuditQuery{Subject: "admin"}, 4},
		{"by another subject", client.AuditQuery{Subject: "mallory"}, 0},
		{"denied decisions", client.AuditQuery{Decision: "deny"}, 0},
		{"allowed", client.AuditQuery{Decision: "allow", Kind: audit.KindMutation}, 4},
		{"from the future", client.AuditQuery{From: time.Now().Add(time.Hour)}, 0},
		{"until the start", client.AuditQuery{To: recs[len(recs)-1].Time}, 0},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			for _, err := range c.AllAudit(ctx, tt.q) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != tt.want {
				t.Fatalf("got %d records, want %d", n, tt.want)
			}
		})
	}
	if _, err := c.ListAudit(ctx, client.AuditQuery{Decision: "maybe"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("bad decision filter: got %v", err)
	}
	for _, err := range c.ExportAudit(ctx, client.AuditQuery{Kind: "other"}) {
		if !errors.Is(err, catalog.ErrInvalid) {
			t.Fatalf("bad kind on export: got %v", err)
		}
	}
}

// A registry is another process: a server that keeps handing back the cursor it was given must not make All loop.
func TestAllStopsOnARepeatedCursor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[{"name":"a/b","versions":[]}],"next_cursor":"same"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range c.Scopes().All(t.Context(), client.ListOptions{}) {
		if n++; n > 3 {
			t.Fatal("All kept going")
		}
		if err != nil {
			return
		}
	}
	t.Fatal("All ended without an error")
}
