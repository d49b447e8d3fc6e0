// Package extauthz is mcpgw's Envoy ext_authz Check server (envoy.service.auth.v3.Authorization): for every HTTP
// request Envoy holds at an MCP route it authenticates the caller, reads the MCP request, asks the policy about
// every JSON-RPC message, records the decision for audit, and answers Envoy.
//
// # Decision flow
//
// Check is request → input → eval → response, each step a function of its own:
//
//  1. request: the CheckRequest's HTTP attributes (method, path, lower-cased headers, body) and the route's
//     context_extensions (kind, server, version) become an mcp.Input. A route without a known kind or a server is
//     the gateway's configuration fault: a gRPC error, so Envoy fails closed.
//  2. The MCP request is parsed (authz/mcp) and the bearer token verified (authz/identity). A missing or bad token
//     is 401 with a WWW-Authenticate challenge whose resource_metadata names the endpoint's RFC 9728 document
//     (authz/resource); it is decided before a parse error, so a caller without a token learns nothing else.
//     A malformed request is 400 (405, 413) with the parser's JSON-RPC error.
//  3. The Catalog resolves the target: an unknown server is 404, a retired version 410; the omitted version is the
//     default version, and the version says whether the caller's Authorization header may reach the upstream.
//  4. eval: every message of the request (one, a batch, or none for an SSE GET or a session DELETE) is decided
//     by the policy in body order; the first denial decides the answer. The registry's own MCP endpoint
//     (kind registry-tools) needs only an authenticated caller: the registry filters what it returns through the
//     same policy.
//  5. response: an allow is OK with x-mcpgw-subject (or x-mcpgw-client-id), x-mcpgw-decision-id and the policy's
//     headers set upstream, the Authorization header and every client-sent x-mcpgw-* header removed; a denial is
//     403 with a JSON-RPC error echoing the denied message's id and an insufficient_scope challenge naming the
//     scopes that would allow the call.
//
// Each answer carries dynamic metadata {subject, client, tool, decision_id} for Envoy's access log, and every
// decided message becomes one audit.Record (all records of one Check share the decision id), handed to the
// Auditor without waiting. An engine or key-fetch failure is a gRPC error (Internal, Unavailable), never an OK,
// so Envoy's failure_mode_allow=false fails closed; docs/authz.md lists every answer.
//
// The collaborators are interfaces of this package (Verifier, Decider, Catalog, Auditor) that identity.Verifier,
// policy.Engine, audit.Batcher and the registry's in-memory catalog view satisfy.
package extauthz
