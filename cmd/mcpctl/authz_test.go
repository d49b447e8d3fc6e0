package main

import (
	"strings"
	"testing"
)

func TestAuthzExplain(t *testing.T) {
	// Invariant: explain names the verdict, the rule and the grant check that failed, for the token's caller and
	// (for an admin) for another principal.
	e := start(t)
	e.must(t, "scopes", "register", "-f", writeFile(t, "scope.yaml", `
name: finance-read
grants:
  - server: finance/ledger
    methods: [tools/list, tools/call]
    tools: [get_balance]
`))
	e.must(t, "group-mappings", "register", "-f", writeFile(t, "map.yaml", "group: finance\nscopes: [finance-read]\n"))

	out := e.must(t, "authz", "explain", "--target", "finance/ledger", "--tool", "transfer",
		"--as-issuer", "mcpgw-dev", "--as-subject", "bob", "--as-groups", "finance")
	for _, want := range []string{"DENY (403)", "finance-read", "group", "FAILED", "name   "} {
		if !strings.Contains(out, want) {
			t.Fatalf("explain output lacks %q:\n%s", want, out)
		}
	}
	out = e.must(t, "authz", "explain", "--target", "finance/ledger", "--tool", "get_balance",
		"--as-issuer", "mcpgw-dev", "--as-subject", "bob", "--as-groups", "finance", "-o", "json")
	if !strings.Contains(out, `"allow": true`) {
		t.Fatalf("json output:\n%s", out)
	}
	if _, _, err := e.mcpctl("authz", "explain"); err == nil {
		t.Fatal("explain without --target must fail")
	}
}
