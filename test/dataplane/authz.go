package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// headerPartialBody tells the authorization service whether the body it got was cut at max_request_bytes.
const headerPartialBody = "x-envoy-auth-partial-body"

// verdict is the authorization service's answer, reduced to what the filter applies.
type verdict struct {
	allow bool
	// Allowed: request header mutations, and headers for the response.
	headers         []*corev3.HeaderValueOption
	remove          []string
	responseHeaders []*corev3.HeaderValueOption
	// Denied: the local reply.
	status        int
	deniedHeaders []*corev3.HeaderValueOption
	body          []byte

	metadata *structpb.Struct
}

// checkRequest builds the CheckRequest Envoy's ext_authz filter sends: peer addresses, the request's method,
// path, authority, scheme and protocol, every header lower-cased (pseudo-headers included, repeated headers joined
// with ","), the buffered body as raw bytes (or as a string without pack_as_bytes), the route's
// context_extensions, and an empty metadata context (no filter before ext_authz produces metadata here).
func checkRequest(r *http.Request, path string, id uint64, body []byte, hasBody, partial bool, f *authzFilter,
	ext map[string]string) *authv3.CheckRequest {
	headers := make(map[string]string, len(r.Header)+5)
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers[":authority"] = r.Host
	headers[":method"] = r.Method
	headers[":path"] = path
	headers[":scheme"] = "http"
	size := r.ContentLength
	if f.withBody && hasBody {
		headers[headerPartialBody] = strconv.FormatBool(partial)
		size = int64(len(body))
	}
	h := &authv3.AttributeContext_HttpRequest{
		Id:       strconv.FormatUint(id, 10),
		Method:   r.Method,
		Headers:  headers,
		Path:     path,
		Host:     r.Host,
		Scheme:   "http",
		Size:     size,
		Protocol: r.Proto,
	}
	if f.withBody && hasBody {
		if f.packAsBytes {
			h.RawBody = body
		} else {
			h.Body = string(body)
		}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:            peer(r.RemoteAddr),
		Destination:       peer(localAddr(r)),
		Request:           &authv3.AttributeContext_Request{Time: timestamppb.Now(), Http: h},
		ContextExtensions: ext,
		MetadataContext:   &corev3.Metadata{},
	}}
}

func peer(addr string) *authv3.AttributeContext_Peer {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &authv3.AttributeContext_Peer{}
	}
	p, _ := strconv.Atoi(port)
	return &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
		SocketAddress: &corev3.SocketAddress{Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)}},
	}}}
}

func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

// readVerdict interprets a CheckResponse. An answer using fields the data plane does not apply is an error: the
// filter then fails closed like any other authorization failure, and the cause is logged.
func readVerdict(resp *authv3.CheckResponse) (*verdict, error) {
	if err := only(resp, "status", "denied_response", "ok_response", "dynamic_metadata"); err != nil {
		return nil, err
	}
	v := &verdict{metadata: resp.GetDynamicMetadata()}
	if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		v.allow = true
		ok := resp.GetOkResponse()
		if ok == nil {
			return v, nil
		}
		if err := only(ok, "headers", "headers_to_remove", "response_headers_to_add"); err != nil {
			return nil, err
		}
		for _, h := range append(append([]*corev3.HeaderValueOption(nil), ok.GetHeaders()...), ok.GetResponseHeadersToAdd()...) {
			if err := checkHeaderOption(h); err != nil {
				return nil, err
			}
		}
		for _, name := range ok.GetHeadersToRemove() {
			if strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
				return nil, fmt.Errorf("ext_authz may not remove %q: %w", name, ErrInvalid)
			}
		}
		v.headers, v.remove, v.responseHeaders = ok.GetHeaders(), ok.GetHeadersToRemove(), ok.GetResponseHeadersToAdd()
		return v, nil
	}
	v.status = http.StatusForbidden
	d := resp.GetDeniedResponse()
	if d == nil {
		return v, nil
	}
	if err := only(d, "status", "headers", "body"); err != nil {
		return nil, err
	}
	for _, h := range d.GetHeaders() {
		if err := checkHeaderOption(h); err != nil {
			return nil, err
		}
	}
	if c := int(d.GetStatus().GetCode()); c != 0 {
		v.status = c
	}
	v.deniedHeaders, v.body = d.GetHeaders(), []byte(d.GetBody())
	return v, nil
}

// check calls the authorization service with the filter's timeout.
func (d *DataPlane) check(ctx context.Context, f *authzFilter, req *authv3.CheckRequest) (*verdict, error) {
	client, err := d.authzClient(f.cluster)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := client.Check(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("ext_authz check: %w", err)
	}
	return readVerdict(resp)
}
