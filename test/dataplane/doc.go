// Package dataplane is mcpgw's test data plane: a test fixture that stands in for Envoy where no Envoy binary can
// run (our CI and development machines), never shipped. It honours the contracts Envoy honours towards mcpgw, so
// the end-to-end tests exercise mcpgw's real xDS output and real ext_authz answers:
//
//   - It reads an Envoy v3 bootstrap (envoy/bootstrap.yaml) for its node, the ADS cluster and the static
//     clusters (mcpgw_xds, mcpgw_authz, mcpgw_registry).
//   - It is an ADS client (state of the world, one gRPC stream): it subscribes to clusters and listeners, then to
//     the route configurations the listeners name and the endpoints of EDS clusters; it ACKs a response it
//     applied and NACKs, with the error, one it cannot apply, keeping the last good configuration.
//   - It builds listeners, routes and clusters from exactly the features mcpgw emits (path, prefix and
//     path-separated-prefix matching, header present/exact matching, direct responses, prefix and regex
//     rewrites, auto host rewrite, per-route ext_authz disable and context_extensions, request header removal,
//     response headers, ring-hash on a header with the envelope stateful session, STATIC, STRICT_DNS, LOGICAL_DNS
//     and EDS clusters, upstream TLS with SNI and SAN matching, HTTP/1.1 and HTTP/2 upstreams, circuit-breaker
//     request limits, the JSON stdout access log). Any other field is refused (ErrUnsupported) and the whole
//     update NACKed, so a feature mcpgw starts emitting fails loudly here.
//   - Per request it runs Envoy's steps in Envoy's order: header sanitizing at the edge (x-request-id,
//     x-forwarded-for), path normalization, route match, the ext_authz Check (the fields Envoy fills: peer
//     addresses, method, path, lower-cased headers, the body up to max_request_bytes as raw bytes with
//     x-envoy-auth-partial-body, context_extensions), the answer applied (OK: headers set and removed upstream;
//     denied: status, headers and body), then a direct response or the proxied upstream exchange, streamed
//     without buffering so server-sent events arrive as they are produced.
//
// README.md lists what is emulated and what is not. Use it from tests with New and Run on a loopback address
// (Config.BindHost), or run cmd/mcpgw-dataplane by hand.
package dataplane
