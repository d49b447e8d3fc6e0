// Package clienttest runs a real mcpgw registry in process for the tests of the REST API's consumers (the Go
// client, mcpctl) and of the handlers the API mounts (the airegistry-tools server, virtual servers), the way
// net/http/httptest runs a server: the embedded
// MongoDB-compatible store in a temporary directory, the catalog view kept current by the change feed, the embedded
// Rego policy, the development token issuer, the audit pipeline, the registrar and the REST API on an httptest
// server. Nothing is mocked; the composition mirrors cmd/internal/app.
//
// It is a test helper: it links the whole registry (gin, the store) and belongs in _test.go files only.
package clienttest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/client"
	"github.com/mcpgw/mcpgw/registry/feed"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

// AdminGroup is the group the embedded policy gives the admin scope.
const AdminGroup = "mcpgw-admins"

// Registry is a running in-process registry.
type Registry struct {
	// URL is the base URL of the REST API.
	URL string
	// Store is the registry's store, for tests that inspect what was written.
	Store *mongo.Store
	// Registrar writes to the catalog as the API does, for tests that set up a catalog without HTTP (see Admin).
	Registrar *registrar.Registrar
	// View is the registry's in-memory catalog.
	View *view.Catalog
	// Index is the search index (nil unless Options.Search).
	Index *search.Index
	dev   *identity.DevIssuer
}

// Options add parts to the registry Start runs.
type Options struct {
	// Search adds the search index with the built-in embedder: GET /api/v1/search, Registry.Index and Parts.Index.
	Search bool
	// Mount builds handlers served under the API's token check (as the airegistry-tools server and virtual servers
	// are) from the registry's parts, and the background work they need, which runs while the registry does.
	Mount func(p Parts) ([]api.Mount, []func(context.Context) error, error)
}

// Parts are the registry's components, for the handlers of Options.Mount.
type Parts struct {
	View   *view.Catalog
	Engine *policy.Engine
	Access *access.Control
	Index  *search.Index // nil unless Options.Search
}

// Start runs a registry for the duration of the test; cleanups stop it and remove its data.
func Start(t testing.TB) *Registry {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith runs a registry with the parts opts adds.
func StartWith(t testing.TB, opts Options) *Registry {
	t.Helper()
	log := Logger(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())

	store, err := mongo.Open(ctx, mongo.Config{DataDir: dir, Logger: log})
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close(context.WithoutCancel(ctx)) })
	fail := func(what string, err error) {
		t.Helper()
		cancel()
		t.Fatalf("%s: %v", what, err)
	}

	engine, err := policy.New(ctx, policy.Options{Logger: log})
	if err != nil {
		fail("load policy", err)
	}
	cat := view.New(store, log)
	ctl := access.New(engine, cat, access.Options{Logger: log})
	cat.AddListener(ctl.Listener(ctx))
	var idx *search.Index
	if opts.Search {
		emb, err := embed.New(ctx, embed.Config{})
		if err != nil {
			fail("embedder", err)
		}
		if idx, err = search.New(search.Options{Embedder: emb, Logger: log}); err != nil {
			fail("search index", err)
		}
		cat.AddListener(idx.Listener()) // the view's load indexes the whole catalog through it
	}
	pos, err := cat.Load(ctx)
	if err != nil {
		fail("load view", err)
	}
	if err := ctl.Sync(ctx); err != nil {
		fail("sync access data", err)
	}
	tailer := feed.New(store, cat, pos, feed.Options{Interval: 20 * time.Millisecond, Logger: log})

	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Logger: log})
	if err != nil {
		fail("development issuer", err)
	}
	verifier, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}},
		identity.Options{Logger: log})
	if err != nil {
		fail("verifier", err)
	}
	red, err := audit.NewRedactor(audit.RedactConfig{HashKey: []byte("clienttest-audit-hash-key")})
	if err != nil {
		fail("audit redactor", err)
	}
	// A short flush interval makes audit records queryable soon after the change that produced them.
	batcher, err := audit.NewBatcher(store, audit.BatcherConfig{Redactor: red, FlushInterval: 10 * time.Millisecond}, log)
	if err != nil {
		fail("audit batcher", err)
	}
	rg, err := registrar.New(store, cat, registrar.Options{
		Gate: access.Gate{Engine: engine}, Auditor: batcher, Logger: log,
		BuiltinScopes: []string{policy.DefaultAdminScope},
	})
	if err != nil {
		fail("registrar", err)
	}
	var mounts []api.Mount
	var runners []func(context.Context) error
	if opts.Mount != nil {
		if mounts, runners, err = opts.Mount(Parts{View: cat, Engine: engine, Access: ctl, Index: idx}); err != nil {
			fail("mounts", err)
		}
	}
	aopts := api.Options{
		View: cat, Registrar: rg, Auth: verifier, JWKS: dev.JWKS(), Logger: log,
		Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		}),
		Ready:     store.Ping,
		Audit:     store,
		Explainer: engine,
		Mounts:    mounts,
	}
	if idx != nil {
		aopts.Search = idx
	}
	srv, err := api.New(aopts)
	if err != nil {
		fail("api", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return tailer.Run(gctx) })
	g.Go(func() error { return verifier.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	g.Go(func() error { return batcher.Run(gctx) })
	if idx != nil {
		g.Go(func() error { return idx.Run(gctx) })
	}
	for _, run := range runners {
		g.Go(func() error { return run(gctx) })
	}
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("registry parts: %v", err)
		}
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Registry{URL: hs.URL, Store: store, Registrar: rg, View: cat, Index: idx, dev: dev}
}

// Admin is an administrator as the registrar sees one (subject "root" in AdminGroup).
func (r *Registry) Admin() registrar.Actor {
	return registrar.Actor{Issuer: r.dev.Issuer(), Subject: "root", Groups: []string{AdminGroup}}
}

// Token returns a development token for subject in groups, valid for an hour.
func (r *Registry) Token(t testing.TB, subject string, groups ...string) string {
	t.Helper()
	tok, err := r.dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok
}

// AdminToken returns a token of an administrator (subject "admin" in AdminGroup).
func (r *Registry) AdminToken(t testing.TB) string {
	t.Helper()
	return r.Token(t, "admin", AdminGroup)
}

// Client returns a client of the registry that sends token (none when empty).
func (r *Registry) Client(t testing.TB, token string, opts ...client.Option) *client.Client {
	t.Helper()
	if token != "" {
		opts = append([]client.Option{client.WithToken(token)}, opts...)
	}
	c, err := client.New(r.URL, opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// Logger returns a logger writing warnings and errors to the test log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = logWriter{}
