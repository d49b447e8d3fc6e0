package extauthz

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/mcp"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/authz/resource"
)

// Verifier turns a bearer token into a principal; identity.Verifier implements it. Errors match
// identity.ErrInvalidToken (401 invalid_token), identity.ErrNoToken (401) or identity.ErrKeysUnavailable (a gRPC
// error: the server's fault).
type Verifier interface {
	Verify(ctx context.Context, raw string) (identity.Principal, error)
}

// Decider decides one gateway call; policy.Engine implements it. An error means the engine could not decide.
type Decider interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Auditor takes decision records without blocking; audit.Batcher implements it. A false return means the record
// was dropped (the auditor counts and reports drops itself); the request is answered either way.
type Auditor interface {
	Submit(rec audit.Record) bool
}

// Catalog resolves a route's target against the catalog the process keeps in memory. kind is one of resource's
// kinds; version is the route's pinned version, "" for the default version. It returns an error matching
// ErrUnknownTarget when no such enabled server (or virtual server) exists, ErrRetired for a retired version, and any
// other error when it cannot tell (a gRPC error: Envoy fails closed). The registry-tools endpoint is a target too:
// the registry's Catalog should report it with ForwardAuthorization set, since the registry verifies the caller's
// token itself.
type Catalog interface {
	Lookup(ctx context.Context, kind, server, version string) (Route, error)
}

// CatalogFunc adapts a function to Catalog.
type CatalogFunc func(ctx context.Context, kind, server, version string) (Route, error)

// Lookup calls f.
func (f CatalogFunc) Lookup(ctx context.Context, kind, server, version string) (Route, error) {
	return f(ctx, kind, server, version)
}

// Route is a resolved target.
type Route struct {
	// Version is the server version the request goes to: the pinned one, or the default version when the route
	// pins none ("" for virtual servers and the registry tools).
	Version string
	// ForwardAuthorization keeps the caller's Authorization header on the upstream request; otherwise it is
	// removed (the MCP specification forbids token passthrough unless the upstream is the token's audience).
	ForwardAuthorization bool
}

var (
	// ErrUnknownTarget means the route's server does not exist, or is not enabled, in the catalog: 404.
	ErrUnknownTarget = errors.New("unknown gateway target")
	// ErrRetired means the route pins a retired server version: 410.
	ErrRetired = errors.New("server version retired")
)

// JSON-RPC error codes of the answers this server renders itself (the parser's codes are in authz/mcp). They lie
// in JSON-RPC's implementation-defined server error range, next to the gateway's own direct answers (xds/translate,
// -32030 to -32032), and away from codes SDKs give a meaning: go-sdk treats -32001, -32003 and -32004 as its
// transport's unknown, client-closing and server-closing errors and would end the session.
const (
	CodeUnauthorized = -32033 // 401: no or invalid bearer token
	CodeForbidden    = -32034 // 403: the policy denied a message
	CodeNotFound     = -32035 // 404 unknown server, 410 retired version
)

// Deps are the Server's collaborators; all but Logger are required.
type Deps struct {
	Verifier Verifier
	Decider  Decider
	Catalog  Catalog
	Auditor  Auditor
	// Logger receives failures (each logged once, here); a "component" attribute is added. Nil discards.
	Logger *slog.Logger
}

// Compile-time checks that the real collaborators fit.
var (
	_ Verifier                   = (*identity.Verifier)(nil)
	_ Decider                    = (*policy.Engine)(nil)
	_ Auditor                    = (*audit.Batcher)(nil)
	_ authv3.AuthorizationServer = (*Server)(nil)
)

// Server is the ext_authz Check server. It is safe for concurrent use and holds no per-request state.
type Server struct {
	base      resource.Base
	parser    *mcp.Parser
	requestID string
	verifier  Verifier
	decider   Decider
	catalog   Catalog
	auditor   Auditor
	log       *slog.Logger
}

// New validates cfg and builds a Server.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("build ext_authz server: %w", err)
	}
	var missing []error
	for name, ok := range map[string]bool{
		"Verifier": d.Verifier != nil, "Decider": d.Decider != nil, "Catalog": d.Catalog != nil, "Auditor": d.Auditor != nil,
	} {
		if !ok {
			missing = append(missing, fmt.Errorf("build ext_authz server: no %s: %w", name, ErrInvalidConfig))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	base, _ := resource.ParseBase(cfg.PublicBaseURL) // validated above
	parser, err := mcp.NewParser(cfg.MCP)
	if err != nil {
		return nil, fmt.Errorf("build ext_authz server: %w: %w", ErrInvalidConfig, err)
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		base:      base,
		parser:    parser,
		requestID: cfg.requestIDHeader(),
		verifier:  d.Verifier,
		decider:   d.Decider,
		catalog:   d.Catalog,
		auditor:   d.Auditor,
		log:       log.With("component", "authz/extauthz"),
	}, nil
}

// Register adds the Authorization service to a gRPC server. Health and reflection are the caller's.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	authv3.RegisterAuthorizationServer(r, s)
}

// check is the state of one Check call.
type check struct {
	start      time.Time
	decisionID string
	requestID  string
	target     mcp.Target
	route      Route
	req        *mcp.Request // nil when the request did not parse
	principal  identity.Principal
	authed     bool
	outcomes   []outcome // one per audit record: per message, or one for a request without messages
}

// outcome is what happened to one message, for its audit record.
type outcome struct {
	allow  bool
	rule   string
	reason string
	args   map[string]any
}

// Rules of the outcomes this server decides without the policy (the policy's own rules are in policy.Decision).
const (
	ruleUnauthenticated = "unauthenticated"
	ruleBadRequest      = "bad_request"
	ruleUnknownTarget   = "unknown_target"
	ruleRetired         = "retired"
	ruleAuthenticated   = "authenticated" // registry-tools: any authenticated caller
	ruleError           = "error"
	ruleBatch           = "batch" // not decided: an earlier message of the batch was denied
)

// Check decides one request. It returns a gRPC error only when it cannot decide (a malformed CheckRequest, a route
// without a target, an engine or key-fetch failure); every answer about the caller's request is a CheckResponse.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	c := &check{start: time.Now(), decisionID: newDecisionID()}
	in, err := httpInput(req)
	if err != nil {
		s.log.ErrorContext(ctx, "refuse check request", "decision_id", c.decisionID, "err", err)
		if errors.Is(err, errNoHTTP) {
			return nil, status.Error(codes.InvalidArgument, "check request has no HTTP attributes")
		}
		return nil, status.Error(codes.FailedPrecondition, "route names an unknown mcpgw target kind")
	}
	c.requestID = in.Headers[s.requestID]
	r, perr := s.parser.Parse(in)
	var bad *mcp.Error
	switch {
	case perr == nil:
		c.req, c.target = r, r.Target
	case errors.Is(perr, mcp.ErrNoTarget):
		s.log.ErrorContext(ctx, "refuse check request", "decision_id", c.decisionID, "path", in.Path, "err", perr)
		return nil, status.Error(codes.FailedPrecondition, "route names no mcpgw target")
	case errors.As(perr, &bad):
		c.target, _ = mcp.TargetOf(in) // Parse resolved it before it read the request

	default:
		return nil, s.fail(ctx, c, "parse MCP request", perr)
	}
	c.route.Version = c.target.Version

	// Authentication comes before any other answer, so a caller without a valid token learns nothing else.
	raw, verr := identity.BearerToken(in.Headers["authorization"])
	if verr == nil {
		c.principal, verr = s.verifier.Verify(ctx, raw)
	}
	if verr != nil {
		if !errors.Is(verr, identity.ErrNoToken) && !errors.Is(verr, identity.ErrInvalidToken) {
			return nil, s.fail(ctx, c, "verify bearer token", verr)
		}
		c.setAll(outcome{rule: ruleUnauthenticated, reason: unauthorizedReason(verr)})
		return s.finish(c, unauthorizedResponse(verr, c.req, s.metadataURL(c.target), c.decisionID)), nil
	}
	c.authed = true
	if bad != nil {
		c.setAll(outcome{rule: ruleBadRequest, reason: bad.Message})
		return s.finish(c, badRequestResponse(bad, c.principal, c.decisionID)), nil
	}

	c.route, err = s.catalog.Lookup(ctx, c.target.Kind, c.target.Server, c.target.Version)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownTarget):
		c.route.Version = c.target.Version
		c.setAll(outcome{rule: ruleUnknownTarget, reason: fmt.Sprintf("no %s %q in the catalog", c.target.Kind, c.target.Server)})
		return s.finish(c, targetResponse(http.StatusNotFound, c.req, c.principal, c.decisionID)), nil
	case errors.Is(err, ErrRetired):
		c.route.Version = c.target.Version
		c.setAll(outcome{rule: ruleRetired, reason: fmt.Sprintf("version %q of %s %q is retired", c.target.Version, c.target.Kind, c.target.Server)})
		return s.finish(c, targetResponse(http.StatusGone, c.req, c.principal, c.decisionID)), nil
	default:
		return nil, s.fail(ctx, c, "look up target", err)
	}

	decisions, denied, err := s.decide(ctx, c)
	if err != nil {
		return nil, s.fail(ctx, c, "decide", err)
	}
	if denied >= 0 {
		d := decisions[denied]
		if d.Status == http.StatusUnauthorized {
			// The policy found no identity in a verified principal: answer as for a missing token.
			return s.finish(c, unauthorizedResponse(identity.ErrNoToken, c.req, s.metadataURL(c.target), c.decisionID)), nil
		}
		return s.finish(c, forbiddenResponse(c.req, denied, d, c.principal, s.metadataURL(c.target), c.decisionID)), nil
	}
	resp, err := allowResponse(c.principal, decisions, c.route.ForwardAuthorization, in.Headers, c.req, c.decisionID)
	if err != nil {
		return nil, s.fail(ctx, c, "build allow response", err)
	}
	return s.finish(c, resp), nil
}

// decide asks the policy about every message in body order and stops at the first denial, whose index it returns
// (-1 when every message is allowed). Messages after a denial are recorded as not decided.
func (s *Server) decide(ctx context.Context, c *check) ([]policy.Decision, int, error) {
	r := c.req
	n := max(len(r.Messages), 1)
	c.outcomes = make([]outcome, n)
	decisions := make([]policy.Decision, 0, n)
	registryTools := c.target.Kind == resource.KindRegistryTools
	in := policy.Input{
		Principal: policyPrincipal(c.principal),
		Target:    policy.Target{Kind: c.target.Kind, Server: c.target.Server, Version: c.route.Version},
		MCP:       policy.MCP{HTTPMethod: r.HTTPMethod},
	}
	for i := range n {
		if i < len(r.Messages) {
			m := &r.Messages[i]
			args, err := m.ArgumentMap()
			if err != nil {
				return nil, -1, err
			}
			in.MCP.Method, in.MCP.Name, in.MCP.NameKind, in.MCP.Arguments = m.Method, m.Name, string(m.NameKind), args
			c.outcomes[i].args = args
		}
		var d policy.Decision
		if registryTools {
			// The registry answers its tools with the caller's visibility (the same policy); the gateway only
			// makes sure there is a caller.
			d = policy.Decision{Allow: true, Status: http.StatusOK, Rule: ruleAuthenticated,
				Reason: "the registry tools serve any authenticated caller"}
		} else {
			var err error
			if d, err = s.decider.Decide(ctx, in); err != nil {
				return nil, -1, err
			}
		}
		decisions = append(decisions, d)
		c.outcomes[i].allow, c.outcomes[i].rule, c.outcomes[i].reason = d.Allow, d.Rule, d.Reason
		if !d.Allow {
			for j := range c.outcomes {
				switch {
				case j < i:
					// Allowed on its own, but not forwarded: the batch is refused as a whole.
					c.outcomes[j].allow = false
					c.outcomes[j].reason += fmt.Sprintf("; not forwarded: message #%d of the batch was denied", i)
				case j > i:
					c.outcomes[j] = outcome{rule: ruleBatch, reason: fmt.Sprintf("not decided: message #%d of the batch was denied", i)}
				}
			}
			return decisions, i, nil
		}
	}
	return decisions, -1, nil
}

// fail records a decision the server could not make and returns the gRPC error Envoy fails closed on.
func (s *Server) fail(ctx context.Context, c *check, what string, err error) error {
	code, msg := codes.Internal, "authorization engine failure"
	switch {
	case errors.Is(err, identity.ErrKeysUnavailable):
		code, msg = codes.Unavailable, "issuer keys unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code, msg = status.FromContextError(err).Code(), "check abandoned"
	}
	s.log.ErrorContext(ctx, what, "decision_id", c.decisionID, "kind", c.target.Kind, "server", c.target.Server, "err", err)
	c.setAll(outcome{rule: ruleError, reason: what + ": " + err.Error()})
	s.submit(c)
	return status.Error(code, msg)
}

// finish submits the audit records and returns resp.
func (s *Server) finish(c *check, resp *authv3.CheckResponse) *authv3.CheckResponse {
	s.submit(c)
	return resp
}

// setAll gives every record of the request the same outcome; arguments are kept only for an authenticated caller,
// so that unauthenticated traffic cannot fill the audit store with its payloads.
func (c *check) setAll(o outcome) {
	n := 1
	if c.req != nil {
		n = max(len(c.req.Messages), 1)
	}
	if len(c.outcomes) != n {
		c.outcomes = make([]outcome, n)
	}
	for i := range c.outcomes {
		args := c.outcomes[i].args
		c.outcomes[i] = o
		if c.authed {
			c.outcomes[i].args = args
			if args == nil && c.req != nil && i < len(c.req.Messages) {
				c.outcomes[i].args, _ = c.req.Messages[i].ArgumentMap()
			}
		}
	}
}

func (s *Server) metadataURL(t mcp.Target) string {
	u, err := s.base.MetadataURL(t.Kind, t.Server)
	if err != nil {
		// A name that cannot be a URL path (the route's fault) still gets a document: the gateway's own.
		return s.base.RootMetadataURL()
	}
	return u
}

// newDecisionID returns 16 random bytes in hex. crypto/rand never fails (it crashes the process instead).
func newDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// policyPrincipal is the policy's view of a verified principal. The slices are shared, read-only.
func policyPrincipal(p identity.Principal) policy.Principal {
	return policy.Principal{Issuer: p.Issuer, Subject: p.Subject, ClientID: p.ClientID, Groups: p.Groups, Scopes: p.Scopes}
}
