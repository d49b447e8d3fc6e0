package extauthz_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/mcpgw/mcpgw/authz/mcp"
)

// FuzzCheck feeds arbitrary methods, MCP headers, bodies, tokens and routes to Check. It must never panic; every
// failure must be a gRPC status; every denial must carry a JSON body; and a request the MCP parser refuses must
// never be answered OK.
func FuzzCheck(f *testing.F) {
	e := newEnv(f, envOptions{quiet: true})
	tok := e.token(f, "alice", []string{"finance", "ops"})
	parser, err := mcp.NewParser(mcp.Config{})
	if err != nil {
		f.Fatal(err)
	}
	seeds := []struct {
		method, body, mcpMethod, mcpName, version, session string
		auth                                               uint8
		kind, server, ver                                  string
	}{
		{"POST", toolsCall(1, "get_balance", `{"a":1}`), "", "", "", "", 1, "server", "finance/ledger", ""},
		{"POST", toolsCall(1, "transfer", ""), "", "", "2025-06-18", "s1", 1, "server", "finance/ledger", "2.0.0"},
		{"POST", "[" + toolsCall(1, "get_balance", "") + "," + toolsCall(2, "transfer", "") + "]", "", "", "", "", 1, "", "finance/ledger", ""},
		{"POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			"tools/call", "get_balance", "2026-07-28", "", 1, "server", "finance/ledger", ""},
		{"POST", "", "tools/call", "=?base64?Z2V0X2JhbGFuY2U=?=", "2026-07-28", "", 1, "server", "finance/ledger", ""},
		{"GET", "", "", "", "2025-06-18", "s1", 1, "virtual", "support", ""},
		{"DELETE", "", "", "", "", "s1", 2, "registry-tools", "airegistry-tools", ""},
		{"POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance","name":"transfer"}}`, "", "", "", "", 1, "server", "finance/ledger", ""},
		{"POST", `[{"jsonrpc":"2.0","id":1,"result":{}}]`, "", "", "", "", 0, "server", "finance/ledger", ""},
		{"PUT", "{}", "", "", "", "", 3, "agent", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, []byte(s.body), s.mcpMethod, s.mcpName, s.version, s.session, s.auth, s.kind, s.server, s.ver)
	}
	f.Fuzz(func(t *testing.T, method string, body []byte, mcpMethod, mcpName, version, session string, auth uint8,
		kind, server, ver string) {
		headers := map[string]string{}
		for k, v := range map[string]string{"mcp-method": mcpMethod, "mcp-name": mcpName, "mcp-protocol-version": version, "mcp-session-id": session} {
			if v != "" {
				headers[k] = v
			}
		}
		switch auth % 4 {
		case 1:
			headers["authorization"] = "Bearer " + tok
		case 2:
			headers["authorization"] = "Bearer " + tok[:len(tok)/2]
		case 3:
			headers["authorization"] = string(body)
		}
		ext := map[string]string{}
		for k, v := range map[string]string{"kind": kind, "server": server, "version": ver} {
			if v != "" {
				ext[k] = v
			}
		}
		c := call{method: method, path: "/mcp/x", body: string(body), ext: ext, headers: headers}
		req := c.request()
		resp, err := e.srv.Check(context.Background(), req)
		if err != nil {
			if _, ok := status.FromError(err); !ok || resp != nil {
				t.Fatalf("Check = %v, %v: not a gRPC status error", resp, err)
			}
			return
		}
		h := req.GetAttributes().GetRequest().GetHttp()
		_, perr := parser.Parse(mcp.Input{Method: h.GetMethod(), Path: h.GetPath(), Headers: h.GetHeaders(), Body: h.GetRawBody(),
			ContextExtensions: ext})
		if ok := resp.GetOkResponse(); ok != nil {
			var bad *mcp.Error
			if errors.As(perr, &bad) {
				t.Fatalf("OK for a request the parser refuses (%v): %s", perr, body)
			}
			if perr != nil {
				t.Fatalf("OK for a request that does not parse: %v", perr)
			}
			return
		}
		denied := resp.GetDeniedResponse()
		if denied == nil {
			t.Fatalf("neither OK nor denied: %v", resp)
		}
		if !json.Valid([]byte(denied.GetBody())) {
			t.Fatalf("denial %d with a body that is not JSON: %q", denied.GetStatus().GetCode(), denied.GetBody())
		}
		e.audit.take()
	})
}
