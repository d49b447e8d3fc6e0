package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/test/mcpserver"
	"github.com/mcpgw/mcpgw/test/tssdk"
)

// tsResult is what test/e2e/ts/client.mjs prints.
type tsResult struct {
	NoToken struct {
		Connected bool `json:"connected"`
		Status    int  `json:"status"`
		Error     *struct {
			Code int64 `json:"code"`
		} `json:"error"`
	} `json:"noToken"`
	ProtocolVersion string               `json:"protocolVersion"`
	SessionID       string               `json:"sessionId"`
	Tools           []string             `json:"tools"`
	Balance         mcpserver.BalanceOut `json:"balance"`
	BalanceAfter    mcpserver.BalanceOut `json:"balanceAfter"`
	Forbidden       struct {
		Allowed bool   `json:"allowed"`
		Status  int    `json:"status"`
		Message string `json:"message"`
		Error   *struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"forbidden"`
}

// testTypeScriptSDK runs the official TypeScript SDK (pinned in test/e2e/ts/package-lock.json) against a
// session-based server through the gateway.
func testTypeScriptSDK(t *testing.T, g *gateway, carol string) {
	// Invariant: the TypeScript SDK over Streamable HTTP gets what the Go SDK gets: 401 with the JSON-RPC error
	// without a token; with a Hydra token a 2025-11-25 session, the tools, get_balance's result, a JSON-RPC 403
	// (-32034) for transfer, and the session still usable after it.
	node, tsDir := tssdk.Node(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(), "MCP_URL="+g.base+"/mcp/finance/ledger", "MCP_TOKEN="+carol)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var r tsResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("client.mjs printed %q: %v", out, err)
	}
	if r.NoToken.Connected || r.NoToken.Status != 401 || r.NoToken.Error == nil || r.NoToken.Error.Code != codeUnauthorized {
		t.Errorf("without a token: %+v", r.NoToken)
	}
	if r.ProtocolVersion != "2025-11-25" || r.SessionID == "" {
		t.Errorf("protocol %q session %q", r.ProtocolVersion, r.SessionID)
	}
	if !slices.Equal(r.Tools, []string{mcpserver.ToolExportStatement, mcpserver.ToolGetBalance, mcpserver.ToolTransfer}) {
		t.Errorf("tools %v", r.Tools)
	}
	if r.Balance.Account != "acme-ops" || r.BalanceAfter.Account != "acme-travel" {
		t.Errorf("balances %+v %+v", r.Balance, r.BalanceAfter)
	}
	f := r.Forbidden
	if f.Allowed || f.Status != 403 || f.Error == nil || f.Error.Code != codeForbidden || !strings.Contains(f.Error.Message, "finance-write") {
		t.Errorf("transfer: %+v", f)
	}
	g.expect(expectedAudit{subject: "carol", server: "finance/ledger", tool: mcpserver.ToolGetBalance, allow: true})
	g.expect(expectedAudit{subject: "carol", server: "finance/ledger", tool: mcpserver.ToolTransfer, allow: false})
}
