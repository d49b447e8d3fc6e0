package extauthz_test

import (
	"context"
	"fmt"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/extauthz"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
)

// A Check server wired to the real collaborators, answering the three calls of the acceptance contract.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mcpgw-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	dev, _ := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{})
	verifier, _ := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}}, identity.Options{})
	engine, _ := policy.New(ctx, policy.Options{})
	_ = engine.SetData(ctx, policy.Data{
		Scopes: []policy.Scope{{Name: "finance-read", Grants: []policy.Grant{{
			Server: "finance/ledger", Methods: []string{"tools/list", "tools/call"}, Tools: []string{"get_balance"}}}}},
		GroupMappings: []policy.GroupMapping{{Group: "finance", Scopes: []string{"finance-read"}}},
	})
	batcher, _ := audit.NewBatcher(discardSink{}, audit.BatcherConfig{}, nil)
	srv, err := extauthz.New(extauthz.Config{PublicBaseURL: "https://gw.example.com"}, extauthz.Deps{
		Verifier: verifier, Decider: engine, Auditor: batcher,
		Catalog: extauthz.CatalogFunc(func(_ context.Context, kind, server, version string) (extauthz.Route, error) {
			if kind == "server" && server == "finance/ledger" {
				return extauthz.Route{Version: "1.0.0"}, nil
			}
			return extauthz.Route{}, extauthz.ErrUnknownTarget
		}),
	})
	if err != nil {
		panic(err)
	}

	token, _ := dev.Issue("alice", []string{"finance"}, time.Hour)
	check := func(auth, tool string) {
		headers := map[string]string{}
		if auth != "" {
			headers["authorization"] = auth
		}
		resp, err := srv.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/mcp/finance/ledger", Headers: headers,
				Body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`,
			}},
			ContextExtensions: map[string]string{"kind": "server", "server": "finance/ledger"},
		}})
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if d := resp.GetDeniedResponse(); d != nil {
			for _, h := range d.GetHeaders() {
				if h.GetHeader().GetKey() == "www-authenticate" {
					fmt.Println(d.GetStatus().GetCode(), h.GetHeader().GetValue())
				}
			}
			return
		}
		fmt.Println("OK", resp.GetOkResponse().GetHeadersToRemove())
	}
	check("Bearer "+token, "get_balance")
	check("Bearer "+token, "transfer")
	check("", "get_balance")
	// Output:
	// OK [authorization]
	// Forbidden Bearer error="insufficient_scope", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp/finance/ledger"
	// Unauthorized Bearer resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp/finance/ledger"
}
