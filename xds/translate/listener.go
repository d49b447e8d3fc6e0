package translate

import (
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	mcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/mcp/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

const (
	// requestHeadersTimeout bounds how long a client may take to send its request headers (slowloris).
	requestHeadersTimeout = 10 * time.Second
	// downstreamIdleTimeout closes a client connection with no open stream for this long.
	downstreamIdleTimeout = time.Hour
)

// listener builds the mcpgw listener. It depends only on the options, never on the catalog, so it is sent once
// and never changes while the control plane runs: Envoy drains a listener whose config changes, which would end
// every open SSE stream.
func listener(o Options) (*listenerv3.Listener, error) {
	var e encoder
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: ListenerName,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: RouteConfigName,
		}},
		HttpFilters:           e.httpFilters(o),
		AccessLog:             e.accessLogs(o),
		StreamIdleTimeout:     duration(o.StreamIdleTimeout),
		RequestHeadersTimeout: duration(requestHeadersTimeout),
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{
			IdleTimeout:                  duration(downstreamIdleTimeout),
			HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_REJECT_REQUEST,
		},
		// Envoy is the edge: the client address is the peer's, and X-Forwarded-For is not trusted.
		UseRemoteAddress: wrapperspb.Bool(true),
		// Routing and authorization key on the path, so the path Envoy matches must be the path the upstream sees.
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
	}
	if o.MaxStreamDuration > 0 {
		hcm.CommonHttpProtocolOptions.MaxStreamDuration = duration(o.MaxStreamDuration)
	}
	addr := socketAddress(o.ListenerAddress, o.ListenerPort)
	if a, err := netip.ParseAddr(o.ListenerAddress); err == nil && a.Is6() && a.IsUnspecified() {
		// Envoy binds IPv6 listeners with IPV6_V6ONLY unless ipv4_compat is set: "::" alone would refuse every
		// IPv4 client instead of serving both families.
		addr.GetSocketAddress().Ipv4Compat = true
	}
	l := &listenerv3.Listener{
		Name:    ListenerName,
		Address: addr,
		// A stream's request buffer is limited to the connection's buffer limit, and ext_authz (with partial
		// bodies allowed) and the MCP filter buffer up to AuthzMaxRequestBytes against that limit: above Envoy's
		// default, a body between the two would get Envoy's bare 413 before authz saw it.
		PerConnectionBufferLimitBytes: bufferLimit(o.AuthzMaxRequestBytes),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       filterHCM,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: e.any(hcm)},
			}},
		}},
	}
	if e.err != nil {
		return nil, fmt.Errorf("translate listener: %w", e.err)
	}
	return l, nil
}

// envoyDefaultBufferLimit is Envoy's default per_connection_buffer_limit_bytes.
const envoyDefaultBufferLimit = 1 << 20

// bufferLimit is the listener's per-connection buffer limit: Envoy's default unless the body authz reads is larger.
func bufferLimit(bodyBytes uint32) *wrapperspb.UInt32Value {
	if bodyBytes <= envoyDefaultBufferLimit {
		return nil
	}
	return wrapperspb.UInt32(bodyBytes)
}

// httpFilters is the HCM filter chain, in order: the MCP filter (optional), ext_authz, stateful sessions, router.
// An explicit ordered slice: the order is the protocol. The MCP filter runs first so its metadata reaches ext_authz;
// the stateful-session filter is configured per route (off unless a version has several endpoints) and sits after
// ext_authz so that an unauthorized request never picks an upstream.
func (e *encoder) httpFilters(o Options) []*hcmv3.HttpFilter {
	var fs []*hcmv3.HttpFilter
	if o.MCPFilter {
		fs = append(fs, &hcmv3.HttpFilter{Name: filterMCP, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: e.any(&mcpv3.Mcp{
				TrafficMode:        mcpv3.Mcp_PASS_THROUGH,
				MaxRequestBodySize: wrapperspb.UInt32(o.AuthzMaxRequestBytes),
				RequestStorageMode: mcpv3.Mcp_DYNAMIC_METADATA,
			}),
		}})
	}
	fs = append(fs,
		&hcmv3.HttpFilter{Name: filterExtAuthz, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: e.any(extAuthzFilter(o)),
		}},
		&hcmv3.HttpFilter{Name: filterStatefulSession, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			// No session state here: the filter is off unless a route enables it.
			TypedConfig: e.any(&statefulsessionv3.StatefulSession{}),
		}},
		&hcmv3.HttpFilter{Name: filterRouter, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: e.any(&routerv3.Router{SuppressEnvoyHeaders: true}),
		}},
	)
	return fs
}
