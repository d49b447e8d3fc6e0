package extauthz

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/policy"
)

// Headers this server sets on the upstream request.
const (
	HeaderSubject    = "x-mcpgw-subject"     // the user's subject (user tokens)
	HeaderClientID   = "x-mcpgw-client-id"   // the client id (machine tokens)
	HeaderDecisionID = "x-mcpgw-decision-id" // the audit decision id

	// HeaderPrefix starts every header mcpgw sets upstream; the client's own headers with this prefix never reach
	// the upstream, so an upstream can trust them.
	HeaderPrefix = "x-mcpgw-"
)

// Keys of the dynamic metadata of every answer, in the envoy.filters.http.ext_authz namespace.
const (
	MetaDecisionID = "decision_id"
	MetaSubject    = "subject" // the user's subject, or the client id of a machine token
	MetaClient     = "client"  // the OAuth client: the machine's client id or the user token's authorized party
	MetaTool       = "tool"    // the tools/call tool names, comma-separated
	MetaAllow      = "allow"
)

// header is one response or upstream header.
type header struct{ key, value string }

// allowResponse renders an allow: identity and decision headers upstream (the policy's headers of every allowed
// message on top), the Authorization header removed unless the route forwards it, and every other client-sent
// x-mcpgw-* header removed. A header value an identity claim made unsendable is an error (fail closed).
func allowResponse(p identity.Principal, decisions []policy.Decision, forward bool, reqHeaders map[string]string,
	r *mcp.Request, decisionID string) (*authv3.CheckResponse, error) {
	set := map[string]string{HeaderDecisionID: decisionID}
	if p.Subject != "" {
		set[HeaderSubject] = p.Subject
	}
	if p.ClientID != "" {
		set[HeaderClientID] = p.ClientID
	}
	for _, d := range decisions {
		for k, v := range d.Headers {
			k = strings.ToLower(k)
			if k == HeaderDecisionID {
				continue
			}
			set[k] = v
		}
	}
	keys := make([]string, 0, len(set))
	for k, v := range set {
		if !headerName(k) || !headerValue(v) {
			return nil, fmt.Errorf("render upstream header %q: not a valid header field", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ok := &authv3.OkHttpResponse{Headers: make([]*corev3.HeaderValueOption, len(keys))}
	for i, k := range keys {
		ok.Headers[i] = headerOption(k, set[k])
	}
	if _, present := reqHeaders["authorization"]; present && !forward {
		if _, replaced := set["authorization"]; !replaced {
			ok.HeadersToRemove = append(ok.HeadersToRemove, "authorization")
		}
	}
	var spoofed []string
	for k := range reqHeaders {
		if strings.HasPrefix(k, HeaderPrefix) {
			if _, replaced := set[k]; !replaced {
				spoofed = append(spoofed, k)
			}
		}
	}
	slices.Sort(spoofed)
	ok.HeadersToRemove = append(ok.HeadersToRemove, spoofed...)
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: ok},
		DynamicMetadata: metadata(p, r, decisionID, true),
	}, nil
}

// unauthorizedResponse renders a 401 for a missing (identity.ErrNoToken) or invalid token: an RFC 6750 challenge
// with the RFC 9728 resource_metadata URL, and a JSON-RPC error echoing the request's ids.
func unauthorizedResponse(err error, r *mcp.Request, metadataURL, decisionID string) *authv3.CheckResponse {
	var challenge, message string
	if errors.Is(err, identity.ErrNoToken) {
		// RFC 6750 §3.1: a request without authentication information gets no error code.
		challenge = bearer("resource_metadata", metadataURL)
		message = "Unauthorized: a bearer token is required"
	} else {
		desc := tokenFault(err)
		challenge = bearer("error", "invalid_token", "error_description", desc, "resource_metadata", metadataURL)
		message = "Unauthorized: " + desc
	}
	data := struct {
		ResourceMetadata string `json:"resource_metadata"`
		DecisionID       string `json:"decision_id"`
	}{metadataURL, decisionID}
	var body []byte
	if r != nil {
		body = r.ErrorBody(CodeUnauthorized, message, data)
	} else {
		body = mcp.ErrorBody(nil, CodeUnauthorized, message, data)
	}
	return deniedResponse(http.StatusUnauthorized, []header{{"www-authenticate", challenge}}, body,
		metadata(identity.Principal{}, r, decisionID, false))
}

// tokenFaults are the client-safe descriptions of token faults, most specific first.
var tokenFaults = []struct {
	err  error
	desc string
}{
	{identity.ErrExpired, "the token has expired"},
	{identity.ErrNotYetValid, "the token is not yet valid"},
	{identity.ErrAudience, "the token is not meant for this resource"},
	{identity.ErrUnknownIssuer, "the token's issuer is not trusted"},
	{identity.ErrAlgorithmNotAllowed, "the token's signature algorithm is not accepted"},
	{identity.ErrUnknownKey, "the token's signing key is unknown"},
	{identity.ErrBadSignature, "the token's signature is invalid"},
	{identity.ErrMissingClaim, "the token lacks a required claim"},
	{identity.ErrMalformedToken, "the token is malformed"},
}

// tokenFault describes a token fault to the client without internal details.
func tokenFault(err error) string {
	for _, f := range tokenFaults {
		if errors.Is(err, f.err) {
			return f.desc
		}
	}
	return "the token is invalid"
}

// unauthorizedReason is the audit reason of a 401.
func unauthorizedReason(err error) string {
	if errors.Is(err, identity.ErrNoToken) {
		return "no bearer token"
	}
	return err.Error()
}

// badRequestResponse renders a parse error with its own status and JSON-RPC body.
func badRequestResponse(e *mcp.Error, p identity.Principal, decisionID string) *authv3.CheckResponse {
	return deniedResponse(e.Status, nil, e.Body(), metadata(p, nil, decisionID, false))
}

// targetResponse renders 404 (unknown server) or 410 (retired version).
func targetResponse(status int, r *mcp.Request, p identity.Principal, decisionID string) *authv3.CheckResponse {
	message := "Not found: no such MCP server at this gateway"
	if status == http.StatusGone {
		message = "Gone: this version of the MCP server is retired"
	}
	return deniedResponse(status, nil, r.ErrorBody(CodeNotFound, message, nil), metadata(p, r, decisionID, false))
}

// forbiddenData is the data member of a 403's JSON-RPC error.
type forbiddenData struct {
	RequiredScopes []string `json:"required_scopes,omitempty"`
	DecisionID     string   `json:"decision_id"`
	// DeniedID is the id of the batch message that was denied, on the errors of the other messages of its batch.
	DeniedID json.RawMessage `json:"denied_id,omitempty"`
}

// forbiddenResponse renders a 403 for the message denied: an insufficient_scope challenge naming the scopes that
// would allow it (MCP authorization: all the scopes the operation needs, in one challenge), and a JSON-RPC error
// echoing its id. In a batch every request gets an error object (JSON-RPC answers a batch with an array), the
// denied message the policy's reason, the others a pointer to it. The policy's other denial headers are kept.
func forbiddenResponse(r *mcp.Request, denied int, d policy.Decision, p identity.Principal, metadataURL,
	decisionID string) *authv3.CheckResponse {
	params := []string{"error", "insufficient_scope"}
	if len(d.RequiredScopes) > 0 {
		params = append(params, "scope", strings.Join(d.RequiredScopes, " "))
	}
	params = append(params, "resource_metadata", metadataURL)
	headers := []header{{"www-authenticate", bearer(params...)}}
	for _, k := range sortedKeys(d.Headers) {
		if lk := strings.ToLower(k); lk != "www-authenticate" && headerName(lk) && headerValue(d.Headers[k]) {
			headers = append(headers, header{lk, d.Headers[k]})
		}
	}
	message := "Forbidden: " + d.Reason
	data := forbiddenData{RequiredScopes: d.RequiredScopes, DecisionID: decisionID}
	var body []byte
	switch {
	case !r.Batch && denied < len(r.Messages):
		body = mcp.ErrorBody(r.Messages[denied].ID, CodeForbidden, message, data)
	case !r.Batch:
		body = mcp.ErrorBody(nil, CodeForbidden, message, data)
	default:
		body = batchForbiddenBody(r, denied, message, data)
	}
	return deniedResponse(http.StatusForbidden, headers, body, metadata(p, r, decisionID, false))
}

func batchForbiddenBody(r *mcp.Request, denied int, message string, data forbiddenData) []byte {
	deniedID := r.Messages[denied].ID
	var parts [][]byte
	for i := range r.Messages {
		m := &r.Messages[i]
		if m.Kind != mcp.KindRequest {
			continue
		}
		if i == denied {
			parts = append(parts, mcp.ErrorBody(m.ID, CodeForbidden, message, data))
			continue
		}
		other := forbiddenData{DecisionID: data.DecisionID, DeniedID: deniedID}
		parts = append(parts, mcp.ErrorBody(m.ID, CodeForbidden,
			"Forbidden: the batch was refused because another of its messages was denied: "+strings.TrimPrefix(message, "Forbidden: "),
			other))
	}
	if len(parts) == 0 {
		return mcp.ErrorBody(nil, CodeForbidden, message, data)
	}
	b := []byte{'['}
	for i, p := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	return append(b, ']')
}

// deniedResponse renders a denial with a JSON body.
func deniedResponse(status int, headers []header, body []byte, meta *structpb.Struct) *authv3.CheckResponse {
	denied := &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Headers: make([]*corev3.HeaderValueOption, 0, len(headers)+1),
		Body:    string(body),
	}
	denied.Headers = append(denied.Headers, headerOption("content-type", "application/json"))
	for _, h := range headers {
		denied.Headers = append(denied.Headers, headerOption(h.key, h.value))
	}
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(rpcCode(status))},
		HttpResponse:    &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
		DynamicMetadata: meta,
	}
}

// rpcCode is the google.rpc code of a denial. Envoy only tells OK from not OK; the code helps whoever reads the
// gRPC exchange.
func rpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound, http.StatusGone:
		return codes.NotFound
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	}
	return codes.InvalidArgument
}

func headerOption(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// bearer renders an RFC 6750 challenge from name/value pairs, each value a quoted-string.
func bearer(params ...string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	for i := 0; i+1 < len(params); i += 2 {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(params[i])
		b.WriteString(`="`)
		for _, c := range []byte(params[i+1]) {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c == 0x7f:
				// Not representable in a quoted-string: dropped rather than allowed to split the header.
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// metadata is the dynamic metadata of an answer: who, which tools, which decision.
func metadata(p identity.Principal, r *mcp.Request, decisionID string, allow bool) *structpb.Struct {
	f := map[string]*structpb.Value{
		MetaDecisionID: structpb.NewStringValue(decisionID),
		MetaAllow:      structpb.NewBoolValue(allow),
	}
	if s := cmp.Or(p.Subject, p.ClientID); s != "" {
		f[MetaSubject] = structpb.NewStringValue(s)
	}
	if c := client(p); c != "" {
		f[MetaClient] = structpb.NewStringValue(c)
	}
	if t := toolNames(r); t != "" {
		f[MetaTool] = structpb.NewStringValue(t)
	}
	return &structpb.Struct{Fields: f}
}

// client is who the audit and access log name as the client: a machine's client id, or the OAuth client a user's
// token was issued to.
func client(p identity.Principal) string { return cmp.Or(p.ClientID, p.AuthorizedParty) }

// toolNames are the tools/call tool names of the request, comma-separated in body order.
func toolNames(r *mcp.Request) string {
	if r == nil {
		return ""
	}
	if len(r.Messages) == 1 {
		if m := &r.Messages[0]; m.NameKind == mcp.NameTool && m.Method == mcp.MethodToolsCall {
			return m.Name
		}
		return ""
	}
	var names []string
	for i := range r.Messages {
		if m := &r.Messages[i]; m.NameKind == mcp.NameTool && m.Method == mcp.MethodToolsCall {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ",")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
