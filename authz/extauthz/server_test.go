package extauthz_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/extauthz"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/policy"
)

const ledgerMetadata = publicBase + "/.well-known/oauth-protected-resource/mcp/finance/ledger"

func TestCheckAllow(t *testing.T) {
	// Invariant: an allowed call is OK with the caller's identity and the decision id set upstream, the caller's
	// token and every client-sent x-mcpgw-* header removed, dynamic metadata naming subject, tool and decision, and
	// one audit record carrying the same decision id.
	e := newEnv(t, envOptions{})
	tok := e.token(t, "alice", []string{"finance", "staff"})
	a := e.check(t, call{token: tok, body: toolsCall(7, "get_balance", `{"account":"42","pin":"1234"}`),
		headers: map[string]string{"x-mcpgw-subject": "root", "x-mcpgw-client-id": "admin-bot", "x-mcpgw-decision-id": "forged"}})
	if !a.ok {
		t.Fatalf("denied %d: %s", a.status, a.body)
	}
	id := a.headers["x-mcpgw-decision-id"]
	if len(id) != 32 || id == "forged" {
		t.Errorf("decision id %q", id)
	}
	if d := cmp.Diff(map[string]string{"x-mcpgw-subject": "alice", "x-mcpgw-decision-id": id}, a.headers); d != "" {
		t.Errorf("upstream headers (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"authorization", "x-mcpgw-client-id"}, a.remove); d != "" {
		t.Errorf("headers to remove (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"subject": "alice", "tool": "get_balance", "decision_id": id, "allow": true}, a.metadata); d != "" {
		t.Errorf("dynamic metadata (-want +got):\n%s", d)
	}
	recs := e.audit.take()
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1", len(recs))
	}
	want := audit.Record{
		Kind: audit.KindDecision, DecisionID: id, RequestID: "req-1",
		Subject: "alice", Groups: []string{"finance", "staff"}, Issuer: identity.DevIssuerID,
		TargetKind: "server", Server: "finance/ledger", Version: "1.0.0",
		Method: "tools/call", Tool: "get_balance", Arguments: map[string]any{"account": "42", "pin": "1234"},
		Allow: true, Rule: "grant",
	}
	if d := cmp.Diff(want, recs[0], cmpopts.IgnoreFields(audit.Record{}, "Time", "Latency", "Reason")); d != "" {
		t.Errorf("audit record (-want +got):\n%s", d)
	}
	if !strings.Contains(recs[0].Reason, "finance-read") || recs[0].Latency <= 0 || recs[0].Time.IsZero() {
		t.Errorf("audit reason %q latency %v time %v", recs[0].Reason, recs[0].Latency, recs[0].Time)
	}
}

func TestCheckForbidden(t *testing.T) {
	// Invariant: a denied call is 403 with a JSON-RPC error echoing the request id, an insufficient_scope challenge
	// naming the scopes that would allow the call (none when no scope would), and a denied audit record.
	e := newEnv(t, envOptions{})
	tok := e.token(t, "alice", []string{"finance"})
	tests := []struct {
		name, body, id, challenge string
		scopes                    []any
	}{
		{"a scope would allow it", toolsCall(8, "transfer", `{"to":"x"}`), "8",
			`Bearer error="insufficient_scope", scope="finance-write", resource_metadata="` + ledgerMetadata + `"`,
			[]any{"finance-write"}},
		{"no scope would allow it", `{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"drop_tables"}}`, `"abc"`,
			`Bearer error="insufficient_scope", resource_metadata="` + ledgerMetadata + `"`, nil},
		{"method not granted", `{"jsonrpc":"2.0","id":9,"method":"resources/list"}`, "9",
			`Bearer error="insufficient_scope", resource_metadata="` + ledgerMetadata + `"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.check(t, call{token: tok, body: tc.body})
			if a.ok || a.status != 403 {
				t.Fatalf("ok=%v status %d, want 403", a.ok, a.status)
			}
			if got := a.headers["www-authenticate"]; got != tc.challenge {
				t.Errorf("challenge\n got %s\nwant %s", got, tc.challenge)
			}
			if a.headers["content-type"] != "application/json" {
				t.Errorf("content type %q", a.headers["content-type"])
			}
			rpc := parseRPCError(t, a.body)
			if string(rpc.ID) != tc.id || rpc.Error.Code != extauthz.CodeForbidden || !strings.HasPrefix(rpc.Error.Message, "Forbidden: ") {
				t.Errorf("body %s", a.body)
			}
			if got, _ := rpc.Error.Data["required_scopes"].([]any); !slices.Equal(got, tc.scopes) {
				t.Errorf("required_scopes %v, want %v", got, tc.scopes)
			}
			if rpc.Error.Data["decision_id"] != a.metadata["decision_id"] {
				t.Errorf("decision id in body %v, metadata %v", rpc.Error.Data["decision_id"], a.metadata["decision_id"])
			}
			recs := e.audit.take()
			if len(recs) != 1 || recs[0].Allow || recs[0].Rule != "default_deny" || recs[0].Subject != "alice" {
				t.Errorf("audit %+v", recs)
			}
		})
	}
}

func TestCheckUnauthenticated(t *testing.T) {
	// Invariant: a missing or unusable token is 401 with a challenge whose resource_metadata is the endpoint's RFC
	// 9728 document (error="invalid_token" and a safe description when a token was sent), a JSON-RPC error echoing
	// the request id, and an audit record without identity or arguments. A 401 wins over a parse error.
	e := newEnv(t, envOptions{})
	expiredIssuer, err := identity.LoadOrCreateDevIssuer(e.dir, identity.DevOptions{Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := expiredIssuer.Issue("alice", []string{"finance"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good := e.token(t, "alice", []string{"finance"})
	tests := []struct {
		name, auth, body, challenge, id string
	}{
		{"no token", "", toolsCall(1, "get_balance", ""),
			`Bearer resource_metadata="` + ledgerMetadata + `"`, "1"},
		{"scheme without token", "Bearer", toolsCall(2, "get_balance", ""),
			`Bearer resource_metadata="` + ledgerMetadata + `"`, "2"},
		{"basic auth", "Basic YWxpY2U6c2VjcmV0", toolsCall(3, "get_balance", ""),
			`Bearer error="invalid_token", error_description="the token is malformed", resource_metadata="` + ledgerMetadata + `"`, "3"},
		{"garbage", "Bearer not.a.jwt", toolsCall(4, "get_balance", ""),
			`Bearer error="invalid_token", error_description="the token is malformed", resource_metadata="` + ledgerMetadata + `"`, "4"},
		{"expired", "Bearer " + expired, toolsCall(5, "get_balance", ""),
			`Bearer error="invalid_token", error_description="the token has expired", resource_metadata="` + ledgerMetadata + `"`, "5"},
		{"wrong audience", "Bearer " + e.token(t, "alice", []string{"finance"}, identity.WithAudience("other-api")), toolsCall(6, "get_balance", ""),
			`Bearer error="invalid_token", error_description="the token is not meant for this resource", resource_metadata="` + ledgerMetadata + `"`, "6"},
		{"tampered", "Bearer " + good[:len(good)-4] + "AAAA", toolsCall(7, "get_balance", ""),
			`Bearer error="invalid_token", error_description="the token's signature is invalid", resource_metadata="` + ledgerMetadata + `"`, "7"},
		{"no token and malformed body", "", `{"jsonrpc":"2.0",`,
			`Bearer resource_metadata="` + ledgerMetadata + `"`, "null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := call{body: tc.body}
			if tc.auth != "" {
				c.headers = map[string]string{"authorization": tc.auth}
			}
			a := e.check(t, c)
			if a.ok || a.status != 401 {
				t.Fatalf("ok=%v status %d, want 401", a.ok, a.status)
			}
			if got := a.headers["www-authenticate"]; got != tc.challenge {
				t.Errorf("challenge\n got %s\nwant %s", got, tc.challenge)
			}
			rpc := parseRPCError(t, a.body)
			if string(rpc.ID) != tc.id || rpc.Error.Code != extauthz.CodeUnauthorized || rpc.Error.Data["resource_metadata"] != ledgerMetadata {
				t.Errorf("body %s", a.body)
			}
			if _, ok := a.metadata["subject"]; ok {
				t.Errorf("metadata names a subject: %v", a.metadata)
			}
			recs := e.audit.take()
			if len(recs) != 1 || recs[0].Allow || recs[0].Rule != "unauthenticated" || recs[0].Subject != "" ||
				recs[0].Arguments != nil || recs[0].Reason == "" {
				t.Errorf("audit %+v", recs)
			}
		})
	}
}

func TestCheckBatch(t *testing.T) {
	// Invariant: every message of a batch must be allowed. A forbidden tools/call hidden behind an allowed one
	// denies the whole request with an error object per request echoing its id, the denied one carrying the reason;
	// all records share one decision id and none says allowed.
	e := newEnv(t, envOptions{})
	tok := e.token(t, "alice", []string{"finance"})

	allowed := "[" + toolsCall(1, "get_balance", "") + "," + `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}` + "]"
	a := e.check(t, call{token: tok, body: allowed})
	if !a.ok {
		t.Fatalf("allowed batch denied: %d %s", a.status, a.body)
	}
	recs := e.audit.take()
	if len(recs) != 2 || !recs[0].Allow || !recs[1].Allow || recs[0].DecisionID != recs[1].DecisionID ||
		recs[1].Method != "notifications/progress" {
		t.Errorf("allowed batch audit %+v", recs)
	}

	hidden := "[" + toolsCall(1, "get_balance", "") + "," + toolsCall(2, "transfer", `{"amount":1000000}`) + "," + toolsCall(3, "get_balance", "") + "]"
	a = e.check(t, call{token: tok, body: hidden})
	if a.ok || a.status != 403 {
		t.Fatalf("batch hiding a forbidden call: ok=%v status %d", a.ok, a.status)
	}
	if !strings.Contains(a.headers["www-authenticate"], `scope="finance-write"`) {
		t.Errorf("challenge %q", a.headers["www-authenticate"])
	}
	var errs []rpcError
	if err := json.Unmarshal([]byte(a.body), &errs); err != nil {
		t.Fatalf("batch body %s: %v", a.body, err)
	}
	if len(errs) != 3 {
		t.Fatalf("%d error objects, want 3: %s", len(errs), a.body)
	}
	for i, want := range []string{"1", "2", "3"} {
		if string(errs[i].ID) != want || errs[i].Error.Code != extauthz.CodeForbidden {
			t.Errorf("error %d: %s", i, a.body)
		}
	}
	if !strings.Contains(errs[1].Error.Message, `"transfer"`) || errs[0].Error.Data["denied_id"] != 2.0 {
		t.Errorf("denied message not identified: %s", a.body)
	}
	recs = e.audit.take()
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if r.Allow || r.DecisionID != recs[0].DecisionID || r.Tool != []string{"get_balance", "transfer", "get_balance"}[i] {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if recs[0].Rule != "grant" || !strings.Contains(recs[0].Reason, "not forwarded") || recs[1].Rule != "default_deny" ||
		recs[2].Rule != "batch" || recs[1].Arguments["amount"] != json.Number("1000000") {
		t.Errorf("records %+v", recs)
	}
}

func TestCheckSessionPlumbing(t *testing.T) {
	// Invariant: the SSE GET, the session DELETE, initialize and notifications follow the policy's plumbing rules:
	// allowed for a caller with any grant on the server, denied for one without.
	e := newEnv(t, envOptions{})
	finance := e.token(t, "alice", []string{"finance"})
	stranger := e.token(t, "mallory", []string{"marketing"})
	session := map[string]string{"mcp-session-id": "s-123", "mcp-protocol-version": "2025-06-18"}
	initialize := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	tests := []struct {
		name    string
		c       call
		allowed bool
	}{
		{"GET stream", call{method: "GET", token: finance, headers: session}, true},
		{"DELETE session", call{method: "DELETE", token: finance, headers: session}, true},
		{"initialize", call{token: finance, body: initialize}, true},
		{"initialized notification", call{token: finance, headers: session, body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`}, true},
		{"GET stream without grants", call{method: "GET", token: stranger, headers: session}, false},
		{"initialize without grants", call{token: stranger, body: initialize}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.check(t, tc.c)
			if a.ok != tc.allowed {
				t.Fatalf("ok=%v status %d body %s", a.ok, a.status, a.body)
			}
			if !tc.allowed {
				if a.status != 403 || parseRPCError(t, a.body).Error.Code != extauthz.CodeForbidden {
					t.Errorf("status %d body %s", a.status, a.body)
				}
			}
			recs := e.audit.take()
			if len(recs) != 1 || recs[0].Allow != tc.allowed {
				t.Errorf("audit %+v", recs)
			}
		})
	}
}

func TestCheckTargets(t *testing.T) {
	// Invariant: the route's target decides the version recorded and whether the token is forwarded; an unknown
	// server is 404 and a retired version 410 (both after authentication); virtual servers are decided by the
	// policy's virtual grants; the registry tools need only an authenticated caller and keep its token.
	e := newEnv(t, envOptions{})
	alice := e.token(t, "alice", []string{"finance"})
	bob := e.token(t, "bob", []string{"ops"})
	ext := func(kind, server, version string) map[string]string {
		return map[string]string{"kind": kind, "server": server, "version": version}
	}
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	tests := []struct {
		name      string
		c         call
		status    int // 0 = OK
		version   string
		keepToken bool
	}{
		{"default version", call{token: alice, body: list, ext: map[string]string{"server": "finance/ledger"}}, 0, "1.0.0", false},
		{"pinned version", call{token: alice, body: list, ext: ext("server", "finance/ledger", "1.0.0")}, 0, "1.0.0", false},
		{"version that forwards the token", call{token: alice, body: list, ext: ext("server", "finance/ledger", "2.0.0")}, 0, "2.0.0", true},
		{"retired version", call{token: alice, body: list, ext: ext("server", "finance/ledger", "0.9.0")}, 410, "0.9.0", false},
		{"unknown server", call{token: alice, body: list, ext: ext("server", "finance/nope", "")}, 404, "", false},
		// The route that catches a pinned version no server route matched names the server and version "from
		// the request": the path and the Mcp-Server-Version header.
		{"unknown pinned version", call{token: alice, body: list, path: "/mcp/finance/ledger/sub?x=1",
			headers: map[string]string{"mcp-server-version": "7.0.0"}, ext: ext("server", "*", "*")}, 404, "7.0.0", false},
		{"retired pinned version", call{token: alice, body: list,
			headers: map[string]string{"mcp-server-version": "0.9.0"}, ext: ext("server", "*", "*")}, 410, "0.9.0", false},
		{"pinned version of an unknown server", call{token: alice, body: list, path: "/mcp/finance/nope",
			headers: map[string]string{"mcp-server-version": "1.0.0"}, ext: ext("server", "*", "*")}, 404, "1.0.0", false},
		{"virtual server allowed", call{token: bob, path: "/virtual/support", body: toolsCall(1, "search_tickets", ""), ext: ext("virtual", "support", "")}, 0, "", false},
		{"virtual server denied", call{token: alice, path: "/virtual/support", body: list, ext: ext("virtual", "support", "")}, 403, "", false},
		{"registry tools", call{token: bob, path: "/airegistry-tools/mcp", body: toolsCall(1, "search_servers", `{"q":"ledger"}`), ext: ext("registry-tools", "airegistry-tools", "")}, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.check(t, tc.c)
			if tc.status == 0 {
				if !a.ok {
					t.Fatalf("denied %d %s", a.status, a.body)
				}
				if kept := !slices.Contains(a.remove, "authorization"); kept != tc.keepToken {
					t.Errorf("token kept=%v, want %v (remove %v)", kept, tc.keepToken, a.remove)
				}
			} else if a.ok || a.status != tc.status {
				t.Fatalf("ok=%v status %d, want %d", a.ok, a.status, tc.status)
			}
			if tc.status == 404 || tc.status == 410 {
				if rpc := parseRPCError(t, a.body); rpc.Error.Code != extauthz.CodeNotFound || string(rpc.ID) != "1" {
					t.Errorf("body %s", a.body)
				}
			}
			recs := e.audit.take()
			if len(recs) != 1 || recs[0].Version != tc.version || recs[0].Allow != (tc.status == 0) || recs[0].Subject == "" {
				t.Errorf("audit %+v", recs)
			}
		})
	}

	// Without a token, an unknown server is still 401 (existence is not revealed), and the registry tools' challenge
	// names their own document.
	a := e.check(t, call{body: list, ext: ext("server", "finance/nope", "")})
	if a.status != 401 || !strings.Contains(a.headers["www-authenticate"], "/.well-known/oauth-protected-resource/mcp/finance/nope") {
		t.Errorf("unknown server without token: %d %v", a.status, a.headers)
	}
	e.audit.take()
	a = e.check(t, call{path: "/airegistry-tools/mcp", body: list, ext: ext("registry-tools", "airegistry-tools", "")})
	if a.status != 401 || !strings.Contains(a.headers["www-authenticate"], `resource_metadata="`+publicBase+`/.well-known/oauth-protected-resource/airegistry-tools/mcp"`) {
		t.Errorf("registry tools without token: %d %v", a.status, a.headers)
	}
}

func TestCheckMachineClient(t *testing.T) {
	// Invariant: a client-credentials principal is decided by its client mapping, sent upstream as
	// x-mcpgw-client-id (no subject), and audited with its client id.
	e := newEnv(t, envOptions{})
	tok := e.token(t, "ledger-sync", nil, identity.WithClientID("ledger-sync"))
	a := e.check(t, call{token: tok, body: toolsCall(1, "get_balance", "")})
	if !a.ok {
		t.Fatalf("denied %d %s", a.status, a.body)
	}
	if a.headers["x-mcpgw-client-id"] != "ledger-sync" || a.headers["x-mcpgw-subject"] != "" {
		t.Errorf("headers %v", a.headers)
	}
	if a.metadata["subject"] != "ledger-sync" || a.metadata["client"] != "ledger-sync" {
		t.Errorf("metadata %v", a.metadata)
	}
	recs := e.audit.take()
	if len(recs) != 1 || recs[0].Subject != "" || recs[0].Client != "ledger-sync" {
		t.Errorf("audit %+v", recs)
	}
}

func TestCheckMalformed(t *testing.T) {
	// Invariant: with a valid token, a request the MCP parser refuses is an explicit denial with the parser's status
	// and JSON-RPC error, never OK; its audit record names the caller but keeps no arguments.
	e := newEnv(t, envOptions{})
	tok := e.token(t, "alice", []string{"finance"})
	stateless := map[string]string{"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "get_balance"}
	tests := []struct {
		name    string
		c       call
		status  int
		code    int
		idEcho  string
		headers map[string]string
	}{
		{"not JSON", call{token: tok, body: `{"jsonrpc":"2.0","id":1,`}, 400, mcp.CodeParseError, "null", nil},
		{"duplicate key", call{token: tok, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance","name":"transfer"}}`}, 400, mcp.CodeParseError, "null", nil},
		{"not JSON-RPC", call{token: tok, body: `{"id":1,"method":"tools/call"}`}, 400, mcp.CodeInvalidRequest, "1", nil},
		{"empty body", call{token: tok}, 400, mcp.CodeParseError, "null", nil},
		{"PUT", call{token: tok, method: "PUT", body: toolsCall(1, "get_balance", "")}, 405, mcp.CodeInvalidRequest, "null", nil},
		{"header disagrees with body", call{token: tok, headers: stateless,
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"transfer","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
			400, mcp.CodeHeaderMismatch, "1", nil},
		{"too large", call{token: tok, body: toolsCall(1, "get_balance", `{"blob":"`+strings.Repeat("x", mcp.DefaultMaxBodyBytes)+`"}`)}, 413, mcp.CodeInvalidRequest, "null", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.check(t, tc.c)
			if a.ok || a.status != tc.status {
				t.Fatalf("ok=%v status %d, want %d", a.ok, a.status, tc.status)
			}
			rpc := parseRPCError(t, a.body)
			if rpc.Error.Code != tc.code || string(rpc.ID) != tc.idEcho {
				t.Errorf("body %s, want code %d id %s", a.body, tc.code, tc.idEcho)
			}
			recs := e.audit.take()
			if len(recs) != 1 || recs[0].Allow || recs[0].Rule != "bad_request" || recs[0].Subject != "alice" || recs[0].Arguments != nil {
				t.Errorf("audit %+v", recs)
			}
		})
	}
}

func TestCheckFailsClosed(t *testing.T) {
	// Invariant: when the server cannot decide (no HTTP attributes, a route without a target or with an unknown
	// kind, the catalog or the policy engine failing, the issuer's keys unreachable) Check returns a gRPC error,
	// never an OK, and the failure is audited when a request was read.
	dir := t.TempDir()
	// A deny rule whose builtin fails at evaluation: with strict builtin errors the engine cannot decide.
	if err := os.WriteFile(filepath.Join(dir, "boom.rego"), []byte(`package mcpgw.authz

deny contains "boom" if {
	input.mcp.name == "boom"
	to_number(input.mcp.name) > 0
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// An issuer whose key set lives at a closed port.
	lost, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{Issuer: "http://127.0.0.1:9/lost"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{policyDir: dir, issuers: []identity.IssuerConfig{{
		Name: "lost", Issuer: "http://127.0.0.1:9/lost", JWKSURI: "http://127.0.0.1:9/lost/jwks.json", Audiences: []string{identity.DevAudience},
	}}})
	lostToken, err := lost.Issue("alice", []string{"finance"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, "alice", []string{"finance"})

	tests := []struct {
		name    string
		req     *authv3.CheckRequest
		code    codes.Code
		audited bool
	}{
		{"no HTTP attributes", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}, codes.InvalidArgument, false},
		{"route without server", call{token: tok, body: toolsCall(1, "get_balance", ""), ext: map[string]string{"kind": "server"}}.request(), codes.FailedPrecondition, false},
		{"unknown route kind", call{token: tok, body: toolsCall(1, "get_balance", ""), ext: map[string]string{"kind": "agent", "server": "a/b"}}.request(), codes.FailedPrecondition, false},
		{"catalog failure", call{token: tok, body: toolsCall(1, "get_balance", ""), ext: map[string]string{"server": "broken/catalog"}}.request(), codes.Internal, true},
		{"policy evaluation error", call{token: tok, body: toolsCall(1, "boom", "")}.request(), codes.Internal, true},
		{"issuer keys unavailable", call{token: lostToken, body: toolsCall(1, "get_balance", "")}.request(), codes.Unavailable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.client.Check(context.Background(), tc.req)
			if status.Code(err) != tc.code || resp != nil {
				t.Fatalf("Check = %v, %v; want gRPC %v", resp, err, tc.code)
			}
			if strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "to_number") {
				t.Errorf("internal detail in gRPC error: %v", err)
			}
			recs := e.audit.take()
			if tc.audited != (len(recs) == 1) || (tc.audited && (recs[0].Allow || recs[0].Rule != "error")) {
				t.Errorf("audit %+v", recs)
			}
		})
	}
	// The engine still decides other calls.
	if a := e.check(t, call{token: tok, body: toolsCall(1, "get_balance", "")}); !a.ok {
		t.Errorf("after failures: %d %s", a.status, a.body)
	}
}

// blockingSink is a store that never finishes a write until released.
type blockingSink struct{ release chan struct{} }

func (s blockingSink) InsertAudit(ctx context.Context, _ []audit.Record) error {
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestCheckNeverWaitsOnAudit(t *testing.T) {
	// Invariant: Check answers while the audit store is stuck: the real Batcher takes records without blocking
	// and drops (and counts) what its buffer cannot hold.
	sink := blockingSink{release: make(chan struct{})}
	b, err := audit.NewBatcher(sink, audit.BatcherConfig{Buffer: 4, BatchSize: 2}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Run(ctx) })
	defer func() {
		close(sink.release)
		cancel()
		wg.Wait()
	}()
	e := newEnv(t, envOptions{auditor: b})
	tok := e.token(t, "alice", []string{"finance"})
	for i := range 50 {
		if a := e.check(t, call{token: tok, body: toolsCall(i, "get_balance", "")}); !a.ok {
			t.Fatalf("check %d denied: %d", i, a.status)
		}
	}
	st := b.Stats()
	if st.Submitted+st.Dropped != 50 || st.Dropped == 0 {
		t.Errorf("stats %+v: want 50 records offered and some dropped", st)
	}
}

func TestNewValidates(t *testing.T) {
	// Invariant: New refuses a bad configuration or a missing collaborator with ErrInvalidConfig.
	deps := extauthz.Deps{Verifier: verifierFunc(nil), Decider: nil, Catalog: catalog(), Auditor: &recorder{}}
	if _, err := extauthz.New(extauthz.Config{PublicBaseURL: publicBase}, deps); !errors.Is(err, extauthz.ErrInvalidConfig) {
		t.Errorf("missing decider: %v", err)
	}
	tests := []extauthz.Config{
		{},
		{PublicBaseURL: "gw.example.com"},
		{PublicBaseURL: publicBase, RequestIDHeader: "x request id"},
		{PublicBaseURL: publicBase, MCP: mcp.Config{MaxDepth: 100000}},
	}
	for _, cfg := range tests {
		if err := cfg.Validate(); !errors.Is(err, extauthz.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
	if err := (extauthz.Config{PublicBaseURL: publicBase, RequestIDHeader: "X-Correlation-ID"}).Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
}

type verifierFunc func(ctx context.Context, raw string) (identity.Principal, error)

func (f verifierFunc) Verify(ctx context.Context, raw string) (identity.Principal, error) {
	return f(ctx, raw)
}

func TestCheckCompletionFollowsPromptFilter(t *testing.T) {
	// Invariant: completion/complete for a prompt argument is decided with the prompt filter of the caller's grants,
	// as prompts/get would be: the policy input names what the completion refers to.
	e := newEnv(t, envOptions{})
	var docs policy.Scope
	if err := json.Unmarshal([]byte(`{"name":"ledger-prompts","grants":[{"server":"finance/ledger",
		"methods":["prompts/get","completion/complete"],"tools":["prompt:statement"]}]}`), &docs); err != nil {
		t.Fatal(err)
	}
	data := testData(t)
	data.Scopes = append(data.Scopes, docs)
	data.GroupMappings = append(data.GroupMappings, policy.GroupMapping{Group: "writers", Scopes: []string{"ledger-prompts"}})
	if err := e.engine.SetData(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, "wendy", []string{"writers"})
	complete := func(prompt string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":%q},"argument":{"name":"month","value":"ja"}}}`, prompt)
	}
	if a := e.check(t, call{token: tok, body: complete("statement")}); !a.ok {
		t.Fatalf("completion for an allowed prompt: %d %s", a.status, a.body)
	}
	if a := e.check(t, call{token: tok, body: complete("payroll")}); a.ok || a.status != 403 {
		t.Fatalf("completion for a prompt outside the filter: ok=%v %d %s", a.ok, a.status, a.body)
	}
}
