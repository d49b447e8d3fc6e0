package extauthz

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/policy"
)

const meta = "https://gw.example/.well-known/oauth-protected-resource/mcp/finance/ledger"

func parse(t *testing.T, body string) *mcp.Request {
	t.Helper()
	p, err := mcp.NewParser(mcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Parse(mcp.Input{Method: "POST", Body: []byte(body),
		ContextExtensions: map[string]string{"kind": "server", "server": "finance/ledger"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func opt(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
}

func structOf(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func denied(status int, code codes.Code, body string, meta *structpb.Struct, headers ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: append([]*corev3.HeaderValueOption{opt("content-type", "application/json")}, headers...),
			Body:    body,
		}},
		DynamicMetadata: meta,
	}
}

func TestAllowResponse(t *testing.T) {
	// Invariant: an allow sets the caller's identity, the decision id and the policy's headers upstream (sorted,
	// overwriting), never lets a client-sent x-mcpgw-* header or (unless forwarded) the token through, and refuses
	// a header an identity claim made unsendable.
	alice := identity.Principal{Issuer: "https://idp", Subject: "alice", AuthorizedParty: "claude-code", Groups: []string{"finance"}}
	bot := identity.Principal{Issuer: "https://idp", ClientID: "ledger-sync", AuthorizedParty: "ledger-sync"}
	r := parse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance"}}`)
	grant := policy.Decision{Allow: true, Status: 200, Rule: "grant", Headers: map[string]string{"x-mcpgw-subject": "alice", "X-Tenant": "acme"}}
	tests := []struct {
		name      string
		p         identity.Principal
		decisions []policy.Decision
		forward   bool
		req       map[string]string
		want      *authv3.OkHttpResponse
		meta      map[string]any
		err       bool
	}{
		{
			name: "user", p: alice, decisions: []policy.Decision{grant},
			req: map[string]string{"authorization": "Bearer x", "x-mcpgw-client-id": "root", "x-mcpgw-subject": "root", "x-other": "1"},
			want: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{
					opt("x-mcpgw-decision-id", "d1"), opt("x-mcpgw-subject", "alice"), opt("x-tenant", "acme"),
				},
				HeadersToRemove: []string{"authorization", "x-mcpgw-client-id"},
			},
			meta: map[string]any{"decision_id": "d1", "allow": true, "subject": "alice", "client": "claude-code", "tool": "get_balance"},
		},
		{
			name: "machine with forwarded token", p: bot, decisions: []policy.Decision{{Allow: true}}, forward: true,
			req: map[string]string{"authorization": "Bearer x", "x-mcpgw-decision-id": "forged"},
			want: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{opt("x-mcpgw-client-id", "ledger-sync"), opt("x-mcpgw-decision-id", "d1")},
			},
			meta: map[string]any{"decision_id": "d1", "allow": true, "subject": "ledger-sync", "client": "ledger-sync", "tool": "get_balance"},
		},
		{
			name: "policy cannot forge the decision id", p: alice,
			decisions: []policy.Decision{{Allow: true, Headers: map[string]string{"X-MCPGW-Decision-ID": "policy"}}},
			want: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{opt("x-mcpgw-decision-id", "d1"), opt("x-mcpgw-subject", "alice")},
			},
			meta: map[string]any{"decision_id": "d1", "allow": true, "subject": "alice", "client": "claude-code", "tool": "get_balance"},
		},
		{name: "subject with a line break", p: identity.Principal{Subject: "alice\r\nx-mcpgw-client-id: root"}, err: true},
		{name: "subject with a NUL", p: identity.Principal{Subject: "alice\x00"}, err: true},
		{name: "policy header with a bad name", p: alice, decisions: []policy.Decision{{Allow: true, Headers: map[string]string{"x bad": "1"}}}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := allowResponse(tc.p, tc.decisions, tc.forward, tc.req, r, "d1")
			if tc.err {
				if err == nil {
					t.Fatalf("allowResponse = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &authv3.CheckResponse{
				Status:          &rpcstatus.Status{Code: int32(codes.OK)},
				HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: tc.want},
				DynamicMetadata: structOf(t, tc.meta),
			}
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestUnauthorizedResponse(t *testing.T) {
	// Invariant: 401 challenges carry resource_metadata; only a presented token gets error="invalid_token", with a
	// description chosen from the sentinel and never the error text; the body echoes the request's id(s).
	single := parse(t, `{"jsonrpc":"2.0","id":"a","method":"tools/list"}`)
	batch := parse(t, `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"ping"}]`)
	md := structOf(t, map[string]any{"decision_id": "d1", "allow": false})
	data := `"data":{"resource_metadata":"` + meta + `","decision_id":"d1"}`
	tests := []struct {
		name string
		err  error
		r    *mcp.Request
		want *authv3.CheckResponse
	}{
		{"no token", identity.ErrNoToken, single, denied(401, codes.Unauthenticated,
			`{"jsonrpc":"2.0","id":"a","error":{"code":-32033,"message":"Unauthorized: a bearer token is required",`+data+`}}`, md,
			opt("www-authenticate", `Bearer resource_metadata="`+meta+`"`))},
		{"expired, request not parsed", fmt.Errorf("verify token of issuer 10.1.2.3: %w", identity.ErrExpired), nil, denied(401, codes.Unauthenticated,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32033,"message":"Unauthorized: the token has expired",`+data+`}}`, md,
			opt("www-authenticate", `Bearer error="invalid_token", error_description="the token has expired", resource_metadata="`+meta+`"`))},
		{"unknown key in a batch", identity.ErrUnknownKey, batch, denied(401, codes.Unauthenticated,
			`[{"jsonrpc":"2.0","id":1,"error":{"code":-32033,"message":"Unauthorized: the token's signing key is unknown",`+data+`}},`+
				`{"jsonrpc":"2.0","id":2,"error":{"code":-32033,"message":"Unauthorized: the token's signing key is unknown",`+data+`}}]`, md,
			opt("www-authenticate", `Bearer error="invalid_token", error_description="the token's signing key is unknown", resource_metadata="`+meta+`"`))},
		{"unclassified token fault", identity.ErrInvalidToken, single, denied(401, codes.Unauthenticated,
			`{"jsonrpc":"2.0","id":"a","error":{"code":-32033,"message":"Unauthorized: the token is invalid",`+data+`}}`, md,
			opt("www-authenticate", `Bearer error="invalid_token", error_description="the token is invalid", resource_metadata="`+meta+`"`))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := unauthorizedResponse(tc.err, tc.r, meta, "d1")
			if d := cmp.Diff(tc.want, got, protocmp.Transform()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if !json.Valid([]byte(got.GetDeniedResponse().GetBody())) {
				t.Errorf("body is not JSON")
			}
		})
	}
	// Every sentinel has its own description.
	seen := map[string]error{}
	for _, f := range tokenFaults {
		if prev, dup := seen[f.desc]; dup {
			t.Errorf("%v and %v share the description %q", prev, f.err, f.desc)
		}
		seen[f.desc] = f.err
		if !errors.Is(f.err, identity.ErrInvalidToken) {
			t.Errorf("%v is not a token fault", f.err)
		}
	}
}

func TestForbiddenResponse(t *testing.T) {
	// Invariant: a 403 names every scope that would allow the call in one insufficient_scope challenge, keeps the
	// policy's other denial headers, and echoes the denied message's id; in a batch every request gets an error
	// object pointing at the denied one.
	deny := policy.Decision{Status: 403, Rule: "default_deny", Reason: `tools/call of "transfer" denied`,
		RequiredScopes: []string{"finance-admin", "finance-write"},
		Headers:        map[string]string{"www-authenticate": `Bearer error="insufficient_scope"`, "X-Policy": "v7", "x bad": "dropped"}}
	alice := identity.Principal{Subject: "alice"}
	challenge := `Bearer error="insufficient_scope", scope="finance-admin finance-write", resource_metadata="` + meta + `"`
	data := `"data":{"required_scopes":["finance-admin","finance-write"],"decision_id":"d1"}`
	tests := []struct {
		name   string
		r      *mcp.Request
		denied int
		d      policy.Decision
		want   *authv3.CheckResponse
	}{
		{"single call", parse(t, `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"transfer"}}`), 0, deny,
			denied(403, codes.PermissionDenied,
				`{"jsonrpc":"2.0","id":42,"error":{"code":-32034,"message":"Forbidden: tools/call of \"transfer\" denied",`+data+`}}`,
				structOf(t, map[string]any{"decision_id": "d1", "allow": false, "subject": "alice", "tool": "transfer"}),
				opt("www-authenticate", challenge), opt("x-policy", "v7"))},
		{"no scope would allow it", parse(t, `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"transfer"}}`), 0,
			policy.Decision{Status: 403, Reason: "no"},
			denied(403, codes.PermissionDenied,
				`{"jsonrpc":"2.0","id":42,"error":{"code":-32034,"message":"Forbidden: no","data":{"decision_id":"d1"}}}`,
				structOf(t, map[string]any{"decision_id": "d1", "allow": false, "subject": "alice", "tool": "transfer"}),
				opt("www-authenticate", `Bearer error="insufficient_scope", resource_metadata="`+meta+`"`))},
		{"batch", parse(t, `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_balance"}},{"jsonrpc":"2.0","method":"notifications/progress"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"transfer"}}]`), 2, deny,
			denied(403, codes.PermissionDenied,
				`[{"jsonrpc":"2.0","id":1,"error":{"code":-32034,"message":"Forbidden: the batch was refused because another of its messages was denied: tools/call of \"transfer\" denied","data":{"decision_id":"d1","denied_id":2}}},`+
					`{"jsonrpc":"2.0","id":2,"error":{"code":-32034,"message":"Forbidden: tools/call of \"transfer\" denied",`+data+`}}]`,
				structOf(t, map[string]any{"decision_id": "d1", "allow": false, "subject": "alice", "tool": "get_balance,transfer"}),
				opt("www-authenticate", challenge), opt("x-policy", "v7"))},
		{"batch denied at a notification", parse(t, `[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":5,"method":"ping"}]`), 0,
			policy.Decision{Status: 403, Reason: "no grant"},
			denied(403, codes.PermissionDenied,
				`[{"jsonrpc":"2.0","id":5,"error":{"code":-32034,"message":"Forbidden: the batch was refused because another of its messages was denied: no grant","data":{"decision_id":"d1"}}}]`,
				structOf(t, map[string]any{"decision_id": "d1", "allow": false, "subject": "alice"}),
				opt("www-authenticate", `Bearer error="insufficient_scope", resource_metadata="`+meta+`"`))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := forbiddenResponse(tc.r, tc.denied, tc.d, alice, meta, "d1")
			if d := cmp.Diff(tc.want, got, protocmp.Transform()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if !json.Valid([]byte(got.GetDeniedResponse().GetBody())) {
				t.Errorf("body is not JSON: %s", got.GetDeniedResponse().GetBody())
			}
		})
	}
}

func TestBearer(t *testing.T) {
	// Invariant: challenge parameters are quoted-strings: quotes and backslashes escaped, control characters
	// dropped, so no value can end the parameter or split the header.
	tests := []struct {
		params []string
		want   string
	}{
		{nil, "Bearer"},
		{[]string{"resource_metadata", "https://x/y"}, `Bearer resource_metadata="https://x/y"`},
		{[]string{"error", "invalid_token", "error_description", `a "b" \c`}, `Bearer error="invalid_token", error_description="a \"b\" \\c"`},
		{[]string{"scope", "a\r\nSet-Cookie: x"}, `Bearer scope="aSet-Cookie: x"`},
	}
	for _, tc := range tests {
		if got := bearer(tc.params...); got != tc.want {
			t.Errorf("bearer(%q) = %s, want %s", tc.params, got, tc.want)
		}
		if !headerValue(bearer(tc.params...)) {
			t.Errorf("bearer(%q) is not a valid header value", tc.params)
		}
	}
}

func TestHTTPInput(t *testing.T) {
	// Invariant: the parser sees lower-cased headers whichever way Envoy encoded them (repeated header_map entries
	// joined), the raw body in preference to the string body, and the route's context_extensions; a request without
	// HTTP attributes or with an unknown route kind is refused.
	ext := map[string]string{"kind": "virtual", "server": "support"}
	req := func(h *authv3.AttributeContext_HttpRequest, ext map[string]string) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: h}, ContextExtensions: ext}}
	}
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want mcp.Input
		err  error
	}{
		{"headers and raw body", req(&authv3.AttributeContext_HttpRequest{Method: "POST", Path: "/virtual/support?x=1",
			Headers: map[string]string{"authorization": "Bearer t", "mcp-method": "ping"}, RawBody: []byte("{}"), Body: "ignored"}, ext),
			mcp.Input{Method: "POST", Path: "/virtual/support?x=1", Headers: map[string]string{"authorization": "Bearer t", "mcp-method": "ping"},
				Body: []byte("{}"), ContextExtensions: ext}, nil},
		{"string body, upper-case names", req(&authv3.AttributeContext_HttpRequest{Method: "POST",
			Headers: map[string]string{"Authorization": "Bearer t"}, Body: "[]"}, ext),
			mcp.Input{Method: "POST", Headers: map[string]string{"authorization": "Bearer t"}, Body: []byte("[]"), ContextExtensions: ext}, nil},
		{"header map", req(&authv3.AttributeContext_HttpRequest{Method: "GET", HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "Accept", Value: "text/event-stream"}, {Key: "accept", RawValue: []byte("application/json")}, {Key: "mcp-session-id", Value: "s"}}}}, ext),
			mcp.Input{Method: "GET", Headers: map[string]string{"accept": "text/event-stream, application/json", "mcp-session-id": "s"}, ContextExtensions: ext}, nil},
		{"no kind", req(&authv3.AttributeContext_HttpRequest{Method: "GET"}, map[string]string{"server": "a/b"}),
			mcp.Input{Method: "GET", ContextExtensions: map[string]string{"server": "a/b"}}, nil},
		{"unknown kind", req(&authv3.AttributeContext_HttpRequest{Method: "GET"}, map[string]string{"kind": "agent", "server": "a/b"}),
			mcp.Input{}, errRouteKind},
		{"no http", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}, mcp.Input{}, errNoHTTP},
		{"nil request", nil, mcp.Input{}, errNoHTTP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpInput(tc.req)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestHeaderValue(t *testing.T) {
	// Invariant: only values that cannot split or forge a header pass.
	for s, want := range map[string]bool{
		"": true, "alice": true, "a b": true, "a\tb": true, "ünïcode": true,
		" lead": false, "trail ": false, "a\r\nb": false, "a\nb": false, "a\x00": false, "a\x7f": false,
	} {
		if got := headerValue(s); got != want {
			t.Errorf("headerValue(%q) = %v", s, got)
		}
	}
}
