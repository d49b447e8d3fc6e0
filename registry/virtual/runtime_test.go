package virtual_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/registry/virtual"
)

// env is the virtual servers' runtime over the real stack, wired as cmd/internal/app wires it: the embedded
// MongoDB-compatible store, the in-memory view, the Rego policy engine with the embedded policy, access control, the
// registrar, and the registry API (token check) in front of the runtime, served over HTTP; the upstream is a go-sdk
// MCP server counting the calls of each tool.
type env struct {
	url      string
	dev      *identity.DevIssuer
	reg      *registrar.Registrar
	view     *view.Catalog
	admin    registrar.Actor
	upstream string
	mu       sync.Mutex
	calls    map[string]int
}

type textIn struct {
	Text string `json:"text"`
}

type textOut struct {
	Text string `json:"text"`
}

func newEnv(t *testing.T) *env {
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
	rt, err := virtual.New(virtual.Options{
		Catalog: cat, Policy: engine, Principal: api.PrincipalFrom, PublicURL: "http://gw.example.com", Logger: log,
		Access: func(ctx context.Context, p identity.Principal) (virtual.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		},
	})
	if err != nil {
		t.Fatalf("virtual: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = batcher.Run(ctx) })
	wg.Go(func() { _ = rt.Run(ctx) })
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
	srv, err := api.New(api.Options{
		View: cat, Registrar: rg, Auth: verifier, JWKS: dev.JWKS(), Logger: log,
		Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		}),
		Ready: store.Ping, Audit: store, Explainer: engine,
		Mounts: []api.Mount{{Path: virtual.PathPrefix, Handler: rt, SelfChallenge: true}},
	})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{url: hs.URL, dev: dev, reg: rg, view: cat, calls: map[string]int{},
		admin: registrar.Actor{Issuer: dev.Issuer(), Subject: "root", Groups: []string{policy.DefaultAdminGroup}}}
	e.upstream = e.startUpstream(t)
	return e
}

// startUpstream runs a go-sdk MCP server with the tools echo and wipe, and returns its URL.
func (e *env) startUpstream(t *testing.T) string {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "ops", Version: "1.0.0"}, nil)
	for _, name := range []string{"echo", "wipe"} {
		mcp.AddTool(s, &mcp.Tool{Name: name}, func(_ context.Context, _ *mcp.CallToolRequest, in textIn) (*mcp.CallToolResult, textOut, error) {
			e.mu.Lock()
			e.calls[name]++
			e.mu.Unlock()
			return nil, textOut(in), nil
		})
	}
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(hs.Close)
	return hs.URL
}

func (e *env) called(tool string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[tool]
}

func (e *env) token(t *testing.T, subject string, groups ...string) string {
	t.Helper()
	tok, err := e.dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP client session on a virtual server, asking for a protocol revision ("" the SDK default).
func (e *env) connect(t *testing.T, name, token, revision string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: e.url + virtual.PathPrefix + name,
		HTTPClient: &http.Client{Transport: bearer{token}}, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: revision})
	if err != nil {
		t.Fatalf("connect %s (%q): %v", name, revision, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

var revisions = []struct{ name, ask string }{{"2025-11-25", "2025-11-25"}, {"stateless", ""}}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	slices.Sort(out)
	return out
}

func text(res *mcp.CallToolResult) string {
	if len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// desk registers ops/box (tools echo and wipe, both served upstream) and the virtual server desk exposing them as
// say and erase, granted to the group desk.
func (e *env) desk(t *testing.T) *catalog.Server {
	t.Helper()
	box := &catalog.Server{Name: "ops/box", Governance: catalog.Governance{Description: "Operations box"},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: e.upstream,
			Tools: []catalog.Tool{{Name: "echo", Description: "Echo the text"}, {Name: "wipe", Description: "Wipe the box"}}}}}
	for _, o := range []catalog.Object{box,
		&catalog.VirtualServer{Name: "desk", Tools: []catalog.VirtualTool{
			{Server: "ops/box", Tool: "echo", Alias: "say"}, {Server: "ops/box", Tool: "wipe", Alias: "erase"}}},
		&catalog.Scope{Name: "desk-use", Grants: []catalog.Grant{{Kind: "virtual", Server: "desk",
			Methods: []string{"tools/call"}, Tools: []string{"say", "erase"}}}},
		&catalog.GroupMapping{Group: "desk", Scopes: []string{"desk-use"}},
	} {
		if _, err := e.reg.Create(t.Context(), e.admin, o); err != nil {
			t.Fatalf("create %s %s: %v", o.Kind(), o.Key(), err)
		}
	}
	return box
}

func TestVirtualToolWithdrawnFromTheCatalogIsNotForwarded(t *testing.T) {
	// Invariant: the catalog's tool definitions govern a virtual server: once a tool is taken out of its server
	// version, the virtual server neither lists it nor forwards a call of it (an isError naming the upstream and the
	// tool), although the upstream still serves it; the other tools keep working.
	e := newEnv(t)
	box := e.desk(t)
	withdrawn := *box
	withdrawn.Versions = []catalog.ServerVersion{box.Versions[0]}
	withdrawn.Versions[0].Tools = []catalog.Tool{{Name: "echo", Description: "Echo the text"}}
	if _, err := e.reg.Replace(t.Context(), e.admin, &withdrawn, 0); err != nil {
		t.Fatalf("withdraw wipe: %v", err)
	}
	for _, rev := range revisions {
		t.Run(rev.name, func(t *testing.T) {
			cs := e.connect(t, "desk", e.token(t, "erin", "desk"), rev.ask)
			if got := toolNames(t, cs); !slices.Equal(got, []string{"say"}) {
				t.Errorf("tools %v", got)
			}
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "erase", Arguments: map[string]any{"text": "x"}})
			if err != nil {
				t.Fatalf("erase: %v", err)
			}
			if want := `upstream server ops/box (version 1.0.0) has no tool "wipe" in the catalog`; !res.IsError || text(res) != want {
				t.Errorf("erase: isError %v %q, want %q", res.IsError, text(res), want)
			}
			if n := e.called("wipe"); n != 0 {
				t.Errorf("the upstream ran wipe %d times", n)
			}
			res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "say", Arguments: map[string]any{"text": "hi"}})
			if err != nil || res.IsError {
				t.Fatalf("say: %v %+v", err, res)
			}
		})
	}
}
