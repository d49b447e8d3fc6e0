package translate

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Options are the operator's choices for what the fleet receives. They are fixed for a control plane's lifetime,
// so the listener they produce never changes at run time (a listener change makes Envoy drain connections, which
// would cut every open SSE stream).
type Options struct {
	// ListenerAddress is the address the mcpgw listener binds ("0.0.0.0"; "::" for dual stack).
	ListenerAddress string
	// ListenerPort is the port of the mcpgw listener (10000).
	ListenerPort uint32
	// MCPFilter inserts Envoy's MCP filter (envoy.filters.http.mcp) before ext_authz, so that its parsed request
	// attributes reach the authorization service as metadata and the access log. Off by default.
	MCPFilter bool
	// StreamIdleTimeout closes a stream with no activity in either direction for this long (10m). It is the
	// only timeout on a stream: routes carry no timeout that would cut a long SSE response.
	StreamIdleTimeout time.Duration
	// MaxStreamDuration, when positive, caps any stream's lifetime; 0 leaves streams unbounded.
	MaxStreamDuration time.Duration
	// ConnectTimeout bounds connecting to an upstream MCP server (5s).
	ConnectTimeout time.Duration
	// AuthzTimeout bounds one ext_authz check (2s); a check that times out fails closed.
	AuthzTimeout time.Duration
	// AuthzMaxRequestBytes is how much request body ext_authz buffers and sends (1 MiB); a larger body is sent
	// cut and marked partial, and authz refuses it with a JSON-RPC 413.
	AuthzMaxRequestBytes uint32
	// AccessLogCluster, when set, names a static cluster (defined in the Envoy bootstrap) serving the gRPC access
	// log service; every request is then logged there as well as to stdout.
	AccessLogCluster string
	// CABundle is the file of trusted CAs for https upstreams, the system bundle of the Envoy image
	// (/etc/ssl/certs/ca-certificates.crt).
	CABundle string
	// CircuitBreakers bound what one upstream version may take of Envoy.
	CircuitBreakers CircuitBreakers
}

// CircuitBreakers are per-cluster limits. An SSE stream is one request for as long as it is open, so MaxRequests
// is also the cap on concurrent streams to one version.
type CircuitBreakers struct {
	MaxConnections     uint32
	MaxPendingRequests uint32
	MaxRequests        uint32
}

// Defaults.
const (
	DefaultListenerPort         = 10000
	DefaultStreamIdleTimeout    = 10 * time.Minute
	DefaultConnectTimeout       = 5 * time.Second
	DefaultAuthzTimeout         = 2 * time.Second
	DefaultAuthzMaxRequestBytes = 1 << 20
	DefaultCABundle             = "/etc/ssl/certs/ca-certificates.crt"
	// MaxMCPFilterBodyBytes is the largest body Envoy's MCP filter accepts to parse (10 MiB).
	MaxMCPFilterBodyBytes = 10 << 20
)

// DefaultOptions returns the options mcpgw uses when the operator sets none.
func DefaultOptions() Options {
	return Options{
		ListenerAddress:      "0.0.0.0",
		ListenerPort:         DefaultListenerPort,
		StreamIdleTimeout:    DefaultStreamIdleTimeout,
		ConnectTimeout:       DefaultConnectTimeout,
		AuthzTimeout:         DefaultAuthzTimeout,
		AuthzMaxRequestBytes: DefaultAuthzMaxRequestBytes,
		CABundle:             DefaultCABundle,
		CircuitBreakers:      CircuitBreakers{MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 4096},
	}
}

// ErrInvalidOptions wraps every problem Validate reports.
var ErrInvalidOptions = errors.New("invalid gateway options")

// Validate reports every option Envoy would reject or that would make the gateway unsafe.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...)))
	}
	if _, err := netip.ParseAddr(o.ListenerAddress); err != nil {
		bad("listener address %q is not an IP address", o.ListenerAddress)
	}
	if o.ListenerPort == 0 || o.ListenerPort > 65535 {
		bad("listener port %d out of range", o.ListenerPort)
	}
	if o.StreamIdleTimeout <= 0 {
		bad("stream idle timeout must be positive (it is the only bound on an idle stream)")
	}
	if o.MaxStreamDuration < 0 {
		bad("max stream duration must not be negative")
	}
	if o.ConnectTimeout <= 0 {
		bad("connect timeout must be positive")
	}
	if o.AuthzTimeout <= 0 {
		bad("authz timeout must be positive")
	}
	if o.AuthzMaxRequestBytes == 0 || o.AuthzMaxRequestBytes > MaxMCPFilterBodyBytes {
		bad("authz max request bytes must be 1 to %d", MaxMCPFilterBodyBytes)
	}
	if o.AccessLogCluster != "" && (strings.TrimSpace(o.AccessLogCluster) != o.AccessLogCluster ||
		o.AccessLogCluster == AuthzCluster || o.AccessLogCluster == RegistryCluster) {
		bad("access log cluster %q must be a static cluster of its own", o.AccessLogCluster)
	}
	if !strings.HasPrefix(o.CABundle, "/") {
		bad("CA bundle %q must be an absolute path on the Envoy host", o.CABundle)
	}
	cb := o.CircuitBreakers
	if cb.MaxConnections == 0 || cb.MaxPendingRequests == 0 || cb.MaxRequests == 0 {
		bad("circuit breaker limits must be positive")
	}
	return errors.Join(errs...)
}
