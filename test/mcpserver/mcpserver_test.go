package mcpserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/test/mcpserver"
)

func start(t *testing.T, s *mcp.Server, stateless bool) *mcpserver.Server {
	t.Helper()
	srv, err := mcpserver.Start(s, "", stateless, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func connect(t *testing.T, url, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpserver-test", Version: "1"}, opts)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect %s (%s): %v", url, version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, tool string, args any, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s result %s: %v", tool, b, err)
		}
	}
	return res
}

func TestLedgerTools(t *testing.T) {
	// Invariant: in both revisions (sessions, and stateless with Mcp-Method/Mcp-Name headers) the ledger lists its
	// three tools, reads and moves balances, and reports bad input as a tool error (IsError), not a protocol error;
	// the server records the MCP headers each request carried.
	for _, tc := range []struct {
		name      string
		stateless bool
		version   string
	}{
		{"sessions", false, "2025-11-25"},
		{"stateless", true, "2026-07-28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, mcpserver.Ledger(mcpserver.Options{}), tc.stateless)
			cs := connect(t, srv.URL, tc.version, nil)
			if got := cs.InitializeResult().ProtocolVersion; got != tc.version {
				t.Fatalf("negotiated %s, want %s", got, tc.version)
			}
			tools, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			if strings.Join(names, ",") != "export_statement,get_balance,transfer" {
				t.Errorf("tools %v", names)
			}
			var bal mcpserver.BalanceOut
			call(t, cs, mcpserver.ToolGetBalance, map[string]any{"account": "acme-travel"}, &bal)
			if bal.BalanceCents != 42_000 {
				t.Errorf("balance %+v", bal)
			}
			var tr mcpserver.TransferOut
			call(t, cs, mcpserver.ToolTransfer, map[string]any{"from": "acme-ops", "to": "acme-travel", "amount_cents": 1000}, &tr)
			if tr.FromBalanceCents != 1_249_000 || tr.ToBalanceCents != 43_000 {
				t.Errorf("transfer %+v", tr)
			}
			for _, bad := range []map[string]any{
				{"from": "acme-ops", "to": "acme-travel", "amount_cents": 0},
				{"from": "acme-ops", "to": "acme-ops", "amount_cents": 5},
				{"from": "nobody", "to": "acme-ops", "amount_cents": 5},
				{"from": "acme-travel", "to": "acme-ops", "amount_cents": 1 << 40},
			} {
				if res := call(t, cs, mcpserver.ToolTransfer, bad, nil); !res.IsError {
					t.Errorf("transfer %v: not a tool error", bad)
				}
			}
			var sawCall bool
			for _, s := range srv.Seen() {
				if s.MCPMethod == "tools/call" && s.MCPName == mcpserver.ToolTransfer {
					sawCall = true
				}
			}
			if sawCall != tc.stateless {
				t.Errorf("Mcp-Method/Mcp-Name headers seen = %v, want %v (only the stateless revision mirrors them)", sawCall, tc.stateless)
			}
		})
	}
}

func TestExportStatementStreamsProgress(t *testing.T) {
	// Invariant: export_statement's first progress notification reaches the client while the tool is blocked on
	// its gate; the rest and the result follow once the gate is released.
	gate := make(chan struct{})
	srv := start(t, mcpserver.Ledger(mcpserver.Options{Gate: gate}), false)
	progress := make(chan float64, 16)
	cs := connect(t, srv.URL, "2025-11-25", &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			progress <- r.Params.Progress
		},
	})
	params := &mcp.CallToolParams{Name: mcpserver.ToolExportStatement, Arguments: map[string]any{"account": "acme-ops", "pages": 3}}
	params.SetProgressToken("statement-1")
	done := mcpserver.CallAsync(t.Context(), cs, params)
	select {
	case p := <-progress:
		if p != 1 {
			t.Fatalf("first progress %v, want 1", p)
		}
	case r := <-done:
		t.Fatalf("the call finished before any progress arrived: %+v", r)
	}
	select {
	case r := <-done:
		t.Fatalf("the call finished while its gate was closed: %+v", r)
	default:
	}
	close(gate)
	r := <-done
	if r.Err != nil || r.Res.IsError {
		t.Fatalf("call: %v %+v", r.Err, r.Res)
	}
	var out mcpserver.StatementOut
	b, _ := json.Marshal(r.Res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || len(out.Pages) != 3 {
		t.Fatalf("statement %s: %v", b, err)
	}
}

func TestHRTools(t *testing.T) {
	// Invariant: find_employee matches name parts case-insensitively and reports no match as a tool error;
	// list_departments lists each department once, sorted.
	srv := start(t, mcpserver.HR(), true)
	cs := connect(t, srv.URL, "", nil)
	var found mcpserver.FindOut
	call(t, cs, mcpserver.ToolFindEmployee, map[string]any{"name": "HOPPER"}, &found)
	if len(found.Employees) != 1 || found.Employees[0].ID != "e-1002" {
		t.Errorf("find hopper: %+v", found)
	}
	if res := call(t, cs, mcpserver.ToolFindEmployee, map[string]any{"name": "nobody"}, nil); !res.IsError {
		t.Error("no match is not a tool error")
	}
	var deps mcpserver.DepartmentsOut
	call(t, cs, mcpserver.ToolListDepartments, map[string]any{}, &deps)
	if strings.Join(deps.Departments, ",") != "engineering,finance,operations" {
		t.Errorf("departments %v", deps.Departments)
	}
}

func TestStartBadAddress(t *testing.T) {
	// Invariant: an address that cannot be listened on is an error, not a panic or a silent server.
	_, err := mcpserver.Start(mcpserver.HR(), "256.0.0.1:1", false, nil)
	if err == nil || !strings.Contains(err.Error(), "listen on 256.0.0.1:1") {
		t.Fatalf("err = %v, want a listen error naming the address", err)
	}
}
