package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	// Invariant: explain shows the decision and the grant checks that led to it; a caller explains its own calls,
	// only an admin explains another principal's.
	e := newEnv(t)
	e.do(t, http.MethodPost, "/api/v1/scopes", map[string]any{"name": "finance-read", "grants": []map[string]any{{
		"server": "finance/ledger", "methods": []string{"tools/list", "tools/call"}, "tools": []string{"get_balance"}}}})
	e.do(t, http.MethodPost, "/api/v1/group-mappings", map[string]any{"group": "finance", "scopes": []string{"finance-read"}})
	bob := e.token(t, "bob", "finance")

	call := func(tool string) map[string]any {
		return map[string]any{"target": map[string]any{"kind": "server", "server": "finance/ledger"},
			"mcp": map[string]any{"method": "tools/call", "name": tool}}
	}
	var ex struct {
		Decision struct {
			Allow          bool     `json:"allow"`
			Rule           string   `json:"rule"`
			RequiredScopes []string `json:"required_scopes"`
		} `json:"decision"`
		Grants []struct {
			Scope  string   `json:"scope"`
			Failed []string `json:"failed"`
		} `json:"grants"`
	}
	r := e.do(t, http.MethodPost, "/api/v1/authz/explain", call("get_balance"), as(bob))
	if r.Status != http.StatusOK {
		t.Fatalf("explain: %d %s", r.Status, r.Body)
	}
	r.decode(t, &ex)
	if !ex.Decision.Allow || ex.Decision.Rule != "grant" {
		t.Fatalf("get_balance: %+v", ex.Decision)
	}
	r = e.do(t, http.MethodPost, "/api/v1/authz/explain", call("transfer"), as(bob))
	r.decode(t, &ex)
	if ex.Decision.Allow || len(ex.Grants) != 1 || !slices.Contains(ex.Grants[0].Failed, "name") {
		t.Fatalf("transfer: %+v grants %+v", ex.Decision, ex.Grants)
	}

	other := call("get_balance")
	other["principal"] = map[string]any{"issuer": "mcpgw-dev", "subject": "carol", "groups": []string{"finance"}}
	if r := e.do(t, http.MethodPost, "/api/v1/authz/explain", other, as(bob)); r.Status != http.StatusForbidden {
		t.Fatalf("non-admin explaining for another: %d", r.Status)
	}
	r = e.do(t, http.MethodPost, "/api/v1/authz/explain", other)
	r.decode(t, &ex)
	if r.Status != http.StatusOK || !ex.Decision.Allow {
		t.Fatalf("admin explaining for carol: %d %+v", r.Status, ex.Decision)
	}
	if r := e.do(t, http.MethodPost, "/api/v1/authz/explain", `{"target":{},"mcp":{}}`, as(bob)); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("no server: %d", r.Status)
	}
	// A kind no gateway route carries is the caller's mistake, named as such, not a server error.
	r = e.do(t, http.MethodPost, "/api/v1/authz/explain", `{"target":{"kind":"agent","server":"finance/ledger"},"mcp":{"method":"tools/call"}}`, as(bob))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"field":"target.kind"`) {
		t.Fatalf("unknown kind: %d %s", r.Status, r.Body)
	}
}
