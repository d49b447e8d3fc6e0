package extauthz_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/authz/extauthz"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
)

// TestAcceptanceContract runs the acceptance check of the issue against a Check server on a real loopback
// address: the registry's data is exactly the two documents the check POSTs (scope finance-read, mapping of group
// finance), the tokens are dev-issuer tokens, and context_extensions omit the version.
func TestAcceptanceContract(t *testing.T) {
	// Invariant: get_balance for group finance is OK, transfer is 403, no token is 401 with resource_metadata.
	ctx := context.Background()
	var scope policy.Scope
	var mapping policy.GroupMapping
	if err := json.Unmarshal([]byte(`{"name":"finance-read","grants":[{"server":"finance/ledger","methods":["tools/list","tools/call"],"tools":["get_balance"]}]}`), &scope); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"group":"finance","scopes":["finance-read"]}`), &mapping); err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(ctx, policy.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.SetData(ctx, policy.Data{Scopes: []policy.Scope{scope}, GroupMappings: []policy.GroupMapping{mapping}}); err != nil {
		t.Fatal(err)
	}
	dev, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	audit := &recorder{}
	srv, err := extauthz.New(extauthz.Config{PublicBaseURL: "http://127.0.0.1:10000"}, extauthz.Deps{
		Verifier: verifier, Decider: engine, Catalog: catalog(), Auditor: audit, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	client := serveTCP(t, srv)

	tok, err := dev.Issue("alice", []string{"finance"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ext := map[string]string{"kind": "server", "server": "finance/ledger"}
	check := func(c call) answer {
		t.Helper()
		c.ext = ext
		resp, err := client.Check(ctx, c.request())
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return readAnswer(t, resp)
	}

	if a := check(call{token: tok, body: toolsCall(1, "get_balance", `{"account":"42"}`)}); !a.ok {
		t.Errorf("get_balance: denied %d %s", a.status, a.body)
	}
	if a := check(call{token: tok, body: toolsCall(2, "transfer", `{"to":"x","amount":1}`)}); a.ok || a.status != 403 {
		t.Errorf("transfer: ok=%v status %d, want 403", a.ok, a.status)
	}
	a := check(call{body: toolsCall(3, "get_balance", "")})
	if a.ok || a.status != 401 {
		t.Fatalf("no token: ok=%v status %d, want 401", a.ok, a.status)
	}
	const wantMeta = `resource_metadata="http://127.0.0.1:10000/.well-known/oauth-protected-resource/mcp/finance/ledger"`
	if !strings.Contains(a.headers["www-authenticate"], wantMeta) {
		t.Errorf("no token: WWW-Authenticate %q lacks %s", a.headers["www-authenticate"], wantMeta)
	}
	if recs := audit.take(); len(recs) != 3 || !recs[0].Allow || recs[1].Allow || recs[2].Allow || recs[0].Version != "1.0.0" {
		t.Errorf("audit %+v", recs)
	}
}
