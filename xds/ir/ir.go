package ir

import (
	"slices"
	"strconv"
	"strings"
)

// DefaultFleet is the fleet of an Envoy node that names none (an empty node.cluster), and the fleet the
// acceptance contract uses.
const DefaultFleet = "default"

// Block says why a server gets no route to its upstream. The zero value means the server is routable.
type Block string

// Reasons a server is blocked. A blocked server still gets its /mcp/{namespace}/{name} route, answering 403 with
// a JSON-RPC error, so that a client learns why instead of seeing a 404.
const (
	BlockNone Block = ""
	// BlockDisabled: an operator disabled the server.
	BlockDisabled Block = "disabled"
	// BlockSecurityPending: a scan found a critical or high issue; the server waits for review.
	BlockSecurityPending Block = "security-pending"
	// BlockScanPending: the server has not been scanned yet. The catalog has no scan state yet, so FromCatalog
	// never sets it; it is here so that a scan state plugs in without changing the translator.
	BlockScanPending Block = "scan-pending"
)

// Message is the human-readable reason a client sees in the JSON-RPC error of a blocked route.
func (b Block) Message() string {
	switch b {
	case BlockDisabled:
		return "MCP server is disabled"
	case BlockSecurityPending:
		return "MCP server is blocked pending a security review"
	case BlockScanPending:
		return "MCP server is blocked until its security scan completes"
	case BlockNone:
		return ""
	}
	return "MCP server is blocked"
}

// Transport is how the gateway speaks to a version's upstream.
type Transport string

// Transports the gateway routes. stdio servers are never in the model: they run on the client's machine.
const (
	TransportStreamableHTTP Transport = "streamable-http"
	TransportSSE            Transport = "sse"
)

// Model is the whole catalog as the gateway sees it, for every fleet. Servers and Virtuals are sorted by name.
type Model struct {
	Servers  []*Server
	Virtuals []*VirtualServer
}

// Server is one MCP server with the versions the gateway knows about.
type Server struct {
	// Name is "namespace/name", the catalog key.
	Name string
	// Namespace and Short are the two halves of Name.
	Namespace, Short string
	// Rev is the catalog revision the server was built from; equal revs mean equal servers.
	Rev int64
	// Fleets lists the fleets that route to this server; empty means every fleet.
	Fleets []string
	// Blocked, when set, replaces every route of the server with a 403 and drops its clusters.
	Blocked Block
	// Deprecated is set when the whole server is deprecated: every answer carries a Deprecation header.
	Deprecated bool
	// Versions are the remote (non-stdio) versions, newest first, as the catalog orders them.
	Versions []*Version
}

// Version is one remote version of a server.
type Version struct {
	Version   string
	Transport Transport
	// Endpoints are the upstreams serving the version: the catalog URL first, then its extra endpoints. Never
	// empty for a version that serves.
	Endpoints []Endpoint
	// Path is the upstream path every endpoint shares ("/" when the URL has none). A request for
	// /mcp/{namespace}/{name}/rest goes upstream to Path + "/rest".
	Path string
	// TLS is set for https upstreams.
	TLS bool
	// HTTP2 asks for HTTP/2 to the upstream; HTTP/1.1 otherwise.
	HTTP2 bool
	// ForwardAuthorization keeps the caller's Authorization header on the upstream request.
	ForwardAuthorization bool
	// EgressAuth is set when the gateway authenticates to the upstream itself: the authorization service then
	// owns the upstream Authorization header (it injects the credential), so routes leave that header alone.
	EgressAuth bool
	// Default marks the version served when the request pins none.
	Default bool
	// Deprecated versions still serve, with a Deprecation response header.
	Deprecated bool
	// Retired versions no longer serve: pinning one answers 410.
	Retired bool
}

// Serves reports whether requests for the version reach an upstream.
func (v *Version) Serves() bool { return !v.Retired }

// Endpoint is one upstream address.
type Endpoint struct {
	// Host is a DNS name or an IP literal (without brackets).
	Host string
	Port uint32
	// IP is set when Host is an IP literal: the cluster needs no DNS, and TLS sends no SNI.
	IP bool
}

// HostPort is the value of the upstream Host header: the port is left out when it is the scheme's default.
func (e Endpoint) HostPort(tls bool) string {
	h := e.Host
	if e.IP && strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if tls && e.Port == 443 || !tls && e.Port == 80 {
		return h
	}
	return h + ":" + strconv.FormatUint(uint64(e.Port), 10)
}

// VirtualServer is an MCP server assembled by the registry from tools of other servers; the gateway routes
// /virtual/{name} to the registry, which serves it.
type VirtualServer struct {
	Name    string
	Rev     int64
	Fleets  []string
	Blocked Block
	// Deprecated marks a deprecated virtual server, whose answers carry a Deprecation header.
	Deprecated bool
}

// DefaultVersion returns the version served when the request pins none, or nil.
func (s *Server) DefaultVersion() *Version {
	for _, v := range s.Versions {
		if v.Default {
			return v
		}
	}
	return nil
}

// InFleet reports whether the fleet routes to the server.
func (s *Server) InFleet(fleet string) bool { return inFleet(s.Fleets, fleet) }

// InFleet reports whether the fleet routes to the virtual server.
func (v *VirtualServer) InFleet(fleet string) bool { return inFleet(v.Fleets, fleet) }

func inFleet(fleets []string, fleet string) bool {
	return len(fleets) == 0 || slices.Contains(fleets, fleet)
}

// Gateway is what one fleet routes: the subset of a Model whose servers name the fleet or name none.
type Gateway struct {
	Fleet    string
	Servers  []*Server
	Virtuals []*VirtualServer
}

// Gateway selects the servers and virtual servers the fleet routes. The result shares the Model's servers.
func (m *Model) Gateway(fleet string) *Gateway {
	g := &Gateway{Fleet: fleet}
	for _, s := range m.Servers {
		if s.InFleet(fleet) {
			g.Servers = append(g.Servers, s)
		}
	}
	for _, v := range m.Virtuals {
		if v.InFleet(fleet) {
			g.Virtuals = append(g.Virtuals, v)
		}
	}
	return g
}

// Fleets returns the fleets the model names explicitly, plus DefaultFleet, sorted. Nodes of other fleets get
// a gateway with the servers that name no fleet.
func (m *Model) Fleets() []string {
	out := []string{DefaultFleet}
	for _, s := range m.Servers {
		out = append(out, s.Fleets...)
	}
	for _, v := range m.Virtuals {
		out = append(out, v.Fleets...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
