package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// Names Envoy gives to cluster extensions.
const (
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	transportSocketTLS     = "envoy.transport_sockets.tls"
	transportSocketMatchNS = "envoy.transport_socket_match"
)

// host is one upstream endpoint of a cluster.
type host struct {
	// addr is what is dialled, host:port.
	addr string
	// hostname replaces the Host header when a route asks for auto_host_rewrite.
	hostname string
	// socket is the transport (plaintext or a TLS context) this endpoint is reached with.
	socket *socket
}

// socket is one way of reaching endpoints: an HTTP transport with its TLS settings and connection pool.
type socket struct {
	tls       *tls.Config // nil: plaintext
	transport *http.Transport
}

// cluster is an upstream cluster, built from a Cluster resource (and, for EDS, a ClusterLoadAssignment).
type cluster struct {
	name string
	src  *clusterv3.Cluster // what it was built from, to keep connection pools when an update changes nothing
	eds  bool
	hash bool // RING_HASH: requests with the same hash key go to the same endpoint

	connectTimeout time.Duration
	maxRequests    int64 // circuit breaker; 0 means Envoy's default (1024)
	inflight       atomic.Int64
	keepalive      *h2Keepalive // HTTP/2 connection keepalive (gRPC clusters)

	sockets map[string]*socket // by transport_socket_matches name; "" is the default transport_socket
	matches []socketMatch
	hosts   atomic.Pointer[[]*host]
	rr      atomic.Uint64

	dnsV4Preferred bool
}

type socketMatch struct {
	name  string
	match map[string]any
}

type h2Keepalive struct{ interval, timeout time.Duration }

// envoyDefaultMaxRequests is Envoy's default circuit-breaker limit on concurrent requests to a cluster.
const envoyDefaultMaxRequests = 1024

// buildCluster turns a Cluster into a cluster. Only what mcpgw's translator and the shipped bootstrap emit is
// accepted; anything else is ErrUnsupported.
func buildCluster(c *clusterv3.Cluster) (*cluster, error) {
	if err := only(c, "name", "type", "connect_timeout", "dns_lookup_family", "load_assignment", "eds_cluster_config",
		"lb_policy", "circuit_breakers", "transport_socket", "transport_socket_matches",
		"typed_extension_protocol_options"); err != nil {
		return nil, fmt.Errorf("cluster %q: %w", c.GetName(), err)
	}
	if c.GetName() == "" {
		return nil, fmt.Errorf("cluster without a name: %w", ErrInvalid)
	}
	out := &cluster{name: c.GetName(), src: c, connectTimeout: 5 * time.Second, maxRequests: envoyDefaultMaxRequests,
		sockets: map[string]*socket{}}
	wrap := func(err error) error { return fmt.Errorf("cluster %q: %w", c.GetName(), err) }
	if d := c.GetConnectTimeout(); d != nil {
		out.connectTimeout = d.AsDuration()
	}
	switch c.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN:
	case clusterv3.Cluster_RING_HASH:
		out.hash = true
	default:
		return nil, wrap(fmt.Errorf("lb_policy %s: %w", c.GetLbPolicy(), ErrUnsupported))
	}
	switch c.GetDnsLookupFamily() {
	case clusterv3.Cluster_AUTO:
	case clusterv3.Cluster_V4_PREFERRED:
		out.dnsV4Preferred = true
	default:
		return nil, wrap(fmt.Errorf("dns_lookup_family %s: %w", c.GetDnsLookupFamily(), ErrUnsupported))
	}
	if err := out.circuitBreakers(c.GetCircuitBreakers()); err != nil {
		return nil, wrap(err)
	}
	idle, http2, ka, err := protocolOptions(c)
	if err != nil {
		return nil, wrap(err)
	}
	out.keepalive = ka
	if out.sockets[""], err = out.newSocket(c.GetTransportSocket(), idle, http2); err != nil {
		return nil, wrap(err)
	}
	for _, m := range c.GetTransportSocketMatches() {
		if err := only(m, "name", "match", "transport_socket"); err != nil {
			return nil, wrap(err)
		}
		if _, dup := out.sockets[m.GetName()]; dup || m.GetName() == "" {
			return nil, wrap(fmt.Errorf("transport socket match %q: empty or repeated name: %w", m.GetName(), ErrInvalid))
		}
		s, err := out.newSocket(m.GetTransportSocket(), idle, http2)
		if err != nil {
			return nil, wrap(err)
		}
		out.sockets[m.GetName()] = s
		out.matches = append(out.matches, socketMatch{name: m.GetName(), match: m.GetMatch().AsMap()})
	}

	switch c.GetType() {
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		if c.GetEdsClusterConfig() != nil {
			return nil, wrap(fmt.Errorf("eds_cluster_config on a %s cluster: %w", c.GetType(), ErrInvalid))
		}
		hosts, err := out.assignment(c.GetLoadAssignment(), c.GetType())
		if err != nil {
			return nil, wrap(err)
		}
		out.hosts.Store(&hosts)
	case clusterv3.Cluster_EDS:
		out.eds = true
		if c.GetLoadAssignment() != nil {
			return nil, wrap(fmt.Errorf("load_assignment on an EDS cluster: %w", ErrUnsupported))
		}
		if err := adsSource(c.GetEdsClusterConfig().GetEdsConfig()); err != nil {
			return nil, wrap(fmt.Errorf("eds_cluster_config: %w", err))
		}
		if n := c.GetEdsClusterConfig().GetServiceName(); n != "" && n != c.GetName() {
			return nil, wrap(fmt.Errorf("eds service_name %q: %w", n, ErrUnsupported))
		}
		out.hosts.Store(&[]*host{})
	default:
		return nil, wrap(fmt.Errorf("type %s: %w", c.GetType(), ErrUnsupported))
	}
	return out, nil
}

// circuitBreakers reads the DEFAULT priority's limits. Only max_requests is enforced (503 when exceeded, as
// Envoy's overflow); max_connections caps the connection pool.
func (c *cluster) circuitBreakers(cb *clusterv3.CircuitBreakers) error {
	if cb == nil {
		return nil
	}
	if err := only(cb, "thresholds"); err != nil {
		return err
	}
	for _, th := range cb.GetThresholds() {
		if err := only(th, "priority", "max_connections", "max_pending_requests", "max_requests", "max_retries",
			"track_remaining"); err != nil {
			return err
		}
		if th.GetPriority() != corev3.RoutingPriority_DEFAULT {
			return fmt.Errorf("circuit breaker priority %s: %w", th.GetPriority(), ErrUnsupported)
		}
		if v := th.GetMaxRequests(); v != nil {
			c.maxRequests = int64(v.GetValue())
		}
	}
	return nil
}

// protocolOptions reads the upstream HTTP protocol options: idle timeout, HTTP/1.1 or HTTP/2, and HTTP/2
// keepalive.
func protocolOptions(c *clusterv3.Cluster) (idle time.Duration, http2 bool, ka *h2Keepalive, err error) {
	for k, v := range c.GetTypedExtensionProtocolOptions() {
		if k != httpProtocolOptionsKey {
			return 0, false, nil, fmt.Errorf("protocol options %q: %w", k, ErrUnsupported)
		}
		var o upstreamhttpv3.HttpProtocolOptions
		if err := unpack(v, &o); err != nil {
			return 0, false, nil, err
		}
		if err := only(&o, "common_http_protocol_options", "explicit_http_config"); err != nil {
			return 0, false, nil, err
		}
		if common := o.GetCommonHttpProtocolOptions(); common != nil {
			if err := only(common, "idle_timeout"); err != nil {
				return 0, false, nil, err
			}
			idle = common.GetIdleTimeout().AsDuration()
		}
		explicit := o.GetExplicitHttpConfig()
		if explicit == nil {
			return 0, false, nil, fmt.Errorf("upstream protocol other than explicit_http_config: %w", ErrUnsupported)
		}
		switch {
		case explicit.GetHttpProtocolOptions() != nil:
			if err := only(explicit.GetHttpProtocolOptions()); err != nil {
				return 0, false, nil, err
			}
		case explicit.GetHttp2ProtocolOptions() != nil:
			h2 := explicit.GetHttp2ProtocolOptions()
			if err := only(h2, "connection_keepalive"); err != nil {
				return 0, false, nil, err
			}
			http2 = true
			if k := h2.GetConnectionKeepalive(); k != nil {
				if err := only(k, "interval", "timeout"); err != nil {
					return 0, false, nil, err
				}
				ka = &h2Keepalive{interval: k.GetInterval().AsDuration(), timeout: k.GetTimeout().AsDuration()}
			}
		default:
			return 0, false, nil, fmt.Errorf("explicit_http_config other than HTTP/1.1 or HTTP/2: %w", ErrUnsupported)
		}
	}
	return idle, http2, ka, nil
}

// newSocket builds the HTTP transport for a transport socket (nil: plaintext).
func (c *cluster) newSocket(ts *corev3.TransportSocket, idle time.Duration, http2 bool) (*socket, error) {
	s := &socket{}
	if ts != nil {
		if err := only(ts, "name", "typed_config"); err != nil {
			return nil, err
		}
		if ts.GetName() != transportSocketTLS {
			return nil, fmt.Errorf("transport socket %q: %w", ts.GetName(), ErrUnsupported)
		}
		var u tlsv3.UpstreamTlsContext
		if err := unpack(ts.GetTypedConfig(), &u); err != nil {
			return nil, err
		}
		cfg, err := upstreamTLS(&u)
		if err != nil {
			return nil, err
		}
		s.tls = cfg
	}
	protocols := new(http.Protocols)
	switch {
	case http2 && s.tls != nil:
		protocols.SetHTTP2(true)
	case http2:
		protocols.SetUnencryptedHTTP2(true)
	default:
		protocols.SetHTTP1(true)
	}
	dialer := &net.Dialer{Timeout: c.connectTimeout}
	s.transport = &http.Transport{
		DialContext:           c.dial(dialer),
		TLSClientConfig:       s.tls,
		Protocols:             protocols,
		IdleConnTimeout:       idle,
		MaxIdleConnsPerHost:   256,
		ResponseHeaderTimeout: 0, // the route timeout governs; mcpgw sets none so SSE streams last
		DisableCompression:    true,
		ForceAttemptHTTP2:     http2,
	}
	return s, nil
}

// dial resolves names the way the cluster's dns_lookup_family says, then connects.
func (c *cluster) dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if _, perr := netip.ParseAddr(h); perr == nil || !c.dnsV4Preferred {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", h, err)
		}
		// V4_PREFERRED: an IPv4 address when the name has one, else the first IPv6 address.
		pick := ips[0]
		for _, ip := range ips {
			if ip.Unmap().Is4() {
				pick = ip.Unmap()
				break
			}
		}
		return d.DialContext(ctx, network, net.JoinHostPort(pick.String(), port))
	}
}

// upstreamTLS turns an UpstreamTlsContext into a client TLS configuration with Envoy's semantics: SNI as given,
// the certificate chain verified against trusted_ca when a validation context is set, and the peer identity checked
// with match_typed_subject_alt_names (not with the SNI: Envoy does not match the host name unless told to).
func upstreamTLS(u *tlsv3.UpstreamTlsContext) (*tls.Config, error) {
	if err := only(u, "sni", "common_tls_context"); err != nil {
		return nil, err
	}
	ctx := u.GetCommonTlsContext()
	if err := only(ctx, "alpn_protocols", "validation_context"); err != nil {
		return nil, err
	}
	cfg := &tls.Config{ServerName: u.GetSni(), MinVersion: tls.VersionTLS12}
	for _, p := range ctx.GetAlpnProtocols() {
		if p != "h2" && p != "http/1.1" {
			return nil, fmt.Errorf("ALPN %q: %w", p, ErrUnsupported)
		}
	}
	vc := ctx.GetValidationContext()
	if vc == nil {
		// Envoy without a validation context accepts any certificate.
		cfg.InsecureSkipVerify = true //nolint:gosec // Envoy's semantics: no validation context, no verification
		return cfg, nil
	}
	if err := only(vc, "trusted_ca", "match_typed_subject_alt_names"); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	ca := vc.GetTrustedCa()
	if err := only(ca, "filename"); err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(ca.GetFilename())
	if err != nil {
		return nil, fmt.Errorf("read trusted_ca: %w", errors.Join(err, ErrInvalid))
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("trusted_ca %s holds no certificate: %w", ca.GetFilename(), ErrInvalid)
	}
	type san struct {
		ip    bool
		value string
	}
	var sans []san
	for _, m := range vc.GetMatchTypedSubjectAltNames() {
		if err := only(m, "san_type", "matcher"); err != nil {
			return nil, err
		}
		if err := only(m.GetMatcher(), "exact"); err != nil {
			return nil, err
		}
		switch m.GetSanType() {
		case tlsv3.SubjectAltNameMatcher_DNS:
			sans = append(sans, san{value: m.GetMatcher().GetExact()})
		case tlsv3.SubjectAltNameMatcher_IP_ADDRESS:
			sans = append(sans, san{ip: true, value: m.GetMatcher().GetExact()})
		default:
			return nil, fmt.Errorf("SAN type %s: %w", m.GetSanType(), ErrUnsupported)
		}
	}
	cfg.InsecureSkipVerify = true //nolint:gosec // verified below, with Envoy's rules rather than Go's host name check
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("upstream sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return fmt.Errorf("verify upstream certificate: %w", err)
		}
		if len(sans) == 0 {
			return nil
		}
		for _, s := range sans {
			if s.ip {
				for _, ip := range leaf.IPAddresses {
					if ip.String() == s.value {
						return nil
					}
				}
				continue
			}
			for _, d := range leaf.DNSNames {
				if strings.EqualFold(d, s.value) {
					return nil
				}
			}
		}
		return errors.New("upstream certificate matches none of the subject alt names")
	}
	return cfg, nil
}

// assignment reads a ClusterLoadAssignment into hosts. typ says how the addresses are resolved: STATIC needs IP
// addresses, LOGICAL_DNS exactly one endpoint.
func (c *cluster) assignment(cla *endpointv3.ClusterLoadAssignment, typ clusterv3.Cluster_DiscoveryType) ([]*host, error) {
	if cla == nil {
		return nil, fmt.Errorf("no load_assignment: %w", ErrInvalid)
	}
	if err := only(cla, "cluster_name", "endpoints"); err != nil {
		return nil, err
	}
	var hosts []*host
	for _, loc := range cla.GetEndpoints() {
		if err := only(loc, "locality", "lb_endpoints"); err != nil {
			return nil, err
		}
		if l := loc.GetLocality(); l != nil && !proto.Equal(l, &corev3.Locality{}) {
			return nil, fmt.Errorf("locality %v: %w", l, ErrUnsupported)
		}
		for _, lb := range loc.GetLbEndpoints() {
			h, err := c.host(lb, typ)
			if err != nil {
				return nil, err
			}
			hosts = append(hosts, h)
		}
	}
	if typ == clusterv3.Cluster_LOGICAL_DNS && len(hosts) != 1 {
		return nil, fmt.Errorf("LOGICAL_DNS with %d endpoints, want 1: %w", len(hosts), ErrInvalid)
	}
	return hosts, nil
}

func (c *cluster) host(lb *endpointv3.LbEndpoint, typ clusterv3.Cluster_DiscoveryType) (*host, error) {
	if err := only(lb, "endpoint", "metadata"); err != nil {
		return nil, err
	}
	ep := lb.GetEndpoint()
	if err := only(ep, "address", "hostname"); err != nil {
		return nil, err
	}
	sa := ep.GetAddress().GetSocketAddress()
	if err := only(ep.GetAddress(), "socket_address"); err != nil {
		return nil, err
	}
	if err := only(sa, "address", "port_value"); err != nil {
		return nil, err
	}
	if sa.GetAddress() == "" || sa.GetPortValue() == 0 {
		return nil, fmt.Errorf("endpoint %v: address and port_value are required: %w", sa, ErrInvalid)
	}
	if _, err := netip.ParseAddr(sa.GetAddress()); err != nil && typ != clusterv3.Cluster_STRICT_DNS &&
		typ != clusterv3.Cluster_LOGICAL_DNS {
		return nil, fmt.Errorf("endpoint %q is not an IP address (a %s cluster resolves no names): %w",
			sa.GetAddress(), typ, ErrInvalid)
	}
	h := &host{addr: net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))), hostname: ep.GetHostname(),
		socket: c.sockets[""]}
	if typ == clusterv3.Cluster_STRICT_DNS || typ == clusterv3.Cluster_LOGICAL_DNS {
		if h.hostname == "" {
			h.hostname = sa.GetAddress()
		}
	}
	md := lb.GetMetadata()
	if md != nil {
		if err := only(md, "filter_metadata"); err != nil {
			return nil, err
		}
		for ns := range md.GetFilterMetadata() {
			if ns != transportSocketMatchNS {
				return nil, fmt.Errorf("endpoint metadata namespace %q: %w", ns, ErrUnsupported)
			}
		}
		if s := c.matchSocket(md.GetFilterMetadata()[transportSocketMatchNS]); s != nil {
			h.socket = s
		}
	}
	return h, nil
}

// matchSocket returns the socket of the first transport_socket_matches entry whose match is a subset of the
// endpoint's envoy.transport_socket_match metadata.
func (c *cluster) matchSocket(md *structpb.Struct) *socket {
	if md == nil {
		return nil
	}
	got := md.AsMap()
	for _, m := range c.matches {
		ok := true
		for k, v := range m.match {
			if got[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return c.sockets[m.name]
		}
	}
	return nil
}

// setEndpoints applies an EDS assignment.
func (c *cluster) setEndpoints(cla *endpointv3.ClusterLoadAssignment) error {
	hosts, err := c.assignment(cla, clusterv3.Cluster_EDS)
	if err != nil {
		return fmt.Errorf("endpoints of cluster %q: %w", c.name, err)
	}
	c.hosts.Store(&hosts)
	return nil
}

// pick chooses an endpoint: the preferred one (a stateful session) when it is still there; with RING_HASH the one
// the hash key maps to (rendezvous hashing: stable while the endpoint set is, and moving only the keys of an
// endpoint that left); otherwise round robin. nil when the cluster has no endpoint.
func (c *cluster) pick(preferred string, key string, hasKey bool) *host {
	hosts := *c.hosts.Load()
	if len(hosts) == 0 {
		return nil
	}
	if preferred != "" {
		for _, h := range hosts {
			if h.addr == preferred {
				return h
			}
		}
	}
	if c.hash && hasKey {
		var best *host
		var bestScore uint64
		for _, h := range hosts {
			f := fnv.New64a()
			_, _ = f.Write([]byte(key))
			_, _ = f.Write([]byte{0})
			_, _ = f.Write([]byte(h.addr))
			if s := f.Sum64(); best == nil || s > bestScore {
				best, bestScore = h, s
			}
		}
		return best
	}
	return hosts[int(c.rr.Add(1)-1)%len(hosts)]
}

// close drops the idle connections of a cluster that was replaced or removed (streams in flight finish).
func (c *cluster) close() {
	for _, s := range c.sockets {
		s.transport.CloseIdleConnections()
	}
}
