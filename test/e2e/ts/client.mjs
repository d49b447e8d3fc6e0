// The official MCP TypeScript SDK as a client of the mcpgw gateway. test/e2e/gateway_ts_test.go runs it with
//   MCP_URL    the gateway endpoint of a session-based ledger server (…/mcp/finance/ledger)
//   MCP_TOKEN  a bearer token allowed get_balance but not transfer
// and checks the JSON it prints: what a connection without a token got, the negotiated protocol revision and
// session, the tools, an allowed call's result, a forbidden call's error, and a call after it on the same session.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.MCP_URL);
const token = process.env.MCP_TOKEN;

async function connect(bearer) {
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  const client = new Client({ name: "mcpgw-e2e-ts", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

// failure turns a rejected request into {status, error}: the HTTP status the SDK reports and the JSON-RPC error
// the gateway put in the body.
function failure(e) {
  const out = { status: e.code ?? null, error: null, message: String(e.message) };
  const i = out.message.indexOf("{");
  if (i >= 0) {
    try {
      out.error = JSON.parse(out.message.slice(i)).error ?? null;
    } catch {
      // not JSON: keep the message
    }
  }
  return out;
}

async function main() {
  const out = {};
  try {
    const c = await connect("");
    out.noToken = { connected: true };
    await c.client.close();
  } catch (e) {
    out.noToken = failure(e);
  }

  const { client, transport } = await connect(token);
  out.protocolVersion = transport.protocolVersion ?? null;
  out.sessionId = transport.sessionId ?? null;
  out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  out.balance = (await client.callTool({ name: "get_balance", arguments: { account: "acme-ops" } })).structuredContent;
  try {
    await client.callTool({ name: "transfer", arguments: { from: "acme-ops", to: "acme-travel", amount_cents: 1 } });
    out.forbidden = { allowed: true };
  } catch (e) {
    out.forbidden = failure(e);
  }
  out.balanceAfter = (await client.callTool({ name: "get_balance", arguments: { account: "acme-travel" } })).structuredContent;
  await transport.terminateSession();
  await client.close();
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
