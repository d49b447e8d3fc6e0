package mcp

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Protocol revisions this package knows. Revisions from FirstStatelessVersion on are stateless: every POST mirrors
// its method (and, for some methods, its name) into headers and carries its protocol version in params._meta.
const (
	FirstStatelessVersion = "2026-07-28"
	// AssumedVersion is the revision the specification lets a server assume when MCP-Protocol-Version is absent.
	AssumedVersion = "2025-03-26"
)

// KnownVersions returns the MCP protocol revisions this package can parse, oldest first.
func KnownVersions() []string {
	return []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
}

// Limits and defaults of Config.
const (
	DefaultMaxBodyBytes = 1 << 20 // Envoy's ext_authz max_request_bytes in mcpgw's listener
	DefaultMaxBatch     = 64
	DefaultMaxDepth     = 64
	maxDepthLimit       = 512 // hard ceiling for Config.MaxDepth; the scanner recurses once per level
)

// Header names, lower-cased as Envoy delivers them.
const (
	headerProtocolVersion = "mcp-protocol-version"
	headerMethod          = "mcp-method"
	headerName            = "mcp-name"
	headerSessionID       = "mcp-session-id"
	headerServerVersion   = "mcp-server-version"
	// headerPartialBody is set by Envoy when allow_partial_message cut the body at max_request_bytes.
	headerPartialBody = "x-envoy-auth-partial-body"
)

// mcpPathPrefix starts every server's gateway path, /mcp/{namespace}/{name}.
const mcpPathPrefix = "/mcp/"

// metaProtocolVersion is the params._meta key of the stateless revision that must equal MCP-Protocol-Version.
const metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"

// Config bounds what Parse accepts. The zero value is valid and means the defaults.
type Config struct {
	// MaxBodyBytes rejects larger bodies with 413 (default DefaultMaxBodyBytes).
	MaxBodyBytes int
	// MaxBatch is the largest JSON-RPC batch accepted (default DefaultMaxBatch).
	MaxBatch int
	// MaxDepth is the deepest nesting of arrays and objects accepted, counting the message itself as 1
	// (default DefaultMaxDepth, at most 512).
	MaxDepth int
	// SupportedVersions lists the MCP-Protocol-Version values accepted (default KnownVersions()). Any other value is
	// answered with UnsupportedProtocolVersion (-32022) listing these.
	SupportedVersions []string
	// RequireVersionHeader rejects every request without MCP-Protocol-Version except a legacy initialize, instead of
	// assuming AssumedVersion for it. AssumedVersion must then be absent from SupportedVersions to be refused.
	RequireVersionHeader bool
}

// Validate checks the configuration once, at start.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d is negative", c.MaxBodyBytes))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("max batch %d is negative", c.MaxBatch))
	}
	if c.MaxDepth < 0 || c.MaxDepth > maxDepthLimit {
		errs = append(errs, fmt.Errorf("max depth %d is outside 0..%d", c.MaxDepth, maxDepthLimit))
	}
	if c.MaxDepth > 0 && c.MaxDepth < 4 {
		errs = append(errs, fmt.Errorf("max depth %d cannot hold tools/call arguments (needs at least 4)", c.MaxDepth))
	}
	for _, v := range c.SupportedVersions {
		if !versionShape(v) {
			errs = append(errs, fmt.Errorf("supported version %q is not of the form YYYY-MM-DD", v))
		}
	}
	if c.SupportedVersions != nil && len(c.SupportedVersions) == 0 {
		errs = append(errs, errors.New("supported versions is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate mcp config: %w", err)
	}
	return nil
}

func versionShape(v string) bool {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i != 4 && i != 7 && (v[i] < '0' || v[i] > '9') {
			return false
		}
	}
	return true
}

// Parser turns the HTTP request ext_authz sees into a Request. It holds only configuration and is safe for
// concurrent use.
type Parser struct {
	maxBody   int
	maxBatch  int
	maxDepth  int
	supported []string
	assumed   string    // version assumed without the header; empty when the header is required
	scratch   sync.Pool // of *scratch
}

// NewParser validates cfg and returns a Parser.
func NewParser(cfg Config) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Parser{
		maxBody:   cmpOr(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		maxBatch:  cmpOr(cfg.MaxBatch, DefaultMaxBatch),
		maxDepth:  cmpOr(cfg.MaxDepth, DefaultMaxDepth),
		supported: slices.Clone(cfg.SupportedVersions),
	}
	if p.supported == nil {
		p.supported = KnownVersions()
	}
	if !cfg.RequireVersionHeader {
		p.assumed = AssumedVersion
	}
	return p, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Input is what ext_authz knows of one HTTP request.
type Input struct {
	Method  string            // HTTP method
	Path    string            // request path, kept for audit only
	Headers map[string]string // header names lower-cased, as Envoy's CheckRequest carries them
	// Body is the raw request body as Envoy buffered it. The returned Request keeps sub-slices of it (ids,
	// arguments), so it must not be modified afterwards.
	Body []byte
	// ContextExtensions are the route's ext_authz context_extensions (ExtKind, ExtServer, ExtVersion).
	ContextExtensions map[string]string
}

// Parse reads one HTTP request at an MCP endpoint. A client fault is returned as *Error (render it with its Status
// and Body); a route without a target is ErrNoTarget, which the caller must treat as its own fault (fail closed).
//
// POST bodies are parsed strictly: RFC 8259 syntax, valid UTF-8, no unpaired surrogate escapes, no duplicate object
// keys at any depth, also none equal under Unicode case folding (so the gateway and a server decoding with
// encoding/json cannot read different values for one key), no case variant of a member the parser reads, nesting at most
// MaxDepth, and batches of at most MaxBatch messages. Top-level members JSON-RPC does not define are ignored.
func (p *Parser) Parse(in Input) (*Request, error) {
	t, err := TargetOf(in)
	if err != nil {
		return nil, err
	}
	r := &Request{Target: t, HTTPMethod: in.Method, Path: in.Path}

	version, hasVersion := in.Headers[headerProtocolVersion]
	if hasVersion {
		if !headerSafe(version) {
			return nil, headerMismatch("MCP-Protocol-Version has invalid characters")
		}
		if !slices.Contains(p.supported, version) {
			return nil, p.unsupported(version)
		}
		r.ProtocolVersion = version
		r.Stateless = version >= FirstStatelessVersion
	}

	switch in.Method {
	case http.MethodPost:
		r.Op = OpMessages
	case http.MethodGet:
		r.Op = OpOpenStream
	case http.MethodDelete:
		r.Op = OpEndSession
	default:
		return nil, &Error{Status: http.StatusMethodNotAllowed, Code: CodeInvalidRequest,
			Message: "Invalid Request: the MCP endpoint accepts POST, GET and DELETE"}
	}
	if !r.Stateless {
		if err := r.session(in.Headers); err != nil {
			return nil, err
		}
	}
	if r.Op != OpMessages {
		if !hasVersion {
			r.ProtocolVersion = p.assumed
		}
		if r.Op == OpEndSession && r.SessionID == "" && !r.Stateless {
			return nil, invalidRequest("DELETE needs an Mcp-Session-Id header")
		}
		return r, nil
	}

	if len(in.Body) > p.maxBody || in.Headers[headerPartialBody] == "true" {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeInvalidRequest,
			Message: fmt.Sprintf("Invalid Request: body larger than %d bytes", p.maxBody)}
	}
	if len(in.Body) == 0 {
		if !r.Stateless {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeParseError, Message: "Parse error: empty body"}
		}
		if err := p.headersOnly(r, in.Headers); err != nil {
			return nil, err
		}
		return r, nil
	}
	r.BodyInspected = true
	var fields bodyFields
	if err := p.body(r, in.Body, &fields); err != nil {
		return nil, err
	}
	if r.Stateless && r.Messages[0].Kind == KindResponse {
		return nil, withID(invalidRequest("the stateless protocol revision does not accept responses from the client"),
			r.Messages[0].ID)
	}
	if err := p.mirrored(r, in.Headers, &fields); err != nil {
		return nil, err
	}
	if err := p.versions(r, hasVersion, &fields); err != nil {
		return nil, err
	}
	return r, nil
}

// TargetOf returns the target a request's route names: its context_extensions, with ExtFromRequest resolved from
// the request. A route without a server (or a path naming none) is ErrNoTarget.
func TargetOf(in Input) (Target, error) {
	ext := in.ContextExtensions
	t := Target{Kind: ext[ExtKind], Server: ext[ExtServer], Version: ext[ExtVersion]}
	if t.Server == ExtFromRequest {
		t.Server = serverInPath(in.Path)
	}
	if t.Version == ExtFromRequest {
		t.Version = in.Headers[headerServerVersion]
	}
	if t.Server == "" {
		return Target{}, ErrNoTarget
	}
	if t.Kind == "" {
		t.Kind = DefaultKind
	}
	return t, nil
}

// serverInPath returns "namespace/name" of a path /mcp/{namespace}/{name}[/...][?...], or "" when the path names
// no server. The name is not validated: a name that no server has is the catalog's 404.
func serverInPath(path string) string {
	path, _, _ = strings.Cut(path, "?")
	rest, ok := strings.CutPrefix(path, mcpPathPrefix)
	if !ok {
		return ""
	}
	ns, rest, ok := strings.Cut(rest, "/")
	if !ok || ns == "" {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	if name == "" {
		return ""
	}
	return ns + "/" + name
}

func (p *Parser) unsupported(requested string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedProtocolVersion,
		Message: "Unsupported protocol version",
		Data:    UnsupportedVersionData{Supported: slices.Clone(p.supported), Requested: requested}}
}

// session reads Mcp-Session-Id of the stateful revisions: visible ASCII only (0x21-0x7E), per 2025-11-25.
func (r *Request) session(h map[string]string) error {
	id, ok := h[headerSessionID]
	if !ok {
		return nil
	}
	if id == "" {
		return invalidRequest("Mcp-Session-Id is empty")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7E {
			return invalidRequest("Mcp-Session-Id must be visible ASCII")
		}
	}
	r.SessionID = id
	return nil
}

// headersOnly builds the single message of a stateless POST whose body ext_authz did not receive.
func (p *Parser) headersOnly(r *Request, h map[string]string) error {
	method, ok := h[headerMethod]
	if !ok || method == "" {
		return headerMismatch("Mcp-Method header is required")
	}
	if !headerSafe(method) {
		return headerMismatch("Mcp-Method has invalid characters")
	}
	m := &r.one[0]
	m.Method, m.Known = knownMethod([]byte(method))
	m.Kind = KindRequest
	if len(m.Method) > len(NotificationPrefix) && m.Method[:len(NotificationPrefix)] == NotificationPrefix {
		m.Kind = KindNotification
	}
	m.NameKind = nameKindOf(m.Method)
	name, hasName := h[headerName]
	if hasName {
		n, err := decodeHeaderValue(name)
		if err != nil {
			return err
		}
		m.Name = n
	}
	if !hasName && nameRequired(m.Method) {
		return headerMismatch("Mcp-Name header is required for " + m.Method)
	}
	r.Messages = r.one[:1]
	return nil
}

// nameRequired lists the methods whose Mcp-Name header the stateless revision requires.
func nameRequired(method string) bool {
	return method == MethodToolsCall || method == MethodResourcesRead || method == MethodPromptsGet
}

// nameKindOf is what Name means for a method whose name comes from params.name or params.uri.
func nameKindOf(method string) NameKind {
	switch method {
	case MethodToolsCall:
		return NameTool
	case MethodPromptsGet:
		return NamePrompt
	case MethodResourcesRead, MethodResourcesSubscribe, MethodResourcesUnsubscribe:
		return NameResource
	}
	return ""
}

// versions reconciles MCP-Protocol-Version with the body. A body that names its version in params._meta must agree
// with the header, and cannot go without it (that would let a stateless body pass as a legacy one and skip the header
// checks). In the stateless revision every request must name its version; notifications may omit it, since that
// revision defines no header rules for notification POSTs.
func (p *Parser) versions(r *Request, hasVersion bool, f *bodyFields) error {
	for i := range r.Messages {
		m := &r.Messages[i]
		mv := f.metaVersion(i)
		switch {
		case mv.present() && !hasVersion:
			return withID(headerMismatch("MCP-Protocol-Version header is required"), m.ID)
		case mv.present() && !mv.equals(f.buf, r.ProtocolVersion):
			return withID(headerMismatch("MCP-Protocol-Version does not match params._meta"), m.ID)
		case !mv.present() && r.Stateless && m.Kind == KindRequest:
			return withID(headerMismatch("params._meta lacks "+metaProtocolVersion), m.ID)
		}
	}
	if hasVersion {
		return nil
	}
	if v := f.initVersion; v.present() {
		r.ProtocolVersion = stringValue(f.buf[v.start:v.end], v.escaped)
		return nil
	}
	if p.assumed == "" {
		return withID(headerMismatch("MCP-Protocol-Version header is required"), r.Messages[0].ID)
	}
	r.ProtocolVersion = p.assumed
	return nil
}

// mirrored checks Mcp-Method and Mcp-Name against the body. The stateless revision requires them; earlier revisions
// do not, but when a client sends them anyway they must agree with the body too, because a component in front of
// the gateway may already have routed on them. A batch cannot agree with one header, so it may not carry them.
func (p *Parser) mirrored(r *Request, h map[string]string, f *bodyFields) error {
	method, hasMethod := h[headerMethod]
	name, hasName := h[headerName]
	if !hasMethod && !hasName && !r.Stateless {
		return nil
	}
	if r.Batch {
		return headerMismatch("Mcp-Method and Mcp-Name cannot describe a batch")
	}
	m := &r.Messages[0]
	if hasMethod {
		if !headerSafe(method) {
			return withID(headerMismatch("Mcp-Method has invalid characters"), m.ID)
		}
		if method != m.Method {
			return withID(headerMismatch("Mcp-Method does not match the body method"), m.ID)
		}
	} else if r.Stateless && m.Kind == KindRequest {
		return withID(headerMismatch("Mcp-Method header is required"), m.ID)
	}
	if hasName {
		n, err := decodeHeaderValue(name)
		if err != nil {
			return withID(err, m.ID)
		}
		if !f.mirror.equals(f.buf, n) {
			return withID(headerMismatch("Mcp-Name does not match params.name or params.uri"), m.ID)
		}
	} else if r.Stateless && m.Kind == KindRequest && nameRequired(m.Method) {
		return withID(headerMismatch("Mcp-Name header is required for "+m.Method), m.ID)
	}
	return nil
}

func withID(e *Error, id []byte) *Error {
	e.ID = id
	return e
}
