package mcp

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Keys of the ext_authz context_extensions that xds sets on every MCP route.
const (
	ExtKind    = "kind"    // what the route serves, e.g. "server" or "virtual"
	ExtServer  = "server"  // the server (or virtual server) name
	ExtVersion = "version" // the pinned server version; empty for the default version or for virtual servers

	// ExtFromRequest as the server means the server the request path names (/mcp/{namespace}/{name}/...), and
	// as the version the version the request pins (the Mcp-Server-Version header). xds sets both on the route
	// that catches requests pinning a version no server route matched, so authz answers them with the request's
	// JSON-RPC id (the route's own direct answer cannot carry it).
	ExtFromRequest = "*"

	// DefaultKind is Target.Kind when the route names none, as authz/policy assumes.
	DefaultKind = "server"
)

// MCP methods a client sends that this package knows. A method outside this list (and outside the "notifications/"
// family) is still parsed; its Message.Known is false and Message.Class reports ClassOther, so the policy decides.
const (
	MethodInitialize             = "initialize"
	MethodPing                   = "ping"
	MethodToolsList              = "tools/list"
	MethodToolsCall              = "tools/call"
	MethodResourcesList          = "resources/list"
	MethodResourcesRead          = "resources/read"
	MethodResourcesTemplatesList = "resources/templates/list"
	MethodResourcesSubscribe     = "resources/subscribe"
	MethodResourcesUnsubscribe   = "resources/unsubscribe"
	MethodPromptsList            = "prompts/list"
	MethodPromptsGet             = "prompts/get"
	MethodCompletionComplete     = "completion/complete"
	MethodLoggingSetLevel        = "logging/setLevel"
	MethodServerDiscover         = "server/discover"      // 2026-07-28
	MethodSubscriptionsListen    = "subscriptions/listen" // 2026-07-28
	MethodTasksGet               = "tasks/get"            // 2025-11-25
	MethodTasksResult            = "tasks/result"         // 2025-11-25
	MethodTasksList              = "tasks/list"           // 2025-11-25
	MethodTasksCancel            = "tasks/cancel"         // 2025-11-25

	// NotificationPrefix starts every notification method (notifications/initialized, notifications/cancelled, ...).
	NotificationPrefix = "notifications/"
)

// Classes that Message.Class reports besides the known method names.
const (
	ClassOther    = "other"    // a method this package does not know
	ClassResponse = "response" // a JSON-RPC response sent by the client (answer to a server-initiated request)
)

// knownMethod returns the canonical constant for a known method, so that the common case does not allocate.
func knownMethod(b []byte) (string, bool) {
	switch string(b) {
	case MethodInitialize:
		return MethodInitialize, true
	case MethodPing:
		return MethodPing, true
	case MethodToolsList:
		return MethodToolsList, true
	case MethodToolsCall:
		return MethodToolsCall, true
	case MethodResourcesList:
		return MethodResourcesList, true
	case MethodResourcesRead:
		return MethodResourcesRead, true
	case MethodResourcesTemplatesList:
		return MethodResourcesTemplatesList, true
	case MethodResourcesSubscribe:
		return MethodResourcesSubscribe, true
	case MethodResourcesUnsubscribe:
		return MethodResourcesUnsubscribe, true
	case MethodPromptsList:
		return MethodPromptsList, true
	case MethodPromptsGet:
		return MethodPromptsGet, true
	case MethodCompletionComplete:
		return MethodCompletionComplete, true
	case MethodLoggingSetLevel:
		return MethodLoggingSetLevel, true
	case MethodServerDiscover:
		return MethodServerDiscover, true
	case MethodSubscriptionsListen:
		return MethodSubscriptionsListen, true
	case MethodTasksGet:
		return MethodTasksGet, true
	case MethodTasksResult:
		return MethodTasksResult, true
	case MethodTasksList:
		return MethodTasksList, true
	case MethodTasksCancel:
		return MethodTasksCancel, true
	case "notifications/initialized":
		return "notifications/initialized", true
	case "notifications/cancelled":
		return "notifications/cancelled", true
	case "notifications/progress":
		return "notifications/progress", true
	case "notifications/roots/list_changed":
		return "notifications/roots/list_changed", true
	}
	s := string(b)
	return s, strings.HasPrefix(s, NotificationPrefix)
}

// Target is what the route serves, read from the route's context_extensions (authz never parses paths).
type Target struct {
	Kind    string `json:"kind"`
	Server  string `json:"server"`
	Version string `json:"version,omitempty"`
}

// Op is what an HTTP request does at the MCP endpoint.
type Op string

const (
	// OpMessages is a POST carrying JSON-RPC messages (or, in the stateless revision, their mirrored headers).
	OpMessages Op = "messages"
	// OpOpenStream is a GET opening the standalone SSE stream of protocol revisions 2025-03-26 to 2025-11-25.
	OpOpenStream Op = "open-stream"
	// OpEndSession is a DELETE ending the Mcp-Session-Id session of protocol revisions 2025-03-26 to 2025-11-25.
	OpEndSession Op = "end-session"
)

// Kind is the JSON-RPC shape of a message.
type Kind uint8

const (
	KindRequest      Kind = iota + 1 // has an id and a method: expects a response
	KindNotification                 // has a method and no id
	KindResponse                     // has an id and a result or an error: the client answering a server request
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText renders the kind as its name, so a Message marshals readably into policy input and logs.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// NameKind says what Message.Name names.
type NameKind string

const (
	NameTool     NameKind = "tool"     // tools/call params.name
	NamePrompt   NameKind = "prompt"   // prompts/get params.name; completion/complete ref/prompt name
	NameResource NameKind = "resource" // resources/read|subscribe|unsubscribe params.uri; completion/complete ref/resource uri
)

// Message is one JSON-RPC message of a request.
//
// Responses sent by the client (the answers to sampling/createMessage, elicitation/create or roots/list requests of
// the earlier, stateful revisions) are messages of KindResponse with no Method: without session state the gateway
// cannot know which request they answer, so Class reports ClassResponse and the policy decides (typically: allow
// for any caller allowed on the server, since the server asked).
type Message struct {
	Kind   Kind            `json:"kind"`
	ID     json.RawMessage `json:"id,omitempty"` // verbatim, so that an error can echo it exactly; nil for notifications
	Method string          `json:"method,omitempty"`
	Known  bool            `json:"known"` // Method is one of the Method constants or a "notifications/" method
	// Name is the tool or prompt name, or the resource URI, the message acts on (see NameKind). For methods this
	// package does not know, it is params.name or else params.uri when either is a string, for information only.
	Name     string   `json:"name,omitempty"`
	NameKind NameKind `json:"name_kind,omitempty"`
	// Arguments is params.arguments of tools/call and prompts/get, verbatim: a JSON object, or nil when absent or
	// null. It is a sub-slice of the request body. ArgumentMap decodes it.
	Arguments json.RawMessage `json:"arguments,omitempty"`
	IsError   bool            `json:"is_error,omitempty"` // a KindResponse carrying an error rather than a result
}

// Class is the method for a known method, ClassOther for an unknown one, and ClassResponse for a response.
func (m *Message) Class() string {
	switch {
	case m.Kind == KindResponse:
		return ClassResponse
	case m.Known:
		return m.Method
	default:
		return ClassOther
	}
}

// ArgumentMap decodes Arguments into the values encoding/json produces with UseNumber (numbers are json.Number, so
// no precision is lost). It returns nil, nil when there are no arguments. The bytes were validated by Parse, so an
// error means Arguments was changed after parsing.
func (m *Message) ArgumentMap() (map[string]any, error) {
	if len(m.Arguments) == 0 {
		return nil, nil
	}
	if err := validateJSON(m.Arguments, maxDepthLimit); err != nil {
		return nil, fmt.Errorf("decode arguments: %w", err)
	}
	obj, ok := decodeValue(m.Arguments).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode arguments: not a JSON object")
	}
	return obj, nil
}

// Request is an MCP request at the gateway, as the policy and the audit see it.
type Request struct {
	Target     Target `json:"target"`
	Op         Op     `json:"op"`
	HTTPMethod string `json:"http_method"`
	Path       string `json:"path"`
	// ProtocolVersion is the MCP-Protocol-Version header; for a legacy initialize without it, the version the
	// client proposes; otherwise Config.DefaultVersion (the specification lets servers assume 2025-03-26).
	ProtocolVersion string `json:"protocol_version"`
	// Stateless reports the stateless revision (2026-07-28 and later): headers were required and checked against
	// the body, there is no session and no batch.
	Stateless bool `json:"stateless"`
	// SessionID is Mcp-Session-Id of the stateful revisions; always empty when Stateless (the header is ignored).
	SessionID string `json:"session_id,omitempty"`
	// Batch reports a JSON-RPC batch (an array body, allowed before the stateless revision). Every message of a
	// batch must be allowed for the request to be allowed.
	Batch bool `json:"batch,omitempty"`
	// BodyInspected is false for a stateless POST whose body did not reach ext_authz: method and name then come
	// from the Mcp-Method and Mcp-Name headers alone (the MCP server validates them against the body), and
	// messages carry no id and no arguments.
	BodyInspected bool `json:"body_inspected"`
	// Messages holds the JSON-RPC messages in body order; empty for OpOpenStream and OpEndSession.
	Messages []Message `json:"messages"`

	one [1]Message // backing store for the common single-message request
}

// ErrorBody renders a JSON-RPC error answer for the whole request, for a 401, 403 or 400 decided after parsing.
//
// A single message gets one error object echoing its id. A batch gets a JSON array holding one error object per
// request message of the batch, each echoing that message's id, which is what a JSON-RPC client awaiting a batch
// answer correlates; notifications and responses get none, as JSON-RPC prescribes. When there is nothing to echo
// (GET, DELETE, a headers-only POST, or a batch without requests) the answer is one error object with a null id.
func (r *Request) ErrorBody(code int, message string, data any) []byte {
	if !r.Batch {
		var id json.RawMessage
		if len(r.Messages) == 1 {
			id = r.Messages[0].ID
		}
		return ErrorBody(id, code, message, data)
	}
	n := 0
	for i := range r.Messages {
		if r.Messages[i].Kind == KindRequest {
			n++
		}
	}
	if n == 0 {
		return ErrorBody(nil, code, message, data)
	}
	b := make([]byte, 0, n*(96+len(message)))
	b = append(b, '[')
	first := true
	for i := range r.Messages {
		if r.Messages[i].Kind != KindRequest {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendErrorObject(b, r.Messages[i].ID, code, message, data)
	}
	return append(b, ']')
}
