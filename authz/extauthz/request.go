package extauthz

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/resource"
)

// errNoHTTP means a CheckRequest carries no HTTP request attributes: the sender is not Envoy's HTTP ext_authz
// filter (or the network filter was pointed at this server).
var errNoHTTP = errors.New("check request has no HTTP attributes")

// errRouteKind means a route's context_extensions name a kind this server does not know: a gateway configuration
// fault, answered with a gRPC error.
var errRouteKind = errors.New("route names an unknown target kind")

// routeKinds are the kinds of context_extensions[kind]; "" means resource.KindServer.
var routeKinds = []string{resource.KindServer, resource.KindVirtual, resource.KindRegistryTools}

// httpInput turns the CheckRequest into what the MCP parser reads. Headers are the request's lower-cased header
// map; when Envoy sends them as header_map instead (encode_raw_headers), repeated headers are joined with ", "
// (RFC 9110 §5.3). The body is raw_body when Envoy packs it as bytes, else body. The input aliases the request's
// maps and bytes: the request must outlive it.
func httpInput(req *authv3.CheckRequest) (mcp.Input, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return mcp.Input{}, errNoHTTP
	}
	in := mcp.Input{
		Method:            h.GetMethod(),
		Path:              h.GetPath(),
		Headers:           h.GetHeaders(),
		ContextExtensions: req.GetAttributes().GetContextExtensions(),
	}
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		in.Headers = make(map[string]string, len(hm)+len(in.Headers))
		for k, v := range h.GetHeaders() {
			in.Headers[strings.ToLower(k)] = v
		}
		for _, hv := range hm {
			k, v := strings.ToLower(hv.GetKey()), hv.GetValue()
			if raw := hv.GetRawValue(); len(raw) > 0 {
				v = string(raw)
			}
			if prev, ok := in.Headers[k]; ok {
				v = prev + ", " + v
			}
			in.Headers[k] = v
		}
	} else if hasUpper(in.Headers) {
		lower := make(map[string]string, len(in.Headers))
		for k, v := range in.Headers {
			lower[strings.ToLower(k)] = v
		}
		in.Headers = lower
	}
	if raw := h.GetRawBody(); len(raw) > 0 {
		in.Body = raw
	} else if b := h.GetBody(); b != "" {
		in.Body = []byte(b)
	}
	kind := in.ContextExtensions[mcp.ExtKind]
	if kind != "" && !slices.Contains(routeKinds, kind) {
		return in, fmt.Errorf("read route %q: kind %q: %w", in.ContextExtensions[mcp.ExtServer], kind, errRouteKind)
	}
	return in, nil
}

// hasUpper reports whether a header name has an upper-case letter. Envoy lower-cases the names it sends, so
// this is a cheap check that almost always says no.
func hasUpper(h map[string]string) bool {
	for k := range h {
		for i := range len(k) {
			if c := k[i]; c >= 'A' && c <= 'Z' {
				return true
			}
		}
	}
	return false
}
