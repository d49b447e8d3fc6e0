package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/test/mcpserver"
)

// envRequireNode, when set (CI sets it), turns a missing Node.js or a missing `npm ci` under test/e2e/ts into a
// failure instead of a skip.
const envRequireNode = "MCPGW_REQUIRE_NODE"

// tsDir holds the Node client and its pinned dependencies (npm ci --prefix test/e2e/ts).
const tsDir = "ts"

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

// nodeClient returns the node binary, or skips (fails under MCPGW_REQUIRE_NODE) when Node.js or the installed SDK
// is missing.
func nodeClient(t *testing.T) string {
	t.Helper()
	missing := func(msg string) {
		if os.Getenv(envRequireNode) != "" {
			t.Fatalf("%s is set: %s", envRequireNode, msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH (Node.js 20 or later runs the TypeScript SDK scenario)")
	}
	if _, err := os.Stat(filepath.Join(tsDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		missing("the TypeScript SDK is not installed: run npm ci --prefix test/e2e/ts")
	}
	return node
}

// testTypeScriptSDK runs the official TypeScript SDK (pinned in test/e2e/ts/package-lock.json) against a
// session-based server through the gateway.
func testTypeScriptSDK(t *testing.T, g *gateway, carol string) {
	// Invariant: the TypeScript SDK over Streamable HTTP gets what the Go SDK gets: 401 with the JSON-RPC error
	// without a token; with a Hydra token a 2025-11-25 session, the tools, get_balance's result, a JSON-RPC 403
	// (-32034) for transfer, and the session still usable after it.
	node := nodeClient(t)
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
