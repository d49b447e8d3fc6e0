package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/test/mcpserver"
)

// TestGateway runs the end-to-end scenarios of the gateway path against one mcpgw, one Hydra and one data plane:
// MCP clients (the Go SDK, the official TypeScript SDK, raw HTTP) call sample MCP servers registered through the
// REST API, with Hydra identities, in both protocol revisions, and every call lands in the audit trail.
func TestGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Hydra, mcpgw and MCP servers")
	}
	g := startGateway(t)

	gate := make(chan struct{})
	ledger := sampleServer(t, mcpserver.Ledger(mcpserver.Options{}), false)
	ledgerNext := sampleServer(t, mcpserver.Ledger(mcpserver.Options{}), true)
	statements := sampleServer(t, mcpserver.Ledger(mcpserver.Options{Gate: gate}), false)
	hr := sampleServer(t, mcpserver.HR(), true)
	ledgerTools := []string{mcpserver.ToolGetBalance, mcpserver.ToolTransfer, mcpserver.ToolExportStatement}

	// Scenario 1 starts with registration through the REST API; each register waits until the route appears.
	g.register(t, "finance/ledger", ledger.URL, ledgerTools...)
	g.register(t, "finance/ledger-next", ledgerNext.URL, ledgerTools...)
	g.register(t, "finance/statements", statements.URL, ledgerTools...)
	g.register(t, "hr/directory", hr.URL, mcpserver.ToolFindEmployee, mcpserver.ToolListDepartments)
	for _, s := range []map[string]any{
		{"name": "finance-read", "description": "read balances and statements", "grants": []map[string]any{{
			"server": "finance/*", "methods": []string{"tools/list", "tools/call"},
			"tools": []string{mcpserver.ToolGetBalance, mcpserver.ToolExportStatement}}}},
		{"name": "finance-write", "description": "move money", "grants": []map[string]any{{
			"server": "finance/*", "methods": []string{"tools/call"}, "tools": []string{mcpserver.ToolTransfer}}}},
		{"name": "hr-read", "description": "the HR directory", "grants": []map[string]any{{
			"server": "hr/directory", "methods": []string{"tools/list", "tools/call"}, "tools": []string{"*"}}}},
	} {
		if st := g.rest(t, http.MethodPost, "/api/v1/scopes", "application/json", s, nil); st != http.StatusCreated {
			t.Fatalf("create scope %v: %d", s["name"], st)
		}
	}
	for group, scopes := range map[string][]string{"finance": {"finance-read"}, "hr": {"hr-read"}} {
		if st := g.rest(t, http.MethodPost, "/api/v1/group-mappings", "application/json",
			map[string]any{"group": group, "scopes": scopes}, nil); st != http.StatusCreated {
			t.Fatalf("map group %s: %d", group, st)
		}
	}
	// User tokens are minted here, one after the other: Hydra v2.3.0 sometimes fails authorization-code flows
	// that run concurrently ("The error is unrecognizable").
	alice := g.userToken(t, "alice", "finance", "hr")
	carol := g.userToken(t, "carol", "finance")
	dave := g.userToken(t, "dave", "finance")
	bot := g.hydra.NewMachineClient(t, []string{"finance-read"}, []string{"mcpgw"})
	botToken := g.hydra.ClientCredentialsToken(t, bot, []string{"finance-read"}, []string{"mcpgw"})
	g.waitVisible(t, alice, "finance/ledger", "hr/directory")

	t.Run("scenarios", func(t *testing.T) {
		t.Run("go sdk, sessions", func(t *testing.T) {
			t.Parallel()
			// Invariant: a Go SDK client that offers the newest revision to a session-based server falls back to
			// 2025-11-25 through the gateway, gets a session, lists the tools, calls an allowed tool, and gets a
			// JSON-RPC 403 (-32034) for a forbidden one without losing its session; the upstream sees the caller's
			// subject and never the token.
			cs, err := g.connect(t, "/mcp/finance/ledger", alice, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if v := cs.InitializeResult().ProtocolVersion; v != "2025-11-25" {
				t.Errorf("negotiated %s, want the session-based 2025-11-25", v)
			}
			checkLedger(t, g, cs, "finance/ledger", "alice")
			var sawSession bool
			for _, s := range ledger.Seen() {
				if s.Authorization {
					t.Fatalf("the caller's token reached the upstream: %+v", s)
				}
				if s.SessionID != "" && s.Subject == "alice" && s.DecisionID != "" {
					sawSession = true
				}
			}
			if !sawSession {
				t.Errorf("the upstream never saw a session request from alice: %+v", ledger.Seen())
			}
		})

		t.Run("go sdk, stateless", func(t *testing.T) {
			t.Parallel()
			// Invariant: against a stateless server the Go SDK speaks 2026-07-28 through the gateway: no session,
			// and the Mcp-Method/Mcp-Name headers it mirrors reach the upstream beside the caller's subject.
			cs, err := g.connect(t, "/mcp/finance/ledger-next", alice, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				t.Errorf("negotiated %s, want the stateless 2026-07-28", v)
			}
			checkLedger(t, g, cs, "finance/ledger-next", "alice")
			var mirrored bool
			for _, s := range ledgerNext.Seen() {
				if s.Authorization || s.SessionID != "" {
					t.Fatalf("token or session id reached a stateless upstream: %+v", s)
				}
				if s.MCPMethod == "tools/call" && s.MCPName == mcpserver.ToolGetBalance && s.Subject == "alice" {
					mirrored = true
				}
			}
			if !mirrored {
				t.Errorf("no tools/call with Mcp-Method/Mcp-Name headers reached the upstream: %+v", ledgerNext.Seen())
			}
		})

		t.Run("stateless headers are checked against the body", func(t *testing.T) {
			t.Parallel()
			// Invariant: in the stateless revision the gateway refuses (400, -32020) a request whose Mcp-Name
			// names an allowed tool while the body calls another, or that lacks Mcp-Name, before it reaches the
			// upstream; a request whose headers agree with the body is served.
			reached := func() int {
				n := 0
				for _, s := range ledgerNext.Seen() {
					if s.Subject == "dave" {
						n++
					}
				}
				return n
			}
			args := map[string]string{mcpserver.ToolGetBalance: `{"account":"acme-ops"}`,
				mcpserver.ToolTransfer: `{"from":"acme-ops","to":"acme-travel","amount_cents":1}`}
			const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
				`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}`
			body := func(tool string) string {
				return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":%q,"arguments":%s,%s}}`,
					tool, args[tool], meta)
			}
			for _, tc := range []struct {
				name, mcpName, body string
				status              int
				code                int64
			}{
				{"name smuggling", mcpserver.ToolGetBalance, body(mcpserver.ToolTransfer), 400, codeHeaderMismatch},
				{"missing Mcp-Name", "", body(mcpserver.ToolGetBalance), 400, codeHeaderMismatch},
			} {
				status, code, _ := rawCall(t, g.base+"/mcp/finance/ledger-next", dave, map[string]string{
					"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tc.mcpName}, tc.body)
				if status != tc.status || code != tc.code {
					t.Errorf("%s: %d %d, want %d %d", tc.name, status, code, tc.status, tc.code)
				}
			}
			if n := reached(); n != 0 {
				t.Errorf("%d refused requests reached the upstream", n)
			}
			status, code, text := rawCall(t, g.base+"/mcp/finance/ledger-next", dave, map[string]string{
				"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": mcpserver.ToolGetBalance},
				body(mcpserver.ToolGetBalance))
			if status != 200 || code != 0 || !strings.Contains(text, "balance_cents") {
				t.Errorf("agreeing headers: %d %d %s", status, code, text)
			}
			if n := reached(); n != 1 {
				t.Errorf("the agreeing request reached the upstream %d times", n)
			}
			g.expect(expectedAudit{subject: "dave", server: "finance/ledger-next", tool: mcpserver.ToolGetBalance, allow: true})
			g.expect(expectedAudit{subject: "dave", server: "finance/ledger-next", rule: "bad_request"})
		})

		t.Run("unknown pinned version", func(t *testing.T) {
			t.Parallel()
			// Invariant: a request pinning a version the server lacks is answered by authz through the shared
			// unknown-version route: 404 with JSON-RPC error -32035 carrying the request's id (the route's own
			// answer would carry id null, which clients cannot match to their request); without a token, 401.
			body := `{"jsonrpc":"2.0","id":42,"method":"tools/list"}`
			pin := map[string]string{"Mcp-Server-Version": "9.9.9"}
			status, code, text := rawCall(t, g.base+"/mcp/finance/ledger-next", dave, pin, body)
			if status != 404 || code != codeNotFound || !strings.Contains(text, `"id":42`) {
				t.Errorf("unknown version: %d %d %s", status, code, text)
			}
			if status, _, _ := rawCall(t, g.base+"/mcp/finance/ledger-next", "", pin, body); status != 401 {
				t.Errorf("unknown version without a token: %d, want 401", status)
			}
			g.expect(expectedAudit{subject: "dave", server: "finance/ledger-next", rule: "unknown_target"})
		})

		t.Run("no token", func(t *testing.T) {
			t.Parallel()
			// Invariant: without a token the gateway answers 401 with a JSON-RPC error (-32033) and an RFC 9728
			// challenge whose resource_metadata document can be fetched through the gateway, names the endpoint
			// the client called and Hydra as its authorization server; the SDK sees the same error.
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, g.base+"/mcp/finance/ledger",
				strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",`+
					`"capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error struct{ Code int64 } `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			challenge := resp.Header.Get("WWW-Authenticate")
			m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(challenge)
			if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != codeUnauthorized || m == nil {
				t.Fatalf("got %d %s, challenge %q", resp.StatusCode, b, challenge)
			}
			if !strings.HasPrefix(m[1], g.base+"/.well-known/oauth-protected-resource/") {
				t.Errorf("resource_metadata %q is not under the gateway", m[1])
			}
			mresp, err := http.Get(m[1])
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
			}
			err = json.NewDecoder(mresp.Body).Decode(&doc)
			mresp.Body.Close()
			if err != nil || mresp.StatusCode != 200 || doc.Resource != g.base+"/mcp/finance/ledger" ||
				!slices.Contains(doc.AuthorizationServers, g.hydra.Issuer) {
				t.Errorf("metadata %d %+v (%v)", mresp.StatusCode, doc, err)
			}
			if _, err := g.connect(t, "/mcp/finance/ledger", "", "2025-11-25", nil); rpcCode(err) != codeUnauthorized {
				t.Errorf("SDK without a token: %v", err)
			}
			g.expect(expectedAudit{server: "finance/ledger", rule: "unauthenticated"})
		})

		t.Run("machine identity", func(t *testing.T) {
			t.Parallel()
			// Invariant: a client-credentials token whose scope names an mcpgw scope calls the tools it grants; the
			// upstream sees the client id, and no subject.
			cs, err := g.connect(t, "/mcp/finance/ledger-next", botToken, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: mcpserver.ToolGetBalance,
				Arguments: map[string]any{"account": "acme-payroll"}})
			if err != nil {
				t.Fatal(err)
			}
			var bal mcpserver.BalanceOut
			structured(t, res, &bal)
			g.expect(expectedAudit{client: bot.ID, server: "finance/ledger-next", tool: mcpserver.ToolGetBalance, allow: true})
			var seen bool
			for _, s := range ledgerNext.Seen() {
				if s.ClientID == bot.ID && s.Subject == "" {
					seen = true
				}
			}
			if !seen {
				t.Errorf("the upstream never saw x-mcpgw-client-id %s", bot.ID)
			}
		})

		t.Run("typescript sdk", func(t *testing.T) {
			t.Parallel()
			testTypeScriptSDK(t, g, carol)
		})

		t.Run("disable and enable", func(t *testing.T) {
			t.Parallel()
			// Invariant: once a server is disabled through the REST API its calls fail within 2 s (the change
			// feed, the xds snapshot and ADS on one side, authz's view on the other); once enabled they work again
			// within 2 s, on the same client.
			cs, err := g.connect(t, "/mcp/hr/directory", alice, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			find := func() error {
				_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: mcpserver.ToolFindEmployee,
					Arguments: map[string]any{"name": "hopper"}})
				return err
			}
			if err := find(); err != nil {
				t.Fatal(err)
			}
			g.expect(expectedAudit{subject: "alice", server: "hr/directory", tool: mcpserver.ToolFindEmployee, allow: true})
			g.setStatus(t, "hr/directory", "disabled")
			start := time.Now()
			if err := pollUntil(2*time.Second, func() bool { return find() != nil }); err != nil {
				t.Fatalf("calls still succeed after disabling: %v", err)
			}
			t.Logf("calls failed %s after the PATCH answered", time.Since(start).Round(time.Millisecond))
			g.expect(expectedAudit{subject: "alice", server: "hr/directory", tool: mcpserver.ToolFindEmployee, allow: false})
			g.setStatus(t, "hr/directory", "enabled")
			start = time.Now()
			var last error
			// A Go SDK session closes itself on an error answer whose JSON-RPC id is null, which is what the
			// disabled server's direct 403 carries (Envoy cannot echo the request's id). That answer can reach
			// the client in the moment authz already sees the server enabled and the route is not swapped yet, so
			// a closed session reconnects here, as a client would (docs/gateway.md, "Client notes").
			if err := pollUntil(2*time.Second, func() bool {
				if last = find(); errors.Is(last, mcp.ErrConnectionClosed) && strings.Contains(last.Error(), "client is closing") {
					fresh, cerr := g.connect(t, "/mcp/hr/directory", alice, "", nil)
					if cerr != nil {
						last = cerr
						return false
					}
					cs = fresh
					last = find()
				}
				return last == nil
			}); err != nil {
				t.Fatalf("calls still fail after enabling: %v (last: %v)", err, last)
			}
			t.Logf("calls worked again %s after the PATCH answered", time.Since(start).Round(time.Millisecond))
		})

		t.Run("progress streams", func(t *testing.T) {
			t.Parallel()
			// Invariant: progress notifications reach the client as a stream: the first one arrives while the tool
			// is still blocked on a gate the test holds, and the result only after the test releases it.
			progress := make(chan float64, 8)
			cs, err := g.connect(t, "/mcp/finance/statements", alice, "", &mcp.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
					progress <- r.Params.Progress
				}})
			if err != nil {
				t.Fatal(err)
			}
			params := &mcp.CallToolParams{Name: mcpserver.ToolExportStatement,
				Arguments: map[string]any{"account": "acme-ops", "pages": 3}}
			params.SetProgressToken("statement")
			done := mcpserver.CallAsync(t.Context(), cs, params)
			select {
			case p := <-progress:
				if p != 1 {
					t.Fatalf("first progress %v", p)
				}
			case r := <-done:
				t.Fatalf("the call ended before any progress arrived: %+v", r)
			case <-t.Context().Done():
				t.Fatal("no progress before the test deadline")
			}
			select {
			case r := <-done:
				t.Fatalf("the result arrived while the tool was blocked: %+v", r)
			default:
			}
			close(gate)
			r := <-done
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			var out mcpserver.StatementOut
			structured(t, r.Res, &out)
			if len(out.Pages) != 3 {
				t.Errorf("statement %+v", out)
			}
			g.expect(expectedAudit{subject: "alice", server: "finance/statements", tool: mcpserver.ToolExportStatement, allow: true})
		})
	})

	t.Run("audit trail", func(t *testing.T) {
		// Invariant: every call the scenarios made is in /api/v1/audit as a decision record naming the caller
		// (subject, or client id for a machine), the server, the tool and the decision; a call without a token is
		// recorded as unauthenticated, a malformed one as a bad request.
		g.mu.Lock()
		calls := slices.Clone(g.calls)
		g.mu.Unlock()
		if len(calls) < 10 {
			t.Fatalf("only %d calls recorded by the scenarios", len(calls))
		}
		for _, c := range calls {
			q := url.Values{"server": {c.server}}
			if c.tool != "" {
				q.Set("tool", c.tool)
			}
			if c.subject != "" {
				q.Set("subject", c.subject)
			}
			if c.client != "" {
				q.Set("client", c.client)
			}
			decision := "deny"
			if c.allow {
				decision = "allow"
			}
			q.Set("decision", decision)
			var found []auditRecord
			err := pollUntil(10*time.Second, func() bool {
				found = nil
				for _, r := range g.audit(t, q) {
					if c.rule == "" || r.Rule == c.rule {
						found = append(found, r)
					}
				}
				return len(found) > 0
			})
			if err != nil {
				t.Errorf("no audit record for %+v", c)
				continue
			}
			r := found[0]
			if r.Kind != "decision" || r.Server != c.server || r.Allow != c.allow || (c.tool != "" && r.Tool != c.tool) ||
				r.Subject != c.subject || (c.client != "" && r.Client != c.client) {
				t.Errorf("audit record %+v for %+v", r, c)
			}
		}
	})
}

// checkLedger lists the ledger's tools, calls get_balance (allowed) and transfer (forbidden: -32034, naming the
// scope that would allow it), then get_balance again on the same session, and records the calls for the audit.
func checkLedger(t *testing.T, g *gateway, cs *mcp.ClientSession, server, subject string) {
	t.Helper()
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if !slices.Contains(names, mcpserver.ToolGetBalance) || !slices.Contains(names, mcpserver.ToolTransfer) {
		t.Errorf("tools %v", names)
	}
	get := func() {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: mcpserver.ToolGetBalance,
			Arguments: map[string]any{"account": "acme-travel"}})
		if err != nil {
			t.Fatal(err)
		}
		var bal mcpserver.BalanceOut
		structured(t, res, &bal)
		if bal.Account != "acme-travel" || bal.BalanceCents != 42_000 {
			t.Errorf("balance %+v", bal)
		}
	}
	get()
	_, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: mcpserver.ToolTransfer,
		Arguments: map[string]any{"from": "acme-ops", "to": "acme-travel", "amount_cents": 100}})
	// The gateway's 403 reaches the Go SDK as a structured JSON-RPC error with the gateway's code and message, and
	// the session stays usable, which the next call proves.
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) || werr.Code != codeForbidden || !strings.Contains(werr.Message, `Forbidden: tools/call of "transfer"`) ||
		!strings.Contains(werr.Message, "finance-write") {
		t.Fatalf("transfer: %v, want the gateway's 403 (%d) naming finance-write", err, codeForbidden)
	}
	get()
	g.expect(expectedAudit{subject: subject, server: server, tool: mcpserver.ToolGetBalance, allow: true})
	g.expect(expectedAudit{subject: subject, server: server, tool: mcpserver.ToolTransfer, allow: false})
}

// rawCall POSTs a JSON-RPC body through the gateway and returns the status, the JSON-RPC error code (0 for none)
// and the body text (SSE or JSON).
func rawCall(t *testing.T, url, token string, headers map[string]string, body string) (int, int64, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	if i := bytes.Index(b, []byte("data: ")); i >= 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b = bytes.TrimSpace(bytes.SplitN(b[i+len("data: "):], []byte("\n"), 2)[0])
	}
	var e struct {
		Error *struct{ Code int64 } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	if e.Error != nil {
		return resp.StatusCode, e.Error.Code, text
	}
	return resp.StatusCode, 0, text
}

// pollUntil checks cond until it holds or the bound passes: an eventual-consistency bound, not a speed claim.
func pollUntil(bound time.Duration, cond func() bool) error {
	deadline := time.Now().Add(bound)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitVisible waits until the caller's listing shows the servers: the scopes and mappings just written have reached
// the policy data the registry and authz share.
func (g *gateway) waitVisible(t *testing.T, token string, names ...string) {
	t.Helper()
	err := pollUntil(10*time.Second, func() bool {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.base+"/api/v1/servers?limit=500", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
		}
		if json.NewDecoder(resp.Body).Decode(&page) != nil {
			return false
		}
		for _, n := range names {
			if !slices.ContainsFunc(page.Items, func(i struct {
				Name string `json:"name"`
			}) bool {
				return i.Name == n
			}) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("servers %v never became visible to the caller: %v", names, err)
	}
}
