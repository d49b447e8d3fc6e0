package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/authz/resource"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/toolserver/endpoint"
)

// PathPrefix is where the registry mounts the runtime; a virtual server is served at PathPrefix + name.
const PathPrefix = "/virtual/"

// Defaults.
const (
	DefaultCallTimeout    = 2 * time.Minute
	DefaultConnectTimeout = 10 * time.Second
	DefaultUpstreamIdle   = 5 * time.Minute
)

// ErrOptions reports Options New cannot build a Runtime from.
var ErrOptions = errors.New("invalid virtual server options")

// errNotFound is a virtual server that does not exist, is not enabled or that the caller may not see.
var errNotFound = errors.New("virtual server not found")

// Catalog is the part of the in-memory view the runtime reads (view.Catalog implements it).
type Catalog interface {
	Get(kind catalog.Kind, key string) (catalog.Object, bool)
}

// Visible is what one caller may see; registry/access's Set implements it.
type Visible interface {
	Sees(kind catalog.Kind, key string) bool
	// VirtualTools filters a virtual server's exposed tools to those the caller may call; nil keeps all.
	VirtualTools(name string) func(tool string) bool
	// Admin reports whether the caller holds the admin scope, which allows every call.
	Admin() bool
}

// AccessFunc returns what a caller may see (in the registry: access.Control.ForPolicy).
type AccessFunc func(ctx context.Context, p identity.Principal) (Visible, error)

// Policy decides calls; policy.Engine implements it.
type Policy interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
	EffectiveScopes(ctx context.Context, p policy.Principal) ([]string, error)
}

var _ Policy = (*policy.Engine)(nil)

// Options configure a Runtime. Catalog, Access, Policy and Principal are required.
type Options struct {
	Catalog Catalog
	Access  AccessFunc
	Policy  Policy
	// Principal returns the caller the registry API authenticated (api.PrincipalFrom).
	Principal endpoint.PrincipalFunc
	// Secrets resolves upstream egress credentials; nil makes upstreams that need credentials fail with a clear
	// error.
	Secrets SecretResolver
	// Transport carries upstream requests; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// CallTimeout bounds one forwarded tool call (default DefaultCallTimeout); ConnectTimeout one upstream
	// handshake (default DefaultConnectTimeout).
	CallTimeout, ConnectTimeout time.Duration
	// UpstreamIdle closes upstream sessions unused for this long (default DefaultUpstreamIdle); Run does it.
	UpstreamIdle time.Duration
	// SessionTimeout closes callers' idle sessions (0: endpoint.DefaultSessionTimeout).
	SessionTimeout time.Duration
	// PublicURL is the gateway's public base URL, for the resource metadata URL of 401 challenges.
	PublicURL string
	// Version is reported in handshakes; empty means "dev".
	Version string
	Logger  *slog.Logger
}

// Runtime serves every virtual server: an MCP server per name, whose tools/list and tools/call are answered from
// the catalog of the moment and the caller of the request, and whose calls go to the upstream servers through one
// shared client session per upstream.
type Runtime struct {
	opts Options
	base resource.Base
	log  *slog.Logger
	pool *pool

	mu        sync.Mutex
	endpoints map[string]*endpoint.Handler
}

// New builds a Runtime. Call Run to close idle upstream sessions over time and all of them at the end.
func New(opts Options) (*Runtime, error) {
	if opts.Catalog == nil || opts.Access == nil || opts.Policy == nil || opts.Principal == nil {
		return nil, fmt.Errorf("build virtual servers: Catalog, Access, Policy and Principal are required: %w", ErrOptions)
	}
	if opts.CallTimeout < 0 || opts.ConnectTimeout < 0 || opts.UpstreamIdle < 0 || opts.SessionTimeout < 0 {
		return nil, fmt.Errorf("build virtual servers: negative duration: %w", ErrOptions)
	}
	opts.CallTimeout = cmpOr(opts.CallTimeout, DefaultCallTimeout)
	opts.ConnectTimeout = cmpOr(opts.ConnectTimeout, DefaultConnectTimeout)
	opts.UpstreamIdle = cmpOr(opts.UpstreamIdle, DefaultUpstreamIdle)
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "virtual")
	rt := &Runtime{opts: opts, log: log, endpoints: map[string]*endpoint.Handler{}}
	if opts.PublicURL != "" {
		b, err := resource.ParseBase(opts.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("build virtual servers: public URL: %w: %w", ErrOptions, err)
		}
		rt.base = b
	}
	rt.pool = newPool("mcpgw-virtual", opts.Version, opts.Secrets, opts.Transport, opts.ConnectTimeout, log)
	return rt, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Run closes upstream sessions idle for UpstreamIdle and forgets the endpoints of virtual servers that no longer
// exist, until ctx ends; then it closes every upstream session.
func (rt *Runtime) Run(ctx context.Context) error {
	// At least a millisecond: a sub-2ns UpstreamIdle would make the interval zero, and NewTicker panics on that.
	tick := time.NewTicker(max(min(rt.opts.UpstreamIdle/2, time.Minute), time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rt.pool.closeIdle(time.Time{})
			return nil
		case now := <-tick.C:
			if n := rt.pool.closeIdle(now.Add(-rt.opts.UpstreamIdle)); n > 0 {
				rt.log.Debug("closed idle upstream sessions", "count", n)
			}
			rt.prune()
		}
	}
}

// prune forgets the endpoints of deleted virtual servers. Their sessions end by themselves (SessionTimeout); until
// then every request on them answers "not found".
func (rt *Runtime) prune() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for name := range rt.endpoints {
		if _, ok := rt.opts.Catalog.Get(catalog.KindVirtualServer, name); !ok {
			delete(rt.endpoints, name)
		}
	}
}

// ServeHTTP serves PathPrefix + name: 404 (a JSON-RPC error body) for a virtual server that does not exist, is not
// enabled or that the caller may not see, alike; otherwise the server's MCP endpoint.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		endpoint.WriteError(w, http.StatusNotFound, endpoint.CodeNotFound, "no such virtual server")
		return
	}
	p, ok := rt.opts.Principal(r.Context())
	if !ok {
		// Mounted behind the API's token check this does not happen; answered here so that no endpoint is ever
		// built for a name an anonymous request made up.
		challenge := "Bearer"
		if u, err := rt.base.MetadataURL(resource.KindVirtual, name); err == nil && !rt.base.IsZero() {
			challenge += fmt.Sprintf(" resource_metadata=%q", u)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		endpoint.WriteError(w, http.StatusUnauthorized, endpoint.CodeUnauthorized, "a bearer token is required")
		return
	}
	// An invisible server is refused before a session is opened for it.
	if _, _, err := rt.resolve(r.Context(), p, name); err != nil {
		if errors.Is(err, errNotFound) {
			endpoint.WriteError(w, http.StatusNotFound, endpoint.CodeNotFound, "no such virtual server")
			return
		}
		rt.log.Error("resolve virtual server", "name", name, "err", err)
		endpoint.WriteError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError,
			"the registry cannot decide what you may see; retry later")
		return
	}
	h, err := rt.endpoint(name)
	if err != nil {
		rt.log.Error("build virtual server endpoint", "name", name, "err", err)
		endpoint.WriteError(w, http.StatusInternalServerError, jsonrpc.CodeInternalError, "the virtual server cannot be served")
		return
	}
	h.ServeHTTP(w, r)
}

// endpoint returns the MCP endpoint of a virtual server, built on first use. Each name has its own, so a session
// opened on one virtual server can never be used on another.
func (rt *Runtime) endpoint(name string) (*endpoint.Handler, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if h := rt.endpoints[name]; h != nil {
		return h, nil
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: name, Version: rt.opts.Version}, &mcp.ServerOptions{
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
		Logger:       rt.log,
	})
	srv.AddReceivingMiddleware(rt.middleware(name))
	var metadataURL string
	if !rt.base.IsZero() {
		metadataURL, _ = rt.base.MetadataURL(resource.KindVirtual, name)
	}
	h, err := endpoint.New(func(*http.Request) *mcp.Server { return srv }, endpoint.Options{
		Principal: rt.opts.Principal, SessionTimeout: rt.opts.SessionTimeout, ResourceMetadataURL: metadataURL, Logger: rt.log,
	})
	if err != nil {
		return nil, err
	}
	rt.endpoints[name] = h
	return h, nil
}

// resolve returns the virtual server and the caller's visible set, or errNotFound.
func (rt *Runtime) resolve(ctx context.Context, p identity.Principal, name string) (*catalog.VirtualServer, Visible, error) {
	o, ok := rt.opts.Catalog.Get(catalog.KindVirtualServer, name)
	if !ok {
		return nil, nil, errNotFound
	}
	vs := o.(*catalog.VirtualServer)
	if vs.Status != catalog.StatusEnabled && vs.Status != catalog.StatusDeprecated {
		return nil, nil, errNotFound // the gateway has no route to it either
	}
	v, err := rt.opts.Access(ctx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("decide visibility of virtual server %q: %w", name, err)
	}
	if !v.Sees(catalog.KindVirtualServer, name) {
		return nil, nil, errNotFound
	}
	return vs, v, nil
}

// middleware answers tools/list and tools/call from the catalog of the moment; every other method (initialize,
// server/discover, ping, ...) is the SDK's.
func (rt *Runtime) middleware(name string) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			switch method {
			case "tools/list":
				return rt.listTools(ctx, name, req)
			case "tools/call":
				if call, ok := req.(*mcp.CallToolRequest); ok {
					return rt.callTool(ctx, name, call)
				}
			}
			return next(ctx, method, req)
		}
	}
}

// caller resolves the caller of one MCP request and the virtual server, as JSON-RPC errors.
func (rt *Runtime) caller(ctx context.Context, name string, req mcp.Request) (identity.Principal, *catalog.VirtualServer, Visible, error) {
	p, ok := endpoint.PrincipalOf(req.GetExtra())
	if !ok {
		return p, nil, nil, endpoint.Unauthorized()
	}
	vs, v, err := rt.resolve(ctx, p, name)
	switch {
	case errors.Is(err, errNotFound):
		return p, nil, nil, &jsonrpc.Error{Code: endpoint.CodeNotFound, Message: "no such virtual server"}
	case err != nil:
		rt.log.Error("resolve virtual server", "name", name, "err", err)
		return p, nil, nil, internalError()
	}
	return p, vs, v, nil
}

func internalError() *jsonrpc.Error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the registry cannot decide this request; retry later"}
}

// listTools lists the exposed tools the caller may call: granted on the virtual server (the visible set, the same
// policy the gateway decides calls with), with the tool's extra scopes held, and whose upstream is available with
// a registered definition. Names are the aliases; descriptions and schemas are the upstream tools'.
func (rt *Runtime) listTools(ctx context.Context, name string, req mcp.Request) (mcp.Result, error) {
	p, vs, v, err := rt.caller(ctx, name, req)
	if err != nil {
		return nil, err
	}
	allowed := v.VirtualTools(name)
	var scopes []string
	scopesRead := v.Admin()
	tools := make([]*mcp.Tool, 0, len(vs.Tools))
	for _, vt := range vs.Tools {
		exposed := vt.ExposedName()
		if allowed != nil && !allowed(exposed) {
			continue
		}
		if len(vt.Scopes) > 0 && !v.Admin() {
			if !scopesRead {
				if scopes, err = rt.opts.Policy.EffectiveScopes(ctx, access.PolicyPrincipal(p)); err != nil {
					rt.log.Error("effective scopes", "err", err)
					return nil, internalError()
				}
				scopesRead = true
			}
			if len(missing(vt.Scopes, scopes)) > 0 {
				continue
			}
		}
		t, err := rt.target(vt)
		if err != nil {
			continue
		}
		tools = append(tools, exposedTool(exposed, t.tool))
	}
	// The list is the caller's own: no intermediary may serve it to another caller.
	return &mcp.ListToolsResult{Tools: tools, Cacheable: mcp.Cacheable{CacheScope: "private"}}, nil
}

// exposedTool is an upstream tool's definition under its exposed name.
func exposedTool(name string, t *catalog.Tool) *mcp.Tool {
	out := &mcp.Tool{Name: name, Title: t.Title, Description: t.Description, InputSchema: json.RawMessage(`{"type":"object"}`)}
	if len(t.InputSchema) > 0 {
		out.InputSchema = t.InputSchema
	}
	if len(t.OutputSchema) > 0 {
		out.OutputSchema = t.OutputSchema
	}
	if a := t.Annotations; a != nil {
		out.Annotations = &mcp.ToolAnnotations{Title: a.Title, DestructiveHint: a.DestructiveHint,
			OpenWorldHint: a.OpenWorldHint, IdempotentHint: a.IdempotentHint != nil && *a.IdempotentHint,
			ReadOnlyHint: a.ReadOnlyHint != nil && *a.ReadOnlyHint}
	}
	return out
}

// missing returns the scopes of want not in have.
func missing(want, have []string) []string {
	var out []string
	for _, s := range want {
		if !slices.Contains(have, s) {
			out = append(out, s)
		}
	}
	return out
}

// callTool decides the call as the gateway would (target {kind: virtual, server: name}, the exposed name), checks
// the tool's extra scopes, and forwards it to the upstream under the upstream tool's name. Refusals are JSON-RPC
// errors: -32602 for a tool the virtual server does not expose (as go-sdk servers answer), -32034 for a denied call
// (as the gateway answers); whatever goes wrong upstream is an isError result naming the upstream.
func (rt *Runtime) callTool(ctx context.Context, name string, req *mcp.CallToolRequest) (mcp.Result, error) {
	p, vs, v, err := rt.caller(ctx, name, req)
	if err != nil {
		return nil, err
	}
	var args map[string]any
	if len(req.Params.Arguments) > 0 {
		if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "arguments must be a JSON object"}
		}
	}
	d, err := rt.opts.Policy.Decide(ctx, policy.Input{
		Principal: access.PolicyPrincipal(p),
		Target:    policy.Target{Kind: policy.KindVirtual, Server: name},
		MCP:       policy.MCP{Method: "tools/call", Name: req.Params.Name, Arguments: args, HTTPMethod: http.MethodPost},
	})
	if err != nil {
		rt.log.Error("decide virtual tool call", "server", name, "tool", req.Params.Name, "err", err)
		return nil, internalError()
	}
	if !d.Allow {
		return nil, forbidden(d.Reason, d.RequiredScopes)
	}
	// The policy decides before the name is looked up, so a caller learns which names exist only among those it may
	// call: a refused name answers -32034 whether the virtual server exposes it or not, as the gateway answers.
	i := slices.IndexFunc(vs.Tools, func(t catalog.VirtualTool) bool { return t.ExposedName() == req.Params.Name })
	if i < 0 {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", req.Params.Name)}
	}
	vt := vs.Tools[i]
	if len(vt.Scopes) > 0 && !v.Admin() {
		if lack := missing(vt.Scopes, d.Scopes); len(lack) > 0 {
			return nil, forbidden(fmt.Sprintf("tools/call of %q on virtual %s also requires the scopes %v; you lack %v",
				req.Params.Name, name, vt.Scopes, lack), vt.Scopes)
		}
	}
	t, err := rt.target(vt)
	if err != nil {
		return errorResult(err), nil
	}
	ctx, cancel := context.WithTimeout(ctx, rt.opts.CallTimeout)
	defer cancel()
	var onProgress func(*mcp.ProgressNotificationParams)
	if tok := req.Params.GetProgressToken(); tok != nil {
		onProgress = func(up *mcp.ProgressNotificationParams) {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok,
				Progress: up.Progress, Total: up.Total, Message: up.Message})
		}
	}
	res, err := rt.pool.call(ctx, t, vt.Tool, req.Params.Arguments, d.Headers, onProgress)
	if err != nil {
		return errorResult(err), nil
	}
	return res, nil
}

// ForbiddenData is the data member of a denied call's JSON-RPC error, as the gateway's 403 carries it.
type ForbiddenData struct {
	// RequiredScopes are the scopes that would allow the call (the gateway's insufficient_scope challenge).
	RequiredScopes []string `json:"required_scopes,omitempty"`
}

// forbidden is the JSON-RPC error of a call the policy refuses, shaped as the gateway's: code -32034, "Forbidden: "
// and the policy's reason (which names only the caller's own scopes and the ones that would allow the call).
func forbidden(reason string, scopes []string) *jsonrpc.Error {
	data, _ := json.Marshal(ForbiddenData{RequiredScopes: scopes})
	return &jsonrpc.Error{Code: endpoint.CodeForbidden, Message: "Forbidden: " + reason, Data: data}
}

func errorResult(err error) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	res.SetError(err)
	return res
}

// target resolves the upstream of a virtual tool from the catalog: the server must be enabled (or deprecated), the
// version (the pinned one, or the default) remote and not retired, and the tool defined in that version.
func (rt *Runtime) target(vt catalog.VirtualTool) (target, error) {
	fail := func(version, reason string) (target, error) {
		return target{}, &UpstreamError{Server: vt.Server, Version: version, Reason: reason}
	}
	o, ok := rt.opts.Catalog.Get(catalog.KindServer, vt.Server)
	if !ok {
		return fail("", "is not registered")
	}
	srv := o.(*catalog.Server)
	if !srv.Routable() {
		return fail("", fmt.Sprintf("is not available (status %s)", srv.Status))
	}
	ver := srv.DefaultVersion()
	if vt.Version != "" {
		ver = srv.Version(vt.Version)
	}
	switch {
	case ver == nil && vt.Version != "":
		return fail(vt.Version, "has no such version")
	case ver == nil:
		return fail("", "has no default version the gateway can reach")
	case ver.Retired:
		return fail(ver.Version, "is retired")
	case ver.Transport == catalog.TransportStdio:
		return fail(ver.Version, "runs on clients' machines (stdio) and cannot be called from the registry")
	}
	t := target{server: srv.Name, version: ver}
	for i := range ver.Tools {
		if ver.Tools[i].Name == vt.Tool {
			t.tool = &ver.Tools[i]
			return t, nil
		}
	}
	// The catalog's tools are what is governed: a tool taken out of the version (a changed definition, a tool
	// withdrawn after a finding) is neither listed nor forwarded, even though the upstream may still serve it.
	return fail(ver.Version, fmt.Sprintf("has no tool %q in the catalog", vt.Tool))
}
