// Package clienttest runs a real mcpgw registry in process for the tests of the REST API's consumers (the Go
// client, mcpctl and the commands that come later), the way net/http/httptest runs a server: the embedded
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
	dev   *identity.DevIssuer
}

// Start runs a registry for the duration of the test; cleanups stop it and remove its data.
func Start(t testing.TB) *Registry {
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
	srv, err := api.New(api.Options{
		View: cat, Registrar: rg, Auth: verifier, JWKS: dev.JWKS(), Logger: log,
		Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		}),
		Ready:     store.Ping,
		Audit:     store,
		Explainer: engine,
	})
	if err != nil {
		fail("api", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return tailer.Run(gctx) })
	g.Go(func() error { return verifier.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	g.Go(func() error { return batcher.Run(gctx) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("registry parts: %v", err)
		}
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Registry{URL: hs.URL, Store: store, dev: dev}
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
