package translate

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/mcpgw/mcpgw/xds/ir"
)

// deprecationValue is the Deprecation header value. The catalog records that a server or version is deprecated
// but not since when, so the header carries the boolean form of the IETF draft rather than RFC 9745's date.
const deprecationValue = "true"

// RouteConfiguration assembles the one route configuration of a fleet: a single virtual host matching every
// domain, with the routes in the order given: server and virtual-server routes, then CommonRoutes. Paths of
// different servers never overlap (each server's routes match /mcp/{namespace}/{name} as a whole path segment),
// so apart from the common routes coming last, order only matters within one server.
func RouteConfiguration(routes []*routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{
		Name: RouteConfigName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    VirtualHostName,
			Domains: []string{"*"},
			Routes:  routes,
		}},
		// Clusters arrive over CDS; ADS orders CDS before RDS, so Envoy need not check references itself.
		ValidateClusters: wrapperspb.Bool(false),
	}
}

// ServerRoutes returns the routes of one server in match order:
//
//  1. one route per version pinned by the mcp-server-version header: to the version's cluster, or a 410 for a
//     retired version;
//  2. the unpinned route (no mcp-server-version header): to the default version, or a 410 when every version is
//     retired.
//
// A pinned version the server lacks falls through to the shared unknown-version route (CommonRoutes). A blocked
// server has one route answering 403 instead. Every route matches /mcp/{namespace}/{name} and anything below it,
// and carries the ext_authz context extensions {kind: server, server, version}; the version is the one that
// serves the route ("" where none does).
func (t *Translator) ServerRoutes(s *ir.Server) ([]*routev3.Route, error) {
	if len(s.Versions) == 0 {
		return nil, nil
	}
	var e encoder
	path := ServerPath(s.Name)
	name := "mcp:" + s.Name
	if s.Blocked != ir.BlockNone {
		r := t.direct(name, pathMatch(path), blocked(s.Blocked.Message()), e.checkSettings(KindServer, s.Name, ""))
		return []*routev3.Route{r}, e.wrap(s.Name)
	}
	routes := make([]*routev3.Route, 0, len(s.Versions)+1)
	var defaultRoute *routev3.Route
	for _, v := range s.Versions {
		m := pathMatch(path)
		m.Headers = []*routev3.HeaderMatcher{exactHeader(HeaderServerVersion, v.Version)}
		rname := name + "@" + v.Version
		if v.Retired {
			routes = append(routes, t.direct(rname, m,
				retired(fmt.Sprintf("version %s of MCP server %s is retired", v.Version, s.Name)),
				e.checkSettings(KindServer, s.Name, v.Version)))
			continue
		}
		r := t.upstream(&e, rname, m, s, v)
		routes = append(routes, r)
		if v.Default {
			// The unpinned route is the pinned default with the header matcher inverted; sharing the action
			// and per-filter config keeps the two identical by construction.
			defaultRoute = &routev3.Route{
				Name:                   name,
				Match:                  &routev3.RouteMatch{PathSpecifier: m.PathSpecifier, Headers: t.shared.versionAbsent},
				Action:                 r.Action,
				TypedPerFilterConfig:   r.TypedPerFilterConfig,
				ResponseHeadersToAdd:   r.ResponseHeadersToAdd,
				RequestHeadersToRemove: r.RequestHeadersToRemove,
			}
		}
	}
	if defaultRoute == nil {
		m := pathMatch(path)
		m.Headers = t.shared.versionAbsent
		defaultRoute = t.direct(name, m, retired(fmt.Sprintf("every version of MCP server %s is retired", s.Name)),
			e.checkSettings(KindServer, s.Name, ""))
	}
	return append(routes, defaultRoute), e.wrap(s.Name)
}

// upstream is a route to a version's cluster. It has no timeout (an SSE response may last as long as the stream
// idle timeout allows), rewrites the gateway path onto the upstream path, and sets the upstream's Host.
func (t *Translator) upstream(e *encoder, name string, m *routev3.RouteMatch, s *ir.Server, v *ir.Version) *routev3.Route {
	action := &routev3.RouteAction{
		ClusterSpecifier:     &routev3.RouteAction_Cluster{Cluster: ClusterName(s.Name, v.Version)},
		Timeout:              t.shared.noTimeout,
		HostRewriteSpecifier: t.shared.autoHost,
	}
	if strings.HasSuffix(v.Path, "/") {
		// prefix_rewrite would turn /mcp/ns/name/rest into <path>/rest with a doubled slash; a regex that also
		// eats the request's slash maps both /mcp/ns/name and /mcp/ns/name/rest correctly.
		action.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: t.shared.serverPrefix, Substitution: v.Path}
	} else {
		action.PrefixRewrite = v.Path
	}
	filters := map[string]*anypb.Any{filterExtAuthz: e.checkSettings(KindServer, s.Name, v.Version)}
	if len(v.Endpoints) > 1 {
		// Keep an MCP session on the endpoint that created it: the stateful-session filter wraps the upstream's
		// Mcp-Session-Id with the endpoint address, and hashing the session id places requests whose endpoint
		// is gone (or that predate the envelope) consistently.
		action.HashPolicy = []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{
			Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: HeaderSessionID},
		}}}
		filters[filterStatefulSession] = t.stickySession
	}
	r := &routev3.Route{
		Name:                 name,
		Match:                m,
		Action:               &routev3.Route_Route{Route: action},
		TypedPerFilterConfig: filters,
	}
	if v.Deprecated || s.Deprecated {
		r.ResponseHeadersToAdd = t.deprecation
	}
	if !v.ForwardAuthorization && !v.EgressAuth {
		// The caller's token is for the gateway; passing it on would let the upstream replay it (MCP forbids token
		// passthrough). With egress auth the authorization service sets the header and strips the caller's.
		r.RequestHeadersToRemove = t.shared.stripAuth
	}
	return r
}

// VirtualRoutes returns the route of a virtual server: /virtual/{name} to the registry, which assembles it, with
// ext_authz on and {kind: virtual, server: name}; a 403 when the virtual server is blocked.
func (t *Translator) VirtualRoutes(v *ir.VirtualServer) ([]*routev3.Route, error) {
	var e encoder
	name := "virtual:" + v.Name
	authz := e.checkSettings(KindVirtual, v.Name, "")
	m := pathMatch(VirtualPath(v.Name))
	if v.Blocked != ir.BlockNone {
		return []*routev3.Route{t.direct(name, m, blocked(strings.Replace(v.Blocked.Message(), "MCP server",
			"virtual MCP server", 1)), authz)}, e.wrap(v.Name)
	}
	r := t.registryRoute(name, m, authz)
	if v.Deprecated {
		r.ResponseHeadersToAdd = t.deprecation
	}
	return []*routev3.Route{r}, e.wrap(v.Name)
}

// CommonRoutes returns the routes every fleet has, which must follow all server and virtual-server routes:
//
//   - the unknown-version route: a request under /mcp/ pinning a version no server route matched answers 404
//     with a JSON-RPC error. ext_authz runs first, told to take the server from the path and the version from the
//     header ({kind: server, server: *, version: *}): it answers a caller without a token 401, and anyone else 404
//     (or 410 for a retired version) with the request's JSON-RPC id, which the route's own answer cannot carry;
//     the route's answer (id null) remains for a version added a moment ago that the routes do not have yet;
//   - the airegistry-tools MCP server, to the registry, ext_authz on ({kind: registry-tools});
//   - the REST API and the well-known documents, to the registry, ext_authz off: the registry authenticates those
//     requests itself, and OAuth discovery must work without a token.
func (t *Translator) CommonRoutes() []*routev3.Route { return t.common }

func (t *Translator) commonRoutes(e *encoder) []*routev3.Route {
	off := map[string]*anypb.Any{filterExtAuthz: e.authzDisabled()}
	if t.o.MCPFilter {
		// REST bodies are not MCP: keep the MCP filter from parsing them.
		off[filterMCP] = e.any(&routev3.FilterConfig{Disabled: true})
	}
	unknown := unknownVersion("no MCP server has the requested version")
	return []*routev3.Route{
		{
			Name: "mcp-unknown-version",
			Match: &routev3.RouteMatch{
				PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: PathMCP},
				Headers: []*routev3.HeaderMatcher{{Name: HeaderServerVersion,
					HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}},
			},
			Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
				Status: unknown.status,
				Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: unknown.body()}},
			}},
			ResponseHeadersToAdd: t.shared.jsonContent,
			TypedPerFilterConfig: map[string]*anypb.Any{filterExtAuthz: e.checkSettings(KindServer, ExtFromRequest, ExtFromRequest)},
		},
		t.registryRoute("registry-tools", pathMatch(PathRegistryTools),
			e.checkSettings(KindRegistryTools, RegistryToolsServer, "")),
		{
			Name:                 "registry-api",
			Match:                &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: PathAPI}},
			Action:               t.registryAction(),
			TypedPerFilterConfig: off,
		},
		{
			Name:                 "registry-well-known",
			Match:                &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: PathWellKnown}},
			Action:               t.registryAction(),
			TypedPerFilterConfig: off,
		},
	}
}

func (t *Translator) registryRoute(name string, m *routev3.RouteMatch, authz *anypb.Any) *routev3.Route {
	return &routev3.Route{
		Name:                 name,
		Match:                m,
		Action:               t.registryAction(),
		TypedPerFilterConfig: map[string]*anypb.Any{filterExtAuthz: authz},
	}
}

func (t *Translator) registryAction() *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: RegistryCluster},
		Timeout:          t.shared.noTimeout,
	}}
}

// direct is a route the gateway answers itself with a JSON-RPC error.
func (t *Translator) direct(name string, m *routev3.RouteMatch, a directAnswer, authz *anypb.Any) *routev3.Route {
	return &routev3.Route{
		Name:  name,
		Match: m,
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
			Status: a.status,
			Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: a.body()}},
		}},
		ResponseHeadersToAdd: t.shared.jsonContent,
		TypedPerFilterConfig: map[string]*anypb.Any{filterExtAuthz: authz},
	}
}

// pathMatch matches the path and anything below it (/p, /p/, /p/rest) but not /prest.
func pathMatch(path string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: path}}
}

// absentHeader matches requests without the header.
func absentHeader(name string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: false}}
}

func exactHeader(name, value string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: value}},
	}}
}

func (e *encoder) wrap(object string) error {
	if e.err != nil {
		return fmt.Errorf("translate routes of %s: %w", object, e.err)
	}
	return nil
}
