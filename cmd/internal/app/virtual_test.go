package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/virtual"
	"github.com/mcpgw/mcpgw/test/mcpserver"
)

const finDesk = virtual.PathPrefix + "fin-desk"

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	out := names(res.Tools, func(x *mcp.Tool) string { return x.Name })
	slices.Sort(out)
	return out
}

// rpcError returns the JSON-RPC error of a failed call, or fails the test.
func rpcError(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) *jsonrpc.Error {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	var we *jsonrpc.Error
	if !errors.As(err, &we) {
		t.Fatalf("call %s: want a JSON-RPC error, got %v (result %+v)", tool, err, res)
	}
	return we
}

func TestVirtualServerAliasesAndForwards(t *testing.T) {
	// Invariant: in both caller revisions, a virtual server lists the granted tools under their aliases with the
	// upstream's description and schema, forwards a call to the upstream tool (a session-based and a stateless
	// upstream alike) and returns its result; the upstream sees the caller's identity header, never its token.
	e := newMCPEnv(t)
	e.create(t, &catalog.Scope{Name: "desk-hr", Grants: []catalog.Grant{{Kind: "virtual", Server: "fin-desk",
		Methods: []string{"tools/call"}, Tools: []string{"whois"}}}},
		&catalog.GroupMapping{Group: "desk-hr", Scopes: []string{"desk-hr"}})
	for _, rev := range revisions {
		t.Run(rev.name, func(t *testing.T) {
			cs := e.connect(t, finDesk, e.token(t, "erin", "desk", "desk-hr"), rev.ask, nil)
			if got := cs.InitializeResult().ProtocolVersion; got != rev.want {
				t.Fatalf("negotiated %q, want %q", got, rev.want)
			}
			res, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]*mcp.Tool{}
			for _, tl := range res.Tools {
				byName[tl.Name] = tl
			}
			if got := toolNames(t, cs); !slices.Equal(got, []string{"balance", "ping_down", "statement", "whois"}) {
				t.Fatalf("tools %v", got)
			}
			bal := byName["balance"]
			schema, _ := json.Marshal(bal.InputSchema)
			if bal.Description != "Current balance of an account, in cents" || !strings.Contains(string(schema), `"account"`) {
				t.Errorf("balance: %q %s", bal.Description, schema)
			}

			before := len(e.ledger.Seen())
			var out mcpserver.BalanceOut
			if r := call(t, cs, "balance", map[string]any{"account": "acme-ops"}, &out); r.IsError || out.BalanceCents != 1_250_000 {
				t.Fatalf("balance: %+v %q", out, text(r))
			}
			var sawCall bool
			for _, s := range e.ledger.Seen()[before:] {
				if s.Authorization {
					t.Errorf("the caller's token reached the upstream: %+v", s)
				}
				if s.MCPName == mcpserver.ToolGetBalance || s.Subject == "erin" {
					sawCall = s.Subject == "erin"
				}
			}
			if !sawCall {
				t.Errorf("the upstream call did not carry x-mcpgw-subject erin: %+v", e.ledger.Seen()[before:])
			}
			var found mcpserver.FindOut
			if r := call(t, cs, "whois", map[string]any{"name": "ada"}, &found); r.IsError || len(found.Employees) == 0 {
				t.Fatalf("whois (stateless upstream): %+v %q", found, text(r))
			}
			if r := call(t, cs, "balance", map[string]any{"account": "nope"}, nil); !r.IsError || !strings.Contains(text(r), "unknown account") {
				t.Errorf("the upstream's own tool error: %v %q", r.IsError, text(r))
			}
		})
	}
}

func TestVirtualServerPerToolScopes(t *testing.T) {
	// Invariant: a tool with extra scopes is listed and callable only by callers who hold them (or the admin
	// scope); a call without them is the gateway's JSON-RPC -32034 naming the missing scope (also in the error's
	// data), a call of a tool the caller has no grant for is -32034 too, a name the virtual server does not expose
	// -32602, and the session stays usable after each.
	e := newMCPEnv(t)
	desk := e.connect(t, finDesk, e.token(t, "erin", "desk"), "", nil)
	approver := e.connect(t, finDesk, e.token(t, "fred", "desk", "approvers"), "2025-11-25", nil)
	admin := e.connect(t, finDesk, e.token(t, "root", "mcpgw-admins"), "", nil)

	if got := toolNames(t, desk); !slices.Equal(got, []string{"balance", "ping_down", "statement"}) {
		t.Errorf("desk lists %v", got)
	}
	if got := toolNames(t, approver); !slices.Equal(got, []string{"balance", "move_money", "ping_down", "statement"}) {
		t.Errorf("approver lists %v", got)
	}
	if got := toolNames(t, admin); !slices.Equal(got, []string{"balance", "move_money", "ping_down", "statement", "whois"}) {
		t.Errorf("admin lists %v", got)
	}

	move := map[string]any{"from": "acme-ops", "to": "acme-travel", "amount_cents": 100}
	if we := rpcError(t, desk, "move_money", move); we.Code != -32034 || !strings.HasPrefix(we.Message, "Forbidden: ") ||
		!strings.Contains(we.Message, "payments-approve") || string(we.Data) != `{"required_scopes":["payments-approve"]}` {
		t.Errorf("desk move_money: %d %q %s", we.Code, we.Message, we.Data)
	}
	var moved mcpserver.TransferOut
	if r := call(t, approver, "move_money", move, &moved); r.IsError || moved.ToBalanceCents != 42_100 {
		t.Fatalf("approver move_money: %+v %q", moved, text(r))
	}
	if we := rpcError(t, desk, "whois", map[string]any{"name": "ada"}); we.Code != -32034 {
		t.Errorf("desk whois (no grant): %d %q", we.Code, we.Message)
	}
	// A name the virtual server does not expose is refused like a hidden one to a caller the policy does not let
	// call it, so the two cannot be told apart; a caller allowed every name learns that it does not exist.
	if we := rpcError(t, desk, "get_balance", map[string]any{"account": "acme-ops"}); we.Code != -32034 {
		t.Errorf("desk get_balance (the upstream name, not exposed): %d %q", we.Code, we.Message)
	}
	if we := rpcError(t, admin, "get_balance", map[string]any{"account": "acme-ops"}); we.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("admin get_balance (the upstream name, not exposed): %d %q", we.Code, we.Message)
	}
	if got := toolNames(t, desk); len(got) != 3 {
		t.Errorf("the desk session after its refusals: %v", got)
	}
	if r := call(t, admin, "move_money", move, &moved); r.IsError || moved.ToBalanceCents != 42_200 {
		t.Errorf("admin move_money: %+v %q", moved, text(r))
	}
}

func TestVirtualServerUpstreamFailures(t *testing.T) {
	// Invariant: whatever goes wrong upstream is an isError result naming the upstream server, and the caller's
	// session stays usable: an upstream that is down, one whose server was disabled, and one that forgot its
	// session (replaced behind the same address), for which the call is retried once on a new session and succeeds.
	e := newMCPEnv(t)
	cs := e.connect(t, finDesk, e.token(t, "erin", "desk"), "2025-11-25", nil)

	r := call(t, cs, "ping_down", map[string]any{"x": 1}, nil)
	if !r.IsError || text(r) != "upstream server down/echo (version 1.0.0) is unreachable" {
		t.Errorf("down upstream: %v %q", r.IsError, text(r))
	}

	// A ledger behind a proxy whose backend is swapped for a fresh process: the upstream forgets the session (404)
	// while the registry's connection to the address stays up.
	first, err := mcpserver.Start(mcpserver.Ledger(mcpserver.Options{}), "", false, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close() })
	second, err := mcpserver.Start(mcpserver.Ledger(mcpserver.Options{Balances: map[string]int64{"acme-ops": 7}}), "", false, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })
	var backend atomic.Pointer[string]
	backend.Store(&first.URL)
	proxyURL := newSwapProxy(t, &backend)
	e.create(t, &catalog.Server{Name: "finance/ledger-b", Governance: catalog.Governance{Description: "a ledger behind a proxy"},
		Versions: []catalog.ServerVersion{{Version: "2.0.0", Transport: catalog.TransportStreamableHTTP, URL: proxyURL,
			Tools: []catalog.Tool{{Name: mcpserver.ToolGetBalance, Description: "balance"}}}}},
		&catalog.VirtualServer{Name: "desk-b", Governance: catalog.Governance{Description: "proxied"},
			Tools: []catalog.VirtualTool{{Server: "finance/ledger-b", Tool: mcpserver.ToolGetBalance}}})
	admin := e.connect(t, virtual.PathPrefix+"desk-b", e.token(t, "root", "mcpgw-admins"), "", nil)
	var out mcpserver.BalanceOut
	if r := call(t, admin, mcpserver.ToolGetBalance, map[string]any{"account": "acme-ops"}, &out); r.IsError || out.BalanceCents != 1_250_000 {
		t.Fatalf("before the swap: %v %q %+v", r.IsError, text(r), out)
	}
	backend.Store(&second.URL)
	if r := call(t, admin, mcpserver.ToolGetBalance, map[string]any{"account": "acme-ops"}, &out); r.IsError || out.BalanceCents != 7 {
		t.Fatalf("after the upstream forgot the session: %v %q %+v", r.IsError, text(r), out)
	}

	o, _ := e.app.View.Get(catalog.KindServer, "finance/ledger")
	disabled := *o.(*catalog.Server)
	disabled.Status = catalog.StatusDisabled
	if _, err := e.app.Registrar.Replace(t.Context(), e.admin, &disabled, 0); err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, cs); !slices.Equal(got, []string{"ping_down"}) {
		t.Errorf("with the ledger disabled, tools %v", got)
	}
	if r := call(t, cs, "balance", map[string]any{"account": "acme-ops"}, nil); !r.IsError ||
		text(r) != "upstream server finance/ledger is not available (status disabled)" {
		t.Errorf("disabled upstream: %v %q", r.IsError, text(r))
	}
}

func TestVirtualServerNotFound(t *testing.T) {
	// Invariant: a virtual server that does not exist and one the caller may not see both answer 404 with the same
	// JSON-RPC error body, before any session exists.
	e := newMCPEnv(t)
	tok := e.token(t, "erin", "desk")
	var bodies []string
	for _, name := range []string{"hidden-desk", "no-such-desk", "fin-desk/extra"} {
		req, _ := http.NewRequest(http.MethodPost, e.url+virtual.PathPrefix+name,
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"code":-32035`) {
		t.Errorf("hidden vs absent: %q vs %q", bodies[0], bodies[1])
	}
}

func TestVirtualServerEgressAuth(t *testing.T) {
	// Invariant: an upstream's egress credentials (env: and file: references, bearer and header types) are on
	// every upstream request; a reference the registry cannot resolve is an isError result saying why.
	e := newMCPEnv(t)
	var mu sync.Mutex
	var seen []http.Header
	upstream, err := mcpserver.Start(mcpserver.Ledger(mcpserver.Options{}), "", false, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = upstream.Close() })
	// A proxy in front of the ledger that demands the credentials, like an upstream behind an API gateway.
	guard := func(check func(http.Header) bool) string {
		hs := newGuard(t, upstream.URL, func(h http.Header) bool {
			mu.Lock()
			seen = append(seen, h.Clone())
			mu.Unlock()
			return check(h)
		})
		return hs
	}
	t.Setenv("MCPGW_TEST_LEDGER_KEY", "k-123")
	keyFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(keyFile, []byte("tok-456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ver := func(url string, a *catalog.EgressAuth) []catalog.ServerVersion {
		return []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: url, EgressAuth: a,
			Tools: []catalog.Tool{{Name: mcpserver.ToolGetBalance, Description: "balance"}}}}
	}
	e.create(t,
		&catalog.Server{Name: "vault/env-key", Governance: catalog.Governance{Description: "header from env"},
			Versions: ver(guard(func(h http.Header) bool { return h.Get("X-Api-Key") == "k-123" }),
				&catalog.EgressAuth{Type: "header", Header: "X-Api-Key", SecretRef: "env:MCPGW_TEST_LEDGER_KEY"})},
		&catalog.Server{Name: "vault/file-bearer", Governance: catalog.Governance{Description: "bearer from a file"},
			Versions: ver(guard(func(h http.Header) bool { return h.Get("Authorization") == "Bearer tok-456" }),
				&catalog.EgressAuth{Type: "bearer", SecretRef: "file:" + keyFile})},
		&catalog.Server{Name: "vault/unset", Governance: catalog.Governance{Description: "env not set"},
			Versions: ver(upstream.URL, &catalog.EgressAuth{Type: "bearer", SecretRef: "env:MCPGW_TEST_UNSET_VARIABLE"})},
		&catalog.Server{Name: "vault/vault", Governance: catalog.Governance{Description: "vault reference"},
			Versions: ver(upstream.URL, &catalog.EgressAuth{Type: "bearer", SecretRef: "vault:secret/ledger#token"})},
		&catalog.VirtualServer{Name: "keyed", Governance: catalog.Governance{Description: "keyed upstreams"},
			Tools: []catalog.VirtualTool{
				{Server: "vault/env-key", Tool: mcpserver.ToolGetBalance, Alias: "env_balance"},
				{Server: "vault/file-bearer", Tool: mcpserver.ToolGetBalance, Alias: "file_balance"},
				{Server: "vault/unset", Tool: mcpserver.ToolGetBalance, Alias: "unset_balance"},
				{Server: "vault/vault", Tool: mcpserver.ToolGetBalance, Alias: "vault_balance"},
			}},
	)
	cs := e.connect(t, virtual.PathPrefix+"keyed", e.token(t, "root", "mcpgw-admins"), "", nil)
	for _, tool := range []string{"env_balance", "file_balance"} {
		var out mcpserver.BalanceOut
		if r := call(t, cs, tool, map[string]any{"account": "acme-ops"}, &out); r.IsError || out.BalanceCents != 1_250_000 {
			t.Errorf("%s: %v %q", tool, r.IsError, text(r))
		}
	}
	for tool, want := range map[string]string{
		"unset_balance": "the environment variable is not set",
		"vault_balance": "vault: references are not supported",
	} {
		if r := call(t, cs, tool, map[string]any{"account": "acme-ops"}, nil); !r.IsError || !strings.Contains(text(r), want) {
			t.Errorf("%s: %v %q", tool, r.IsError, text(r))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the guarded upstreams saw no request")
	}
}

func TestVirtualServerForwardsProgress(t *testing.T) {
	// Invariant: progress the upstream reports while a forwarded call runs reaches the caller at once, under the
	// caller's own progress token: the first notification arrives while the upstream tool is still blocked.
	e := newMCPEnv(t)
	gate := make(chan struct{})
	slow, err := mcpserver.Start(mcpserver.Ledger(mcpserver.Options{Gate: gate}), "", false, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slow.Close() })
	e.create(t, &catalog.Server{Name: "finance/slow-ledger", Governance: catalog.Governance{Description: "a gated ledger"},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: slow.URL,
			Tools: upstreamTools(t, slow.URL)}}},
		&catalog.VirtualServer{Name: "slow-desk", Governance: catalog.Governance{Description: "gated"},
			Tools: []catalog.VirtualTool{{Server: "finance/slow-ledger", Tool: mcpserver.ToolExportStatement, Alias: "statement"}}})

	first := make(chan *mcp.ProgressNotificationParams, 1)
	cs := e.connect(t, virtual.PathPrefix+"slow-desk", e.token(t, "root", "mcpgw-admins"), "2025-11-25", &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			select {
			case first <- req.Params:
			default:
			}
		},
	})
	params := &mcp.CallToolParams{Name: "statement", Arguments: map[string]any{"account": "acme-ops", "pages": 3}}
	params.SetProgressToken("caller-token")
	done := mcpserver.CallAsync(t.Context(), cs, params)
	select {
	case p := <-first:
		if p.ProgressToken != "caller-token" || p.Progress != 1 || p.Total != 3 {
			t.Errorf("first progress %+v", p)
		}
	case r := <-done:
		t.Fatalf("the call finished before any progress arrived: %+v %v", r.Res, r.Err)
	case <-t.Context().Done():
		t.Fatal("no progress")
	}
	close(gate)
	r := <-done
	if r.Err != nil || r.Res.IsError {
		t.Fatalf("statement: %v %+v", r.Err, r.Res)
	}
}

// newSwapProxy serves a reverse proxy to the MCP URL in backend (read per request); it returns the proxy's MCP URL.
func newSwapProxy(t *testing.T, backend *atomic.Pointer[string]) string {
	t.Helper()
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		u, _ := url.Parse(*backend.Load())
		r.SetURL(&url.URL{Scheme: u.Scheme, Host: u.Host})
	}, FlushInterval: -1}
	hs := httptest.NewServer(proxy)
	t.Cleanup(hs.Close)
	return hs.URL + mcpserver.Path
}

// newGuard serves a reverse proxy to upstream that answers 401 to requests check refuses; it returns the proxy's MCP
// URL.
func newGuard(t *testing.T, upstream string, check func(http.Header) bool) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: u.Scheme, Host: u.Host}) },
		FlushInterval: -1}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !check(r.Header) {
			http.Error(w, "missing credentials", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + u.Path
}
