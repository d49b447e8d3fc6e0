package dataplane

import (
	"fmt"
	"net"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

const (
	filterHCM = "envoy.filters.network.http_connection_manager"
	// filterMCP is Envoy's MCP filter (mcpgw --envoy-mcp-filter). The data plane does not emulate it.
	filterMCP = "envoy.filters.http.mcp"
)

// listenerConfig is a Listener: where it listens and its HTTP connection manager.
type listenerConfig struct {
	name string
	addr string // host:port from the resource
	hcm  *hcmConfig
}

// hcmConfig is the HTTP connection manager of a listener, reduced to what the data plane acts on.
type hcmConfig struct {
	routeConfig string
	// filters in chain order; the last one is the router.
	authz *authzFilter // nil when the chain has no ext_authz
	// session is the listener-level stateful-session header ("" when the filter has no session state).
	session       string
	suppressHdrs  bool
	accessLogs    []*accessLog
	idleTimeout   time.Duration // downstream connection idle timeout
	headerTimeout time.Duration // request_headers_timeout
	streamIdle    time.Duration // stream_idle_timeout (0: Envoy's default 5m)
	maxStream     time.Duration // max_stream_duration (0: none)

	rejectUnderscores bool
	useRemoteAddress  bool
	normalizePath     bool
	mergeSlashes      bool
	unescapeSlashes   bool // UNESCAPE_AND_REDIRECT
}

// authzFilter is the ext_authz filter's configuration.
type authzFilter struct {
	cluster          string
	timeout          time.Duration
	failureModeAllow bool
	statusOnError    int
	withBody         bool
	maxBody          int
	allowPartial     bool
	packAsBytes      bool
	namespaces       []string
}

// buildListener reads a Listener whose single filter chain is one HTTP connection manager taking its routes from
// RDS over ADS.
func buildListener(l *listenerv3.Listener) (*listenerConfig, error) {
	wrap := func(err error) error { return fmt.Errorf("listener %q: %w", l.GetName(), err) }
	if err := only(l, "name", "address", "filter_chains"); err != nil {
		return nil, wrap(err)
	}
	sa := l.GetAddress().GetSocketAddress()
	if err := only(l.GetAddress(), "socket_address"); err != nil {
		return nil, wrap(err)
	}
	if err := only(sa, "address", "port_value"); err != nil {
		return nil, wrap(err)
	}
	if net.ParseIP(sa.GetAddress()) == nil {
		return nil, wrap(fmt.Errorf("address %q is not an IP: %w", sa.GetAddress(), ErrInvalid))
	}
	if len(l.GetFilterChains()) != 1 {
		return nil, wrap(fmt.Errorf("%d filter chains, want 1: %w", len(l.GetFilterChains()), ErrUnsupported))
	}
	fc := l.GetFilterChains()[0]
	if err := only(fc, "filters"); err != nil {
		return nil, wrap(err)
	}
	if len(fc.GetFilters()) != 1 || fc.GetFilters()[0].GetName() != filterHCM {
		return nil, wrap(fmt.Errorf("network filters other than one %s: %w", filterHCM, ErrUnsupported))
	}
	f := fc.GetFilters()[0]
	if err := only(f, "name", "typed_config"); err != nil {
		return nil, wrap(err)
	}
	var hcm hcmv3.HttpConnectionManager
	if err := unpack(f.GetTypedConfig(), &hcm); err != nil {
		return nil, wrap(err)
	}
	h, err := buildHCM(&hcm)
	if err != nil {
		return nil, wrap(err)
	}
	return &listenerConfig{name: l.GetName(), addr: net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))),
		hcm: h}, nil
}

func buildHCM(h *hcmv3.HttpConnectionManager) (*hcmConfig, error) {
	if err := only(h, "stat_prefix", "codec_type", "rds", "http_filters", "access_log", "stream_idle_timeout",
		"request_headers_timeout", "common_http_protocol_options", "use_remote_address", "normalize_path",
		"merge_slashes", "path_with_escaped_slashes_action"); err != nil {
		return nil, err
	}
	if h.GetCodecType() != hcmv3.HttpConnectionManager_AUTO {
		return nil, fmt.Errorf("codec_type %s: %w", h.GetCodecType(), ErrUnsupported)
	}
	rds := h.GetRds()
	if rds == nil {
		return nil, fmt.Errorf("routes not from RDS: %w", ErrUnsupported)
	}
	if err := only(rds, "config_source", "route_config_name"); err != nil {
		return nil, err
	}
	if err := adsSource(rds.GetConfigSource()); err != nil {
		return nil, fmt.Errorf("rds: %w", err)
	}
	out := &hcmConfig{
		routeConfig:      rds.GetRouteConfigName(),
		streamIdle:       5 * time.Minute,
		useRemoteAddress: h.GetUseRemoteAddress().GetValue(),
		normalizePath:    h.GetNormalizePath().GetValue(),
		mergeSlashes:     h.GetMergeSlashes(),
	}
	if out.routeConfig == "" {
		return nil, fmt.Errorf("rds without a route_config_name: %w", ErrInvalid)
	}
	if d := h.GetStreamIdleTimeout(); d != nil {
		out.streamIdle = d.AsDuration()
	}
	out.headerTimeout = h.GetRequestHeadersTimeout().AsDuration()
	if c := h.GetCommonHttpProtocolOptions(); c != nil {
		if err := only(c, "idle_timeout", "headers_with_underscores_action", "max_stream_duration"); err != nil {
			return nil, err
		}
		out.idleTimeout = c.GetIdleTimeout().AsDuration()
		out.maxStream = c.GetMaxStreamDuration().AsDuration()
		switch c.GetHeadersWithUnderscoresAction() {
		case corev3.HttpProtocolOptions_ALLOW:
		case corev3.HttpProtocolOptions_REJECT_REQUEST:
			out.rejectUnderscores = true
		default:
			return nil, fmt.Errorf("headers_with_underscores_action %s: %w", c.GetHeadersWithUnderscoresAction(), ErrUnsupported)
		}
	}
	switch h.GetPathWithEscapedSlashesAction() {
	case hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT, hcmv3.HttpConnectionManager_KEEP_UNCHANGED:
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
		out.unescapeSlashes = true
	default:
		return nil, fmt.Errorf("path_with_escaped_slashes_action %s: %w", h.GetPathWithEscapedSlashesAction(), ErrUnsupported)
	}
	for _, al := range h.GetAccessLog() {
		a, err := buildAccessLog(al)
		if err != nil {
			return nil, err
		}
		out.accessLogs = append(out.accessLogs, a)
	}
	if err := out.filters(h.GetHttpFilters()); err != nil {
		return nil, err
	}
	return out, nil
}

// filters reads the HTTP filter chain: ext_authz and the stateful-session filter, in any order, then the router
// last, as Envoy requires.
func (h *hcmConfig) filters(fs []*hcmv3.HttpFilter) error {
	if len(fs) == 0 || fs[len(fs)-1].GetName() != filterRouter {
		return fmt.Errorf("the HTTP filter chain must end with %s: %w", filterRouter, ErrInvalid)
	}
	for i, f := range fs {
		if err := only(f, "name", "typed_config"); err != nil {
			return err
		}
		switch f.GetName() {
		case filterRouter:
			if i != len(fs)-1 {
				return fmt.Errorf("%s before the end of the chain: %w", filterRouter, ErrInvalid)
			}
			var r routerv3.Router
			if err := unpack(f.GetTypedConfig(), &r); err != nil {
				return err
			}
			if err := only(&r, "suppress_envoy_headers"); err != nil {
				return err
			}
			h.suppressHdrs = r.GetSuppressEnvoyHeaders()
		case filterExtAuthz:
			if h.authz != nil {
				return fmt.Errorf("two ext_authz filters: %w", ErrUnsupported)
			}
			var a extauthzv3.ExtAuthz
			if err := unpack(f.GetTypedConfig(), &a); err != nil {
				return err
			}
			af, err := buildAuthzFilter(&a)
			if err != nil {
				return err
			}
			h.authz = af
		case filterStatefulSession:
			var s statefulsessionv3.StatefulSession
			if err := unpack(f.GetTypedConfig(), &s); err != nil {
				return err
			}
			hdr, err := sessionHeader(&s)
			if err != nil {
				return err
			}
			h.session = hdr
		case filterMCP:
			return fmt.Errorf("HTTP filter %s (mcpgw --envoy-mcp-filter): %w", filterMCP, ErrUnsupported)
		default:
			return fmt.Errorf("HTTP filter %q: %w", f.GetName(), ErrUnsupported)
		}
	}
	return nil
}

func buildAuthzFilter(a *extauthzv3.ExtAuthz) (*authzFilter, error) {
	if err := only(a, "grpc_service", "transport_api_version", "failure_mode_allow", "with_request_body",
		"metadata_context_namespaces", "status_on_error"); err != nil {
		return nil, err
	}
	if a.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		return nil, fmt.Errorf("ext_authz transport_api_version %s: %w", a.GetTransportApiVersion(), ErrUnsupported)
	}
	gs := a.GetGrpcService()
	if err := only(gs, "envoy_grpc", "timeout"); err != nil {
		return nil, err
	}
	if err := only(gs.GetEnvoyGrpc(), "cluster_name"); err != nil {
		return nil, err
	}
	out := &authzFilter{
		cluster:          gs.GetEnvoyGrpc().GetClusterName(),
		timeout:          200 * time.Millisecond, // Envoy's default gRPC service timeout for ext_authz
		failureModeAllow: a.GetFailureModeAllow(),
		statusOnError:    403, // Envoy's default
		namespaces:       a.GetMetadataContextNamespaces(),
	}
	if out.cluster == "" {
		return nil, fmt.Errorf("ext_authz without a cluster: %w", ErrInvalid)
	}
	if t := gs.GetTimeout(); t != nil {
		out.timeout = t.AsDuration()
	}
	if s := a.GetStatusOnError(); s != nil {
		out.statusOnError = int(s.GetCode())
	}
	if b := a.GetWithRequestBody(); b != nil {
		if err := only(b, "max_request_bytes", "allow_partial_message", "pack_as_bytes"); err != nil {
			return nil, err
		}
		out.withBody, out.maxBody = true, int(b.GetMaxRequestBytes())
		out.allowPartial, out.packAsBytes = b.GetAllowPartialMessage(), b.GetPackAsBytes()
		if out.maxBody <= 0 {
			return nil, fmt.Errorf("with_request_body.max_request_bytes must be positive: %w", ErrInvalid)
		}
	}
	return out, nil
}

// adsSource accepts only "over the ADS stream, API v3", the one config source mcpgw uses.
func adsSource(cs *corev3.ConfigSource) error {
	if cs == nil || cs.GetAds() == nil {
		return fmt.Errorf("config source other than ads: %w", ErrUnsupported)
	}
	if err := only(cs, "ads", "resource_api_version"); err != nil {
		return err
	}
	if cs.GetResourceApiVersion() != corev3.ApiVersion_V3 {
		return fmt.Errorf("resource_api_version %s: %w", cs.GetResourceApiVersion(), ErrUnsupported)
	}
	return nil
}
