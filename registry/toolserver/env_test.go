package toolserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/toolserver"
)

// env is the airegistry-tools server over the real stack (clienttest: the embedded MongoDB-compatible store, the
// view, the Rego policy engine with the embedded policy, access control, the search index with the built-in
// embedder, the registrar), behind the registry API's token check, served over HTTP.
type env struct {
	url    string
	reg    *registrar.Registrar
	index  *search.Index
	admin  registrar.Actor
	tokens *clienttest.Registry
}

const publicURL = "http://gw.example.com"

func newEnv(t testing.TB) *env {
	t.Helper()
	r := clienttest.StartWith(t, clienttest.Options{Search: true,
		Mount: func(p clienttest.Parts) ([]api.Mount, []func(context.Context) error, error) {
			tools, err := toolserver.New(toolserver.Options{
				Catalog: p.View, Search: p.Index, Principal: api.PrincipalFrom, PublicURL: publicURL,
				Logger: clienttest.Logger(t),
				Access: func(ctx context.Context, pr identity.Principal) (search.Visibility, error) {
					return p.Access.ForPolicy(ctx, access.PolicyPrincipal(pr))
				},
			})
			if err != nil {
				return nil, nil, err
			}
			return []api.Mount{{Path: toolserver.Path, Handler: tools.Handler(), SelfChallenge: true}}, nil, nil
		}})
	return &env{url: r.URL, reg: r.Registrar, index: r.Index, admin: r.Admin(), tokens: r}
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
	return e.tokens.Token(t, subject, groups...)
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
	cs := clienttest.ConnectMCP(t, e.url+toolserver.Path, token, revision, nil)
	if got := cs.InitializeResult().ProtocolVersion; revision != "" && got != revision {
		t.Fatalf("negotiated %q, want %q", got, revision)
	}
	return cs
}

// call calls a tool and decodes its structured result into out (when not nil). It returns the result.
var call = clienttest.CallTool
