package policy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgw/mcpgw/authz/policy"
)

func TestDecisionMemo(t *testing.T) {
	// Invariant: the default policy's decisions are cached and a cached answer equals a fresh evaluation; a data
	// change starts a fresh cache; an override that reads the call's arguments turns the cache off.
	ctx := t.Context()
	e, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Memoized() {
		t.Fatal("the default policy should be memoizable")
	}
	data := policy.Data{Scopes: []policy.Scope{{Name: "fin", Grants: []policy.Grant{{Server: "finance/ledger",
		Methods: []string{"tools/call"}, Tools: []string{"get_balance"}}}}},
		GroupMappings: []policy.GroupMapping{{Group: "finance", Scopes: []string{"fin"}}}}
	if err := e.SetData(ctx, data); err != nil {
		t.Fatal(err)
	}
	in := policy.Input{Principal: policy.Principal{Issuer: "i", Subject: "u", Groups: []string{"finance"}},
		Target: policy.Target{Kind: "server", Server: "finance/ledger"},
		MCP:    policy.MCP{Method: "tools/call", Name: "get_balance", HTTPMethod: "POST"}}
	for range 3 {
		d, err := e.Decide(ctx, in)
		if err != nil || !d.Allow {
			t.Fatalf("decide: %+v %v", d, err)
		}
	}
	in.MCP.Name = "transfer"
	if d, _ := e.Decide(ctx, in); d.Allow {
		t.Fatal("transfer allowed")
	}
	data.Scopes[0].Grants[0].Tools = []string{"*"}
	if err := e.SetData(ctx, data); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide(ctx, in); !d.Allow {
		t.Fatal("a data change must not be hidden by the cache")
	}

	dir := t.TempDir()
	override := `package mcpgw.authz

deny contains "large transfers need approval" if input.mcp.arguments.amount > 1000
`
	if err := os.WriteFile(filepath.Join(dir, "limits.rego"), []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	e2, err := policy.New(ctx, policy.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Memoized() {
		t.Fatal("a policy reading arguments must not be memoized")
	}
	if err := e2.SetData(ctx, data); err != nil {
		t.Fatal(err)
	}
	in.MCP.Arguments = map[string]any{"amount": 10}
	if d, _ := e2.Decide(ctx, in); !d.Allow {
		t.Fatalf("small transfer: %+v", d)
	}
	in.MCP.Arguments = map[string]any{"amount": 5000}
	if d, _ := e2.Decide(ctx, in); d.Allow {
		t.Fatal("large transfer allowed: arguments were ignored")
	}
}
