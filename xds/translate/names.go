package translate

// Names of the resources and the static clusters the fleet shares with the Envoy bootstrap (envoy/bootstrap.yaml).
// Renaming any of them is a breaking change for deployed bootstraps.
const (
	// ListenerName is the one listener for MCP traffic.
	ListenerName = "mcpgw"
	// RouteConfigName is the route configuration the listener's HCM fetches over RDS.
	RouteConfigName = "mcpgw"
	// VirtualHostName is the single virtual host (every domain).
	VirtualHostName = "mcpgw"
	// XDSCluster is the static bootstrap cluster pointing at mcpgw's ADS server.
	XDSCluster = "mcpgw_xds"
	// AuthzCluster is the static bootstrap cluster of mcpgw's ext_authz gRPC server.
	AuthzCluster = "mcpgw_authz"
	// RegistryCluster is the static bootstrap cluster of mcpgw's registry HTTP server. It is static rather than
	// sent over CDS because the registry's address is deployment wiring, like the ADS and authz addresses, and
	// Envoy refuses a CDS cluster that shadows a static one.
	RegistryCluster = "mcpgw_registry"
)

// Envoy extension names and the filter-metadata namespace of the MCP filter.
const (
	filterHCM             = "envoy.filters.network.http_connection_manager"
	filterMCP             = "envoy.filters.http.mcp"
	filterExtAuthz        = "envoy.filters.http.ext_authz"
	filterStatefulSession = "envoy.filters.http.stateful_session"
	filterRouter          = "envoy.filters.http.router"
	accessLogStdout       = "envoy.access_loggers.stdout"
	accessLogGRPC         = "envoy.access_loggers.http_grpc"
	transportSocketTLS    = "envoy.transport_sockets.tls"
	httpProtocolOptions   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	sessionStateEnvelope  = "envoy.http.stateful_session.envelope"

	// MCPMetadataNamespace is where Envoy's MCP filter puts what it parsed; ext_authz forwards it.
	MCPMetadataNamespace = filterMCP
)

// HTTP headers the routes read and write.
const (
	// HeaderServerVersion pins a server version on a request.
	HeaderServerVersion = "mcp-server-version"
	// HeaderSessionID is the MCP session header that multi-endpoint versions hash and keep sticky.
	HeaderSessionID = "mcp-session-id"
	// HeaderDeprecation marks answers from a deprecated server or version.
	HeaderDeprecation = "deprecation"
)

// Keys and values of the ext_authz context_extensions every authorized route carries. authz/mcp reads these.
const (
	ExtKind    = "kind"
	ExtServer  = "server"
	ExtVersion = "version"

	KindServer        = "server"
	KindVirtual       = "virtual"
	KindRegistryTools = "registry-tools"

	// RegistryToolsServer is the ExtServer value of the airegistry-tools route.
	RegistryToolsServer = "airegistry-tools"

	// ExtFromRequest as ExtServer and ExtVersion tells authz to take the server from the request path and the
	// version from the Mcp-Server-Version header (the unknown-version route, which serves every server).
	ExtFromRequest = "*"
)

// Paths the gateway serves.
const (
	PathMCP           = "/mcp/"
	PathVirtual       = "/virtual/"
	PathRegistryTools = "/airegistry-tools/mcp"
	PathAPI           = "/api/"
	PathWellKnown     = "/.well-known/"
)

// ClusterName names the cluster of one server version: "mcp|namespace/name|version". Server names and semantic
// versions never contain '|', so the name is unambiguous.
func ClusterName(server, version string) string { return "mcp|" + server + "|" + version }

// ServerPath is the gateway path of a server: /mcp/{namespace}/{name}.
func ServerPath(server string) string { return PathMCP + server }

// VirtualPath is the gateway path of a virtual server: /virtual/{name}.
func VirtualPath(name string) string { return PathVirtual + name }
