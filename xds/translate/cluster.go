package translate

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/mcpgw/mcpgw/xds/ir"
)

// upstreamIdleTimeout closes an upstream connection with no open stream for this long.
const upstreamIdleTimeout = time.Hour

// ServerClusters returns one cluster per serving version of a server, and the EDS assignments of those clusters
// that use EDS. A blocked server has none: nothing may reach its upstream, and Envoy should not even resolve it.
//
// How a version's upstreams are discovered:
//   - one endpoint named by IP: STATIC;
//   - one endpoint named by DNS: LOGICAL_DNS (one connection pool to whatever the name resolves to, as for a web
//     service behind a load balancer);
//   - several endpoints, all IPs: EDS, ring-hash on Mcp-Session-Id;
//   - several endpoints with a DNS name among them: STRICT_DNS (every address of every name), ring-hash on
//     Mcp-Session-Id. Envoy cannot resolve names in EDS assignments (envoyproxy/envoy#4290), so EDS is kept
//     for IP endpoints.
func (t *Translator) ServerClusters(s *ir.Server) ([]*clusterv3.Cluster, []*endpointv3.ClusterLoadAssignment, error) {
	if s.Blocked != ir.BlockNone {
		return nil, nil, nil
	}
	var (
		e         encoder
		clusters  []*clusterv3.Cluster
		endpoints []*endpointv3.ClusterLoadAssignment
	)
	for _, v := range s.Versions {
		if !v.Serves() {
			continue
		}
		name := ClusterName(s.Name, v.Version)
		protocol := t.http1
		if v.HTTP2 {
			protocol = t.http2
		}
		c := &clusterv3.Cluster{
			Name:                          name,
			ConnectTimeout:                t.shared.connectTimeout,
			CircuitBreakers:               t.circuitBreakers,
			TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptions: protocol},
		}
		cla := t.loadAssignment(name, v)
		if v.TLS {
			t.tls(&e, c, cla, v)
		}
		allIP := true
		for _, ep := range v.Endpoints {
			allIP = allIP && ep.IP
		}
		switch {
		case len(v.Endpoints) == 1 && allIP:
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
			c.LoadAssignment = cla
		case len(v.Endpoints) == 1:
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
			c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
			c.LoadAssignment = cla
		case allIP:
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
			c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()}
			c.LbPolicy = clusterv3.Cluster_RING_HASH
			endpoints = append(endpoints, cla)
		default:
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
			c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
			c.LbPolicy = clusterv3.Cluster_RING_HASH
			c.LoadAssignment = cla
		}
		clusters = append(clusters, c)
	}
	if e.err != nil {
		return nil, nil, fmt.Errorf("translate clusters of %s: %w", s.Name, e.err)
	}
	return clusters, endpoints, nil
}

// loadAssignment lists a version's endpoints in one locality. Each endpoint carries the Host header value the
// route's auto_host_rewrite sends (host, plus the port when it is not the scheme's default).
func (t *Translator) loadAssignment(cluster string, v *ir.Version) *endpointv3.ClusterLoadAssignment {
	lbs := make([]*endpointv3.LbEndpoint, 0, len(v.Endpoints))
	for _, ep := range v.Endpoints {
		lbs = append(lbs, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address:  socketAddress(ep.Host, ep.Port),
			Hostname: ep.HostPort(v.TLS),
		}}})
	}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: cluster,
		// A locality message is required by gRPC's xDS client and harmless to Envoy.
		Endpoints: []*endpointv3.LocalityLbEndpoints{{Locality: t.shared.locality, LbEndpoints: lbs}},
	}
}

func circuitBreakers(cb CircuitBreakers) *clusterv3.CircuitBreakers {
	return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		Priority:           corev3.RoutingPriority_DEFAULT,
		MaxConnections:     wrapperspb.UInt32(cb.MaxConnections),
		MaxPendingRequests: wrapperspb.UInt32(cb.MaxPendingRequests),
		MaxRequests:        wrapperspb.UInt32(cb.MaxRequests),
		MaxRetries:         wrapperspb.UInt32(3),
		TrackRemaining:     true,
	}}}
}

// upstreamProtocol is HTTP/1.1 unless the version asks for HTTP/2. Both carry SSE; HTTP/2 multiplexes a client's
// streams onto one connection.
func upstreamProtocol(http2 bool) *upstreamhttpv3.HttpProtocolOptions {
	explicit := &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
			HttpProtocolOptions: &corev3.Http1ProtocolOptions{},
		},
	}
	if http2 {
		explicit.ProtocolConfig = &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		}
	}
	return &upstreamhttpv3.HttpProtocolOptions{
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{IdleTimeout: duration(upstreamIdleTimeout)},
		UpstreamProtocolOptions:   &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit},
	}
}

// tlsMatchKey is the endpoint metadata key that selects an endpoint's TLS context when a version's endpoints have
// different hosts.
const tlsMatchKey = "mcpgw_host"

// tls sets the cluster's upstream TLS. Every endpoint is verified against its own host name: with one host the
// cluster has one TLS context; with several, each endpoint carries its host in metadata and a transport socket
// match gives it a context for that host. The cluster's default socket is TLS too, so no endpoint ever falls
// back to plaintext.
func (t *Translator) tls(e *encoder, c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, v *ir.Version) {
	socket := func(ep ir.Endpoint) *corev3.TransportSocket {
		return &corev3.TransportSocket{
			Name:       transportSocketTLS,
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: e.any(t.upstreamTLS(ep, v.HTTP2))},
		}
	}
	c.TransportSocket = socket(v.Endpoints[0])
	var hosts []string
	for _, ep := range v.Endpoints {
		if !slices.Contains(hosts, ep.Host) {
			hosts = append(hosts, ep.Host)
		}
	}
	if len(hosts) == 1 {
		return
	}
	for i, ep := range v.Endpoints {
		match := &structpb.Struct{Fields: map[string]*structpb.Value{tlsMatchKey: structpb.NewStringValue(ep.Host)}}
		lb := cla.Endpoints[0].LbEndpoints[i]
		lb.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.transport_socket_match": match}}
		if slices.IndexFunc(c.TransportSocketMatches, func(m *clusterv3.Cluster_TransportSocketMatch) bool {
			return m.Match.Fields[tlsMatchKey].GetStringValue() == ep.Host
		}) < 0 {
			c.TransportSocketMatches = append(c.TransportSocketMatches, &clusterv3.Cluster_TransportSocketMatch{
				Name:            "tls:" + ep.Host,
				Match:           match,
				TransportSocket: socket(ep),
			})
		}
	}
}

// upstreamTLS verifies an upstream against the CA bundle and its name: SNI and a DNS SAN for a host name, an IP
// SAN (and no SNI, which RFC 6066 forbids for addresses) for an IP. ALPN states the protocol the cluster speaks.
func (t *Translator) upstreamTLS(ep ir.Endpoint, http2 bool) *tlsv3.UpstreamTlsContext {
	san := &tlsv3.SubjectAltNameMatcher{
		SanType: tlsv3.SubjectAltNameMatcher_DNS,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: ep.Host}},
	}
	if ep.IP {
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
	}
	alpn := t.shared.alpnH1
	if http2 {
		alpn = t.shared.alpnH2
	}
	ctx := &tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols: alpn,
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa:                 t.shared.trustedCA,
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{san},
			}},
		},
	}
	if !ep.IP {
		ctx.Sni = ep.Host
	}
	return ctx
}
