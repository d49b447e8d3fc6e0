package policy_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcpgw/mcpgw/authz/policy"
)

// The acceptance contract: members of the finance group may call
// get_balance on finance/ledger and are denied transfer, with a challenge
// for the ext_authz answer.
func ExampleEngine_Decide() {
	ctx := context.Background()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		panic(err)
	}

	var scope policy.Scope
	_ = json.Unmarshal([]byte(`{"name":"finance-read","grants":[{"server":"finance/ledger",
		"methods":["tools/list","tools/call"],"tools":["get_balance"]}]}`), &scope)
	var mapping policy.GroupMapping
	_ = json.Unmarshal([]byte(`{"group":"finance","scopes":["finance-read"]}`), &mapping)
	if err := engine.SetData(ctx, policy.Data{Scopes: []policy.Scope{scope}, GroupMappings: []policy.GroupMapping{mapping}}); err != nil {
		panic(err)
	}

	alice := policy.Principal{Issuer: "https://idp.example", Subject: "alice", Groups: []string{"finance"}}
	for _, tool := range []string{"get_balance", "transfer"} {
		d, err := engine.Decide(ctx, policy.Input{
			Principal: alice,
			Target:    policy.Target{Kind: policy.KindServer, Server: "finance/ledger"},
			MCP:       policy.MCP{Method: "tools/call", Name: tool, HTTPMethod: "POST"},
		})
		if err != nil {
			panic(err) // an engine failure: fail closed
		}
		fmt.Println(tool, d.Allow, d.Status, d.Rule)
	}
	// Output:
	// get_balance true 200 grant
	// transfer false 403 default_deny
}

// Visible answers a whole catalog page in one evaluation, with the tools the
// caller may call.
func ExampleEngine_Visible() {
	ctx := context.Background()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		panic(err)
	}
	err = engine.SetData(ctx, policy.Data{
		Scopes: []policy.Scope{{Name: "finance-read", Grants: []policy.Grant{{
			Server: "finance/*", Methods: []string{"tools/call"}, Tools: []string{"get_*"},
		}}}},
		GroupMappings: []policy.GroupMapping{{Group: "finance", Scopes: []string{"finance-read"}}},
	})
	if err != nil {
		panic(err)
	}
	visible, err := engine.Visible(ctx, policy.Principal{Subject: "alice", Groups: []string{"finance"}}, []policy.Asset{
		{Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "transfer"}},
		{Kind: "server", Name: "hr/payroll", Tools: []string{"get_salary"}},
		{Kind: "server", Name: "public/clock", Visibility: "public", Tools: []string{"now"}},
	})
	if err != nil {
		panic(err)
	}
	for _, a := range visible {
		fmt.Println(a.Name, a.Tools)
	}
	// Output:
	// finance/ledger [get_balance]
	// public/clock []
}
