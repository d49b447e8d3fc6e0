// Package translate turns the gateway model (package xds/ir) into Envoy v3 resources: pure functions, one file
// per Envoy concern (listener.go, extauthz.go, accesslog.go, route.go, cluster.go), no state and no I/O.
//
// What a fleet receives (docs/xds.md has the full picture):
//   - Listener "mcpgw" on the configured port, whose HTTP connection manager runs, in order, Envoy's MCP filter
//     (optional), ext_authz (gRPC to the static cluster mcpgw_authz, failing closed), the stateful-session filter
//     (enabled per route) and the router, and writes a JSON access log to stdout (and to a gRPC ALS cluster when
//     one is configured). The listener depends on the options only and never changes at run time.
//   - RouteConfiguration "mcpgw": per server /mcp/{namespace}/{name} (and below) to the default version, a
//     mcp-server-version header pinning another, 410 for retired versions, 404 for unknown ones, 403 for blocked
//     servers; /virtual/{name} and /airegistry-tools/mcp to the registry with ext_authz on; /api/ and
//     /.well-known/ to the registry with ext_authz off. Every authorized route names its target in ext_authz
//     context_extensions {kind, server, version}.
//   - One Cluster per serving version ("mcp|namespace/name|version"), and a ClusterLoadAssignment for those that
//     use EDS.
//
// Typed configs are packed deterministically, so equal input gives byte-identical resources and delta xDS sends
// only what changed. Errors wrap "translate ...: %w"; with a model that passed ir Validate they do not occur.
package translate
