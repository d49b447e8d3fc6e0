package policy_test

import (
	"sync"
	"testing"

	"github.com/mcpgw/mcpgw/authz/policy"
)

func TestDecideWhileSetData(t *testing.T) {
	// Invariant: SetData swaps data atomically under concurrent Decide and
	// Visible: every answer comes wholly from one of the two data sets
	// (never an error, never a mix), and the last SetData wins.
	grant := func(tool string) policy.Data {
		return policy.Data{
			Scopes:        []policy.Scope{{Name: "finance-read", Grants: []policy.Grant{{Server: "finance/ledger", Methods: []string{"tools/call"}, Tools: []string{tool}}}}},
			GroupMappings: []policy.GroupMapping{{Group: "finance", Scopes: []string{"finance-read"}}},
		}
	}
	a, b := grant("get_balance"), grant("transfer")
	e := newEngine(t, a)
	in := call(user("finance"), "finance/ledger", "tools/call", "get_balance")
	asset := []policy.Asset{{Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "transfer"}}}

	const readers, rounds = 4, 200
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range rounds {
				d, err := e.Decide(t.Context(), in)
				if err != nil {
					t.Error(err)
					return
				}
				// Under a, the call is allowed by finance-read; under b it
				// is denied and finance-read is not a scope that would
				// allow it.
				if d.Allow != (d.Scope == "finance-read") || (!d.Allow && len(d.RequiredScopes) != 0) {
					t.Errorf("mixed decision: %+v", d)
					return
				}
				vis, err := e.Visible(t.Context(), user("finance"), asset)
				if err != nil {
					t.Error(err)
					return
				}
				if len(vis) != 1 || len(vis[0].Tools) != 1 {
					t.Errorf("visible tools from no single data set: %+v", vis)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range rounds {
			d := a
			if i%2 == 0 {
				d = b
			}
			if err := e.SetData(t.Context(), d); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()

	// The last write (i = rounds-1, odd) was a.
	d, err := e.Decide(t.Context(), in)
	if err != nil || !d.Allow {
		t.Fatalf("after the writes: %+v, %v", d, err)
	}
}
