// Package mcp reads an MCP request as Envoy's ext_authz sees it (HTTP method, lower-cased headers, raw body and the
// route's context_extensions) and turns it into a Request the policy decides on and the audit records: the target,
// the protocol revision, the session, and every JSON-RPC message with its method, the tool, prompt or resource it
// acts on, and its arguments. It imports no gRPC or Envoy types; the Check server adapts them.
//
// # Protocol revisions
//
// Stateless revisions (2026-07-28 and later, chosen by MCP-Protocol-Version) mirror the body into headers: Mcp-Method
// on every request, Mcp-Name (params.name or params.uri, possibly in the "=?base64?...?=" sentinel form) on
// tools/call, resources/read and prompts/get, and the version in params._meta["io.modelcontextprotocol/protocolVersion"].
// Parse requires them and checks them against the body (400, HeaderMismatch -32020); the body must be one request or
// notification. When the body did not reach ext_authz, method and name come from the headers alone
// (Request.BodyInspected is false): the MCP server itself must validate headers against body in that revision.
//
// Earlier revisions (2024-11-05 to 2025-11-25) are read from the body: one message or a batch, requests,
// notifications and the client's responses to server requests. Mcp-Session-Id is kept; GET (the standalone SSE
// stream) and DELETE (end of session) are requests without messages. Headers the client mirrors anyway must agree
// with the body. A request without MCP-Protocol-Version is taken as 2025-03-26, as the specification allows, unless
// Config.RequireVersionHeader says otherwise.
//
// # Strictness
//
// The gateway must read the body exactly as the server will, or a request could be allowed for one tool and run
// another. So the body parser accepts only unambiguous JSON: no duplicate keys at any depth, valid UTF-8, no unpaired
// surrogate escapes, bounded depth, size and batch length. Member names are matched case-sensitively, as JSON-RPC
// defines them; but since encoding/json (and so many Go MCP servers) matches them case-insensitively, with Unicode
// simple folding, keys equal under that folding count as duplicates, and a key that differs from a member this
// package reads (method, params, name, uri, arguments, ...) only in case is refused. Every client fault is an *Error carrying the HTTP status and the JSON-RPC error to answer with; in a
// batch, it echoes the id of the first faulty message.
//
// Mcp-Param-* headers are neither read nor checked: they mirror tool arguments chosen by the tool's inputSchema,
// which this package does not know. Policies must decide on Message.Arguments, read from the body; the MCP server
// checks the headers against the body, as the specification requires of it.
package mcp
