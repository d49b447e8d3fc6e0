package policy_test

import (
	"errors"
	"testing"

	"github.com/mcpgw/mcpgw/authz/policy"
)

// FuzzDecide feeds caller-controlled strings (method, name, server, groups,
// token scopes) through the policy. Invariant: the engine never fails on
// them (an engine error would fail every such request closed), only
// ErrInvalidInput is returned, and allow always pairs with status 200.
func FuzzDecide(f *testing.F) {
	f.Add("finance", "finance/ledger", "tools/call", "get_balance", "finance-read", "POST")
	f.Add("treasury", "finance/*", "tools/*", "get_*", "", "GET")
	f.Add("writers", "docs/wiki", "resources/read", "wiki://public/[", "mcpgw-admin", "")
	f.Add("", "", "", "", "", "DELETE")
	f.Add("mcpgw-admins", "a/b", "notifications/\x00", "\xff", "{", "POST")
	e := newEngine(f, testData(f))
	f.Fuzz(func(t *testing.T, group, server, method, name, scope, httpMethod string) {
		p := policy.Principal{Issuer: "https://corp.example", Subject: "fuzz", Groups: []string{group}, Scopes: []string{scope}}
		d, err := e.Decide(t.Context(), policy.Input{
			Principal: p,
			Target:    policy.Target{Server: server},
			MCP:       policy.MCP{Method: method, Name: name, HTTPMethod: httpMethod},
		})
		if err != nil {
			if !errors.Is(err, policy.ErrInvalidInput) {
				t.Fatalf("engine failure: %v", err)
			}
			return
		}
		if d.Allow != (d.Status == 200) || d.Reason == "" {
			t.Fatalf("inconsistent decision %+v", d)
		}
		if _, err := e.Visible(t.Context(), p, []policy.Asset{{Kind: "server", Name: server + "x", Tools: []string{name}}}); err != nil {
			t.Fatalf("visible: %v", err)
		}
	})
}
