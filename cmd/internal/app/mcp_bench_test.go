package app

import (
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/toolserver"
	"github.com/mcpgw/mcpgw/test/mcpserver"
)

// BenchmarkRegistryTools measures one airegistry-tools call end to end over loopback HTTP: the go-sdk client,
// the API's token check, the endpoint, the caller's visible set and the tool itself, in both revisions.
func BenchmarkRegistryTools(b *testing.B) {
	e := newMCPEnv(b)
	tok := e.token(b, "carol", "finance")
	for _, rev := range revisions {
		cs := e.connect(b, toolserver.Path, tok, rev.ask, nil)
		for _, c := range []struct {
			name string
			args map[string]any
		}{
			{"find_tool", map[string]any{"need": "what is the current balance of an account"}},
			{"search_registry", map[string]any{"query": "ledger"}},
			{"list_servers", nil},
		} {
			b.Run(c.name+"/"+rev.name, func(b *testing.B) {
				for b.Loop() {
					if res := call(b, cs, c.name, c.args, nil); res.IsError {
						b.Fatal(text(res))
					}
				}
			})
		}
	}
}

// BenchmarkVirtualServer measures a virtual server's tools/list and a forwarded call against the same call made
// to the upstream directly: the difference is what the virtual server adds (token check, policy decision, one
// more HTTP hop over a pooled upstream session).
func BenchmarkVirtualServer(b *testing.B) {
	e := newMCPEnv(b)
	cs := e.connect(b, finDesk, e.token(b, "erin", "desk"), "2025-11-25", nil)
	args := map[string]any{"account": "acme-ops"}
	b.Run("tools_list", func(b *testing.B) {
		for b.Loop() {
			if _, err := cs.ListTools(b.Context(), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("call_forwarded", func(b *testing.B) {
		for b.Loop() {
			if res := call(b, cs, "balance", args, nil); res.IsError {
				b.Fatal(text(res))
			}
		}
	})
	direct, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1.0.0"}, nil).Connect(b.Context(),
		&mcp.StreamableClientTransport{Endpoint: e.ledger.URL, HTTPClient: http.DefaultClient, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	b.Run("call_direct", func(b *testing.B) {
		for b.Loop() {
			if res := call(b, direct, mcpserver.ToolGetBalance, args, nil); res.IsError {
				b.Fatal(text(res))
			}
		}
	})
}
