// Package virtual serves the registry's virtual servers: MCP servers assembled from tools of registered servers,
// optionally renamed, at /virtual/{name} (the gateway routes that path to the registry with ext_authz on).
//
// tools/list answers, for the caller of the request and the catalog of the moment, the exposed tools the caller
// may call: the aliases, with the upstream tools' registered descriptions and input schemas. A tool is listed when
// the policy grants it on the virtual server (the registry's visible set, computed by the same Rego the gateway
// decides calls with), the caller holds the tool's extra scopes (catalog.VirtualTool.Scopes; the admin scope
// allows everything), and its upstream server version is available and defines the tool.
//
// tools/call decides the call again with the policy (target {kind: virtual, server: name}, the exposed name and
// the arguments), checks the extra scopes, maps the alias back and forwards the call to the upstream version's URL
// as an MCP client (go-sdk, Streamable HTTP or SSE). Refusals are JSON-RPC errors; anything that goes wrong upstream
// (unreachable, refused, timed out, unavailable in the catalog, including a tool the catalog no longer defines for
// that version) is an isError result naming the upstream server.
//
// Upstream sessions are caller-independent: one per upstream URL and egress credentials, shared by every caller and
// every virtual server, opened on first use, replaced when the upstream forgets it and closed when idle (Run). The
// caller's token never reaches an upstream; the caller's identity does, in the x-mcpgw-subject and
// x-mcpgw-client-id headers the policy decision names (as through the gateway). Egress credentials come from the
// version's egress_auth: bearer and header types, with env: and file: secret references (Secrets).
package virtual
