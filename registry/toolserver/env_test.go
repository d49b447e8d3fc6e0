package toolserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/toolserver"
	"github.com/mcpgw/mcpgw/registry/view"
)

// env is the airegistry-tools server over the real stack, wired as cmd/internal/app wires it: the embedded
// MongoDB-compatible store, the in-memory view, the Rego policy engine with the embedded policy, access control, the
// search index with the built-in embedder, the registrar, and the registry API (token check) in front of the MCP
// handler, served over HTTP.
type env struct {
	url   string
	dev   *identity.DevIssuer
	reg   *registrar.Registrar
	index *search.Index
	admin registrar.Actor
}

const publicURL = "http://gw.example.com"

func newEnv(t testing.TB) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	store, err := mongo.Open(ctx, mongo.Config{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close(context.WithoutCancel(ctx)) })
	engine, err := policy.New(ctx, policy.Options{Logger: log})
	if err != nil {
		t.Fatalf("load policy: %v", err)
	}
	cat := view.New(store, log)
	ctl := access.New(engine, cat, access.Options{Logger: log})
	cat.AddListener(ctl.Listener(ctx))
	emb, err := embed.New(ctx, embed.Config{})
	if err != nil {
		t.Fatalf("embedder: %v", err)
	}
	idx, err := search.New(search.Options{Embedder: emb, Logger: log})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	cat.AddListener(idx.Listener())
	if _, err := cat.Load(ctx); err != nil {
		t.Fatalf("load view: %v", err)
	}
	if err := ctl.Sync(ctx); err != nil {
		t.Fatalf("sync access data: %v", err)
	}
	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Logger: log})
	if err != nil {
		t.Fatalf("dev issuer: %v", err)
	}
	verifier, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}},
		identity.Options{Logger: log})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	batcher, err := audit.NewBatcher(store, audit.BatcherConfig{FlushInterval: 5 * time.Millisecond}, log)
	if err != nil {
		t.Fatalf("audit batcher: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = batcher.Run(ctx) })
	wg.Go(func() { _ = idx.Run(ctx) })
	// Registered after the store's cleanup, so it runs first: the batcher drains before the store closes.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	rg, err := registrar.New(store, cat, registrar.Options{
		Gate: access.Gate{Engine: engine}, Auditor: batcher, Logger: log,
		BuiltinScopes: []string{policy.DefaultAdminScope},
	})
	if err != nil {
		t.Fatalf("registrar: %v", err)
	}
	tools, err := toolserver.New(toolserver.Options{
		Catalog: cat, Search: idx, Principal: api.PrincipalFrom, PublicURL: publicURL, Logger: log,
		Access: func(ctx context.Context, p identity.Principal) (search.Visibility, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		},
	})
	if err != nil {
		t.Fatalf("toolserver: %v", err)
	}
	srv, err := api.New(api.Options{
		View: cat, Registrar: rg, Auth: verifier, JWKS: dev.JWKS(), Logger: log,
		Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		}),
		Ready: store.Ping, Audit: store, Explainer: engine, Search: idx,
		Mounts: []api.Mount{{Path: toolserver.Path, Handler: tools.Handler(), SelfChallenge: true}},
	})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{url: hs.URL, dev: dev, reg: rg, index: idx,
		admin: registrar.Actor{Issuer: dev.Issuer(), Subject: "root", Groups: []string{policy.DefaultAdminGroup}}}
}

// create registers objects as an admin and waits until the search index has their vectors.
func (e *env) create(t testing.TB, objs ...catalog.Object) {
	t.Helper()
	for _, o := range objs {
		if _, err := e.reg.Create(t.Context(), e.admin, o); err != nil {
			t.Fatalf("create %s %s: %v", o.Kind(), o.Key(), err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := e.index.Flush(ctx); err != nil {
		t.Fatalf("search vectors: %v", err)
	}
}

func (e *env) token(t testing.TB, subject string, groups ...string) string {
	t.Helper()
	tok, err := e.dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer adds a token to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// revisions are the protocol revisions a client asks for: sessions in the oldest revision with structured content
// and output schemas absent (2025-03-26), in the newest session revision, and the go-sdk default (server/discover,
// then the stateless 2026-07-28 revision).
var revisions = []struct{ name, ask, want string }{
	{name: "2025-03-26", ask: "2025-03-26", want: "2025-03-26"},
	{name: "2025-11-25", ask: "2025-11-25", want: "2025-11-25"},
	{name: "stateless", ask: "", want: "2026-07-28"},
}

// connect opens an MCP client session on the airegistry-tools endpoint with a token, asking for a revision.
func (e *env) connect(t testing.TB, token, revision string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: e.url + toolserver.Path,
		HTTPClient: &http.Client{Transport: bearer{token}}, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: revision})
	if err != nil {
		t.Fatalf("connect (%q): %v", revision, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if got := cs.InitializeResult().ProtocolVersion; revision != "" && got != revision {
		t.Fatalf("negotiated %q, want %q", got, revision)
	}
	return cs
}

// call calls a tool and decodes its structured result into out (when not nil). It returns the result.
func call(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s result %s: %v", tool, b, err)
		}
	}
	return res
}
