package access_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

type fixture struct {
	ctl *access.Control
	reg *registrar.Registrar
	cat *view.Catalog
}

var admin = registrar.Actor{Issuer: "i", Subject: "root", Groups: []string{"mcpgw-admins"}}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the Control's engine wrapped by wrap (nil: the real engine); the registrar's gate keeps
// the real one.
func setupWith(t *testing.T, wrap func(*policy.Engine) access.Engine) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := mongo.Open(ctx, mongo.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.WithoutCancel(ctx)) })
	eng, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ctlEngine access.Engine = eng
	if wrap != nil {
		ctlEngine = wrap(eng)
	}
	cat := view.New(st, nil)
	ctl := access.New(ctlEngine, cat, access.Options{})
	cat.AddListener(ctl.Listener(ctx))
	if _, err := cat.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := registrar.New(st, cat, registrar.Options{Gate: access.Gate{Engine: eng}, BuiltinScopes: []string{policy.DefaultAdminScope}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctl: ctl, reg: reg, cat: cat}
}

func (f *fixture) create(t *testing.T, o catalog.Object) {
	t.Helper()
	if _, err := f.reg.Create(t.Context(), admin, o); err != nil {
		t.Fatalf("create %s: %v", o.Key(), err)
	}
}

func server(name string, tools ...string) *catalog.Server {
	v := catalog.ServerVersion{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "http://127.0.0.1:9/mcp"}
	for _, t := range tools {
		v.Tools = append(v.Tools, catalog.Tool{Name: t})
	}
	return &catalog.Server{Name: name, Governance: catalog.Governance{Description: "d"}, Versions: []catalog.ServerVersion{v}}
}

func visible(t *testing.T, f *fixture, groups ...string) []string {
	t.Helper()
	s, err := f.ctl.ForPolicy(t.Context(), policy.Principal{Issuer: "i", Subject: "u", Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	keys := s.Keys(catalog.KindServer)
	if keys == nil {
		for _, o := range f.cat.All(catalog.KindServer) {
			keys = append(keys, o.Key())
		}
	}
	return keys
}

func TestDisjointLinesOfBusinessAndAdmin(t *testing.T) {
	// Invariant: callers see exactly the servers their scopes grant (finance and HR disjoint), an admin sees all, and
	// the cached sets follow catalog and scope changes without a restart.
	f := setup(t)
	for i := range 3 {
		f.create(t, server(fmt.Sprintf("finance/s%d", i), "get_balance", "transfer"))
		f.create(t, server(fmt.Sprintf("hr/s%d", i), "lookup"))
	}
	f.create(t, &catalog.Scope{Name: "finance-read", Grants: []catalog.Grant{{Server: "finance/*", Methods: []string{"tools/call"}, Tools: []string{"get_balance"}}}})
	f.create(t, &catalog.Scope{Name: "hr-read", Grants: []catalog.Grant{{Server: "hr/*", Tools: []string{"*"}}}})
	f.create(t, &catalog.GroupMapping{Group: "finance", Scopes: []string{"finance-read"}})
	f.create(t, &catalog.GroupMapping{Group: "hr", Scopes: []string{"hr-read"}})

	fin, hr := visible(t, f, "finance"), visible(t, f, "hr")
	if !slices.Equal(fin, []string{"finance/s0", "finance/s1", "finance/s2"}) || !slices.Equal(hr, []string{"hr/s0", "hr/s1", "hr/s2"}) {
		t.Fatalf("finance %v, hr %v", fin, hr)
	}
	if all := visible(t, f, "mcpgw-admins"); len(all) != 6 {
		t.Fatalf("admin sees %v", all)
	}
	if none := visible(t, f, "nobody"); len(none) != 0 {
		t.Fatalf("no-grant caller sees %v", none)
	}
	s, _ := f.ctl.ForPolicy(t.Context(), policy.Principal{Issuer: "i", Subject: "u", Groups: []string{"finance"}})
	keep := s.Tools("finance/s0")
	if keep == nil || !keep("get_balance") || keep("transfer") {
		t.Fatal("finance should list get_balance only")
	}

	// Incremental: a new finance server appears for finance (cached set updated), not for HR; a deleted one goes.
	f.create(t, server("finance/new", "get_balance"))
	if fin := visible(t, f, "finance"); !slices.Contains(fin, "finance/new") || len(fin) != 4 {
		t.Fatalf("after create, finance sees %v", fin)
	}
	if hr := visible(t, f, "hr"); slices.Contains(hr, "finance/new") {
		t.Fatalf("hr sees %v", hr)
	}
	if err := f.reg.Delete(t.Context(), admin, catalog.KindServer, "finance/s1", 0); err != nil {
		t.Fatal(err)
	}
	if fin := visible(t, f, "finance"); slices.Contains(fin, "finance/s1") {
		t.Fatalf("after delete, finance sees %v", fin)
	}

	// A scope change applies at once: finance now also gets hr/*.
	f.create(t, &catalog.GroupMapping{Group: "finance", Issuer: "i", Scopes: []string{"hr-read"}})
	if fin := visible(t, f, "finance"); len(fin) != 6 {
		t.Fatalf("after mapping, finance sees %v", fin)
	}
}

func TestPublisherWritesOnlyInItsNamespace(t *testing.T) {
	// Invariant: a publisher scope allows writes in its namespaces only; others are refused as forbidden.
	f := setup(t)
	f.create(t, &catalog.Scope{Name: "finance-pub", Publish: []string{"finance"}})
	f.create(t, &catalog.GroupMapping{Group: "fin-pubs", Scopes: []string{"finance-pub"}})
	pub := registrar.Actor{Issuer: "i", Subject: "p", Groups: []string{"fin-pubs"}}
	if _, err := f.reg.Create(t.Context(), pub, server("finance/mine")); err != nil {
		t.Fatalf("publish in own namespace: %v", err)
	}
	_, err := f.reg.Create(t.Context(), pub, server("hr/theirs"))
	if !errors.Is(err, catalog.ErrForbidden) {
		t.Fatalf("publish elsewhere: %v", err)
	}
	if err := f.reg.Delete(t.Context(), pub, catalog.KindServer, "finance/mine", 0); err != nil {
		t.Fatalf("delete own: %v", err)
	}
	if _, err := f.reg.Create(t.Context(), pub, &catalog.Scope{Name: "sneaky"}); !errors.Is(err, catalog.ErrForbidden) {
		t.Fatalf("publisher creating a scope: %v", err)
	}
}

// scopesHook is the real policy engine with a pause after it answers EffectiveScopes, so a test can change the
// access data while a caller's scopes are in flight.
type scopesHook struct {
	*policy.Engine
	after func()
}

func (h *scopesHook) EffectiveScopes(ctx context.Context, p policy.Principal) ([]string, error) {
	sc, err := h.Engine.EffectiveScopes(ctx, p)
	if h.after != nil {
		h.after()
	}
	return sc, err
}

func TestScopesComputedBeforeAccessDataChangeAreNotCached(t *testing.T) {
	// Invariant: effective scopes computed from access data that a change replaced while they were in flight are
	// not cached: once the change is applied, a caller's next request gets scopes from the new data. (Otherwise a
	// member of a group whose admin mapping was just deleted stays admin in this process until the next change.)
	ctx := t.Context()
	var eng *scopesHook
	f := setupWith(t, func(real *policy.Engine) access.Engine {
		eng = &scopesHook{Engine: real}
		return eng
	})
	ctl, reg := f.ctl, f.reg
	m := &catalog.GroupMapping{Group: "ops", Scopes: []string{policy.DefaultAdminScope}}
	if _, err := reg.Create(ctx, admin, m); err != nil {
		t.Fatal(err)
	}
	caller := policy.Principal{Issuer: "i", Subject: "u", Groups: []string{"ops"}}

	inFlight, resume := make(chan struct{}), make(chan struct{})
	eng.after = func() {
		eng.after = nil
		close(inFlight)
		<-resume
	}
	done := make(chan error, 1)
	go func() {
		_, err := ctl.ForPolicy(ctx, caller)
		done <- err
	}()
	<-inFlight
	if err := reg.Delete(ctx, admin, catalog.KindGroupMapping, m.Key(), 0); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	s, err := ctl.ForPolicy(ctx, caller)
	if err != nil {
		t.Fatal(err)
	}
	if s.Admin() {
		t.Fatal("the caller is still admin after its group's admin mapping was deleted")
	}
}
