package translate

import (
	"google.golang.org/protobuf/types/known/anypb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// extAuthzFilter is the HCM's ext_authz filter: gRPC to mcpgw_authz with transport API v3, the request body up to
// AuthzMaxRequestBytes packed as raw bytes (MCP bodies are JSON, but bytes avoid a UTF-8 round trip), failing
// closed, and forwarding the MCP filter's metadata. A larger body reaches authz cut and marked with
// x-envoy-auth-partial-body, and authz answers it with a JSON-RPC 413 rather than Envoy's bare one (authz/mcp
// never authorizes a partial body). An authz error or timeout answers 503, which tells the client to retry later
// rather than that it is forbidden.
func extAuthzFilter(o Options) *extauthzv3.ExtAuthz {
	return &extauthzv3.ExtAuthz{
		Services:            &extauthzv3.ExtAuthz_GrpcService{GrpcService: envoyGRPC(AuthzCluster, o.AuthzTimeout)},
		TransportApiVersion: corev3.ApiVersion_V3,
		FailureModeAllow:    false,
		WithRequestBody: &extauthzv3.BufferSettings{
			MaxRequestBytes:     o.AuthzMaxRequestBytes,
			AllowPartialMessage: true,
			PackAsBytes:         true,
		},
		MetadataContextNamespaces: []string{MCPMetadataNamespace},
		StatusOnError:             &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
	}
}

// checkSettings is the per-route ext_authz config naming what the route serves, so authz never parses paths.
func (e *encoder) checkSettings(kind, server, version string) *anypb.Any {
	return e.any(&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: map[string]string{
			ExtKind: kind, ExtServer: server, ExtVersion: version,
		}},
	}})
}

// authzDisabled turns ext_authz off for a route whose upstream authenticates callers itself (the registry API).
func (e *encoder) authzDisabled() *anypb.Any {
	return e.any(&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})
}
