// Package mcpserver holds the sample MCP servers the end-to-end tests, the gateway benchmark and the README's
// five-minute tour run behind the gateway. They are built with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) so the gateway meets real protocol traffic, in both transports'
// revisions: session-based Streamable HTTP (2025-11-25 and earlier, Mcp-Session-Id, a standalone GET stream) and
// the stateless revision (2026-07-28, server/discover, Mcp-Method and Mcp-Name headers).
//
// Two servers:
//
//   - Ledger: get_balance, transfer and export_statement. export_statement sends a progress notification per
//     page and, when Options.Gate is set, waits on it after the first one, so a test can prove that the first
//     notification crossed the gateway while the tool was still running.
//   - HR: find_employee and list_departments.
//
// Start serves a server on a loopback port and records the MCP headers of every request it receives (Seen), so
// a test can check what the gateway forwarded: the Mcp-Method and Mcp-Name mirrors, the identity headers authz
// added, and that the caller's token did not reach the upstream.
//
// The state is in memory and per process; these servers are fixtures, not examples of production MCP servers.
package mcpserver
