package translate

import (
	"google.golang.org/protobuf/types/known/structpb"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
)

// accessLogFields is the JSON access log record. It never includes the Authorization header or a request body;
// the MCP method and the session come from the MCP filter's metadata and the session header.
func accessLogFields(o Options) map[string]any {
	f := map[string]any{
		"time":             "%START_TIME%",
		"method":           "%REQ(:METHOD)%",
		"path":             "%REQ(:PATH)%",
		"protocol":         "%PROTOCOL%",
		"status":           "%RESPONSE_CODE%",
		"flags":            "%RESPONSE_FLAGS%",
		"details":          "%RESPONSE_CODE_DETAILS%",
		"bytes_in":         "%BYTES_RECEIVED%",
		"bytes_out":        "%BYTES_SENT%",
		"duration_ms":      "%DURATION%",
		"upstream_cluster": "%UPSTREAM_CLUSTER%",
		"upstream_host":    "%UPSTREAM_HOST%",
		"route":            "%ROUTE_NAME%",
		"request_id":       "%REQ(X-REQUEST-ID)%",
		"client":           "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
		"user_agent":       "%REQ(USER-AGENT)%",
		"mcp_session":      "%REQ(MCP-SESSION-ID)%",
		"mcp_version":      "%REQ(MCP-SERVER-VERSION)%",
	}
	if o.MCPFilter {
		f["mcp_method"] = "%DYNAMIC_METADATA(" + MCPMetadataNamespace + ":method)%"
	}
	return f
}

// accessLogs writes JSON to stdout always, and to the gRPC access log service when one is configured.
func (e *encoder) accessLogs(o Options) []*accesslogv3.AccessLog {
	format, err := structpb.NewStruct(accessLogFields(o))
	if err != nil && e.err == nil {
		e.err = err
	}
	logs := []*accesslogv3.AccessLog{{
		Name: accessLogStdout,
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: e.any(&streamv3.StdoutAccessLog{
			AccessLogFormat: &streamv3.StdoutAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{
				Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: format},
			}},
		})},
	}}
	if o.AccessLogCluster != "" {
		logs = append(logs, &accesslogv3.AccessLog{
			Name: accessLogGRPC,
			ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: e.any(&grpcalsv3.HttpGrpcAccessLogConfig{
				CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
					LogName:             ListenerName,
					GrpcService:         envoyGRPC(o.AccessLogCluster, 0),
					TransportApiVersion: corev3.ApiVersion_V3,
				},
				AdditionalRequestHeadersToLog: []string{HeaderSessionID, HeaderServerVersion},
			})},
		})
	}
	return logs
}
