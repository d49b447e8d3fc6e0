package translate

import (
	"fmt"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
	envelopev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/stateful_session/envelope/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/mcpgw/mcpgw/xds/ir"
)

// Translator translates with one set of options. New validates the options and builds the parts every fleet and
// every server share (the listener, the common routes, the upstream protocol options) once; the resources the
// methods return share those parts and must be treated as immutable, as the xDS cache treats them anyway.
// A Translator is safe for concurrent use.
type Translator struct {
	o        Options
	listener *listenerv3.Listener
	common   []*routev3.Route

	http1, http2    *anypb.Any
	circuitBreakers *clusterv3.CircuitBreakers
	stickySession   *anypb.Any
	deprecation     []*corev3.HeaderValueOption
	shared          shared
}

// shared holds the immutable sub-messages that would otherwise be allocated again for every route and cluster
// of a 10k-server catalog. Sharing a message between resources is safe because nothing mutates them.
type shared struct {
	noTimeout      *durationpb.Duration
	autoHost       *routev3.RouteAction_AutoHostRewrite
	versionAbsent  []*routev3.HeaderMatcher
	jsonContent    []*corev3.HeaderValueOption
	stripAuth      []string
	connectTimeout *durationpb.Duration
	locality       *corev3.Locality
	trustedCA      *corev3.DataSource
	alpnH1, alpnH2 []string
	serverPrefix   *matcherv3.RegexMatcher
}

// serverPrefixRegex matches the /mcp/{namespace}/{name} prefix of a server route's path, and the slash after it.
// It names no server: the route's path_separated_prefix has already matched the server's path, whose segments
// contain no slash, so the first three segments are that path. A pattern spelling out the server's name would
// compile to one RE2 instruction per character, and Envoy rejects the whole route configuration when one regex
// exceeds its default program size (re2.max_program_size.error_level, 100): a name of about 90 characters (the
// catalog allows 200) would keep every route change from reaching the fleet.
const serverPrefixRegex = "^" + PathMCP + "[^/]+/[^/]+/?"

// New validates the options and prepares a Translator.
func New(o Options) (*Translator, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	t := &Translator{o: o, circuitBreakers: circuitBreakers(o.CircuitBreakers),
		deprecation: []*corev3.HeaderValueOption{header(HeaderDeprecation, deprecationValue)},
		shared: shared{
			noTimeout:      durationpb.New(0),
			autoHost:       &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)},
			versionAbsent:  []*routev3.HeaderMatcher{absentHeader(HeaderServerVersion)},
			jsonContent:    []*corev3.HeaderValueOption{header("content-type", "application/json")},
			stripAuth:      []string{"authorization"},
			connectTimeout: duration(o.ConnectTimeout),
			locality:       &corev3.Locality{},
			trustedCA:      &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: o.CABundle}},
			alpnH1:         []string{"http/1.1"},
			alpnH2:         []string{"h2"},
			serverPrefix:   &matcherv3.RegexMatcher{Regex: serverPrefixRegex},
		}}
	var e encoder
	t.http1 = e.any(upstreamProtocol(false))
	t.http2 = e.any(upstreamProtocol(true))
	t.stickySession = e.any(&statefulsessionv3.StatefulSessionPerRoute{
		Override: &statefulsessionv3.StatefulSessionPerRoute_StatefulSession{StatefulSession: &statefulsessionv3.StatefulSession{
			SessionState: &corev3.TypedExtensionConfig{
				Name: sessionStateEnvelope,
				TypedConfig: e.any(&envelopev3.EnvelopeSessionState{
					Header: &envelopev3.EnvelopeSessionState_Header{Name: HeaderSessionID},
				}),
			},
		}},
	})
	t.common = t.commonRoutes(&e)
	if e.err != nil {
		return nil, fmt.Errorf("prepare translator: %w", e.err)
	}
	l, err := listener(o)
	if err != nil {
		return nil, err
	}
	t.listener = l
	return t, nil
}

// Options returns the options the Translator was made with.
func (t *Translator) Options() Options { return t.o }

// Listener returns the mcpgw listener (see listener.go). It depends only on the options, so it is the same
// message for every fleet and every build.
func (t *Translator) Listener() *listenerv3.Listener { return t.listener }

// Resources is everything one fleet receives, each slice in a stable order (servers by name, versions newest
// first).
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
}

// Gateway translates one fleet's gateway in full. The snapshot builder assembles the same resources from
// per-server pieces it caches (ServerRoutes, ServerClusters, ...); this method is the reference assembly, used
// by the golden tests and by callers that translate once.
func (t *Translator) Gateway(g *ir.Gateway) (*Resources, error) {
	res := &Resources{Listeners: []*listenerv3.Listener{t.listener}}
	var routes []*routev3.Route
	for _, s := range g.Servers {
		rs, err := t.ServerRoutes(s)
		if err != nil {
			return nil, err
		}
		routes = append(routes, rs...)
		cs, eps, err := t.ServerClusters(s)
		if err != nil {
			return nil, err
		}
		res.Clusters = append(res.Clusters, cs...)
		res.Endpoints = append(res.Endpoints, eps...)
	}
	for _, v := range g.Virtuals {
		rs, err := t.VirtualRoutes(v)
		if err != nil {
			return nil, err
		}
		routes = append(routes, rs...)
	}
	routes = append(routes, t.common...)
	res.Routes = []*routev3.RouteConfiguration{RouteConfiguration(routes)}
	return res, nil
}
