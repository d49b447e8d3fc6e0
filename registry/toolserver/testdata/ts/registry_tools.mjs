// The official MCP TypeScript SDK as a client of the airegistry-tools MCP server. cmd/internal/app's
// TestRegistryToolsTypeScriptSDK runs it with
//   MCP_URL       the registry's /airegistry-tools/mcp endpoint
//   MCP_TOKENS    a JSON object of caller name -> bearer token
//   MCP_TS_HOME   a directory whose node_modules holds the pinned SDK (test/e2e/ts, installed by `npm ci --prefix
//                 test/e2e/ts`); the script reuses that installation rather than pinning the SDK a second time
// and prints, per caller, the negotiated revision and session, the tool names, search_registry's result names for
// "employee directory", list_servers' names, and get_server's answer for hr/people.
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.MCP_TS_HOME, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");

const url = new URL(process.env.MCP_URL);
const tokens = JSON.parse(process.env.MCP_TOKENS);

async function asCaller(token) {
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "mcpgw-registry-tools-ts", version: "1.0.0" });
  await client.connect(transport);
  const out = { protocolVersion: transport.protocolVersion ?? null, sessionId: transport.sessionId ?? null };
  out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const search = await client.callTool({ name: "search_registry", arguments: { query: "employee directory" } });
  out.search = search.structuredContent.results.map((r) => r.name);
  const servers = await client.callTool({ name: "list_servers", arguments: {} });
  out.servers = servers.structuredContent.servers.map((s) => s.name);
  const hidden = await client.callTool({ name: "get_server", arguments: { name: "hr/people" } });
  out.getServer = { isError: hidden.isError ?? false, text: hidden.content?.[0]?.text ?? null };
  await transport.terminateSession();
  await client.close();
  return out;
}

async function main() {
  const out = {};
  for (const [name, token] of Object.entries(tokens)) {
    out[name] = await asCaller(token);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
