package virtual_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/registry/virtual"
)

// env is the virtual servers' runtime over the real stack (clienttest: the embedded MongoDB-compatible store, the
// view, the Rego policy engine with the embedded policy, access control, the registrar), behind the registry API's
// token check, served over HTTP; the upstream is a go-sdk MCP server counting the calls of each tool.
type env struct {
	url      string
	tokens   *clienttest.Registry
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
	r := clienttest.StartWith(t, clienttest.Options{
		Mount: func(p clienttest.Parts) ([]api.Mount, []func(context.Context) error, error) {
			rt, err := virtual.New(virtual.Options{
				Catalog: p.View, Policy: p.Engine, Principal: api.PrincipalFrom, PublicURL: "http://gw.example.com",
				Logger: clienttest.Logger(t),
				Access: func(ctx context.Context, pr identity.Principal) (virtual.Visible, error) {
					return p.Access.ForPolicy(ctx, access.PolicyPrincipal(pr))
				},
			})
			if err != nil {
				return nil, nil, err
			}
			return []api.Mount{{Path: virtual.PathPrefix, Handler: rt, SelfChallenge: true}},
				[]func(context.Context) error{rt.Run}, nil
		}})
	e := &env{url: r.URL, tokens: r, reg: r.Registrar, view: r.View, calls: map[string]int{}, admin: r.Admin()}
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
	return e.tokens.Token(t, subject, groups...)
}

// connect opens an MCP client session on a virtual server, asking for a protocol revision ("" the SDK default).
func (e *env) connect(t *testing.T, name, token, revision string) *mcp.ClientSession {
	t.Helper()
	return clienttest.ConnectMCP(t, e.url+virtual.PathPrefix+name, token, revision, nil)
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

var text = clienttest.Text

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
