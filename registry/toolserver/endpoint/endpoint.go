// Package endpoint serves an MCP server over Streamable HTTP on one path in both transport revisions that the Go
// SDK (modelcontextprotocol/go-sdk v1.8.0) implements, for a caller the registry has already authenticated.
//
// The SDK serves the two revisions with two differently configured handlers: sessions (2025-11-25 and earlier:
// initialize, Mcp-Session-Id, a standalone GET stream, DELETE) need a stateful handler, and the stateless revision
// (2026-07-28: no initialize, server/discover, protocol version and capabilities in every request's _meta,
// Mcp-Method and Mcp-Name headers) is accepted only by a handler with Stateless set. Handler keeps one of each and
// routes every request by what it is:
//
//   - a request carrying Mcp-Session-Id belongs to a session: the stateful handler (which answers 404 for an
//     unknown or expired session, so the client re-initializes);
//   - a POST whose JSON-RPC message (or batch) holds initialize opens a session: the stateful handler;
//   - every other POST is self-contained: the stateless handler. That is the 2026-07-28 revision (server/discover,
//     then requests with _meta and the MCP headers), and also a request of an earlier revision sent without a
//     session, which the SDK serves with a synthesized initialization;
//   - GET and DELETE without a session: the stateless handler, which answers 405 with Allow: POST (both revisions
//     allow a server to refuse the standalone stream this way).
//
// The caller is bound to its session: the principal becomes the SDK's auth.TokenInfo, whose UserID the stateful
// handler compares on every request of a session, so one caller cannot use another's session id (403). Tool
// handlers read the caller of each request with PrincipalOf, never the caller that opened the session, so a
// changed token (new groups, a refreshed grant) takes effect at once.
package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
)

// Defaults.
const (
	// DefaultSessionTimeout closes a session that saw no request for this long.
	DefaultSessionTimeout = 30 * time.Minute
	// DefaultMaxBody bounds a request body.
	DefaultMaxBody = 4 << 20
)

// JSON-RPC error codes of the refusals the registry's MCP endpoints answer themselves. They are the gateway's
// (authz/extauthz), so a client sees the same code whether the gateway or the registry refused it, and they avoid
// the codes go-sdk clients match to their own sentinels (-32003 "client is closing", -32004 "server is closing",
// -32005 "rejected by transport"), which would make a refusal read as a closed connection.
const (
	CodeUnauthorized = -32033
	CodeForbidden    = -32034
	CodeNotFound     = -32035
)

// ErrInvalidOptions reports Options that New cannot build a Handler from.
var ErrInvalidOptions = errors.New("invalid endpoint options")

// PrincipalFunc returns the caller a request was authenticated as (registry/api.PrincipalFrom).
type PrincipalFunc func(ctx context.Context) (identity.Principal, bool)

// Options configure a Handler.
type Options struct {
	// Principal returns the authenticated caller of a request. Required.
	Principal PrincipalFunc
	// SessionTimeout closes idle sessions; 0 means DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MaxBody bounds request bodies; 0 means DefaultMaxBody.
	MaxBody int64
	// ResourceMetadataURL is advertised in the 401 challenge when a request arrives without a caller (RFC 9728).
	ResourceMetadataURL string
	Logger              *slog.Logger
}

// Handler serves one MCP server per request (getServer decides which) in both revisions.
type Handler struct {
	sessions  *mcp.StreamableHTTPHandler
	stateless *mcp.StreamableHTTPHandler
	bound     http.Handler
	maxBody   int64
}

// New returns a Handler. getServer is called for every request that opens a session and for every stateless
// request; it may return the same server every time.
func New(getServer func(*http.Request) *mcp.Server, opts Options) (*Handler, error) {
	if getServer == nil || opts.Principal == nil {
		return nil, fmt.Errorf("build MCP endpoint: getServer and Principal are required: %w", ErrInvalidOptions)
	}
	if opts.SessionTimeout < 0 || opts.MaxBody < 0 {
		return nil, fmt.Errorf("build MCP endpoint: negative SessionTimeout or MaxBody: %w", ErrInvalidOptions)
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// DNS rebinding protection is off: it refuses requests that reach a loopback listener under another Host, which
	// is exactly how the gateway reaches a registry on 127.0.0.1, and it guards servers that trust local callers;
	// this endpoint trusts no one without a verified bearer token.
	h := &Handler{
		sessions: mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
			SessionTimeout: opts.SessionTimeout, MaxRequestBodyBytes: opts.MaxBody, DisableLocalhostProtection: true,
			Logger: log,
		}),
		stateless: mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
			Stateless: true, MaxRequestBodyBytes: opts.MaxBody, DisableLocalhostProtection: true,
			PropagateRequestCancellation: true, Logger: log,
		}),
		maxBody: opts.MaxBody,
	}
	verify := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		// The registry verified the bearer token before the request got here; the raw token is not needed again.
		p, ok := opts.Principal(ctx)
		if !ok {
			return nil, fmt.Errorf("no authenticated caller: %w", auth.ErrInvalidToken)
		}
		return tokenInfo(p), nil
	}
	h.bound = auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: opts.ResourceMetadataURL, AllowMissingExpiration: true,
	})(http.HandlerFunc(h.route))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.bound.ServeHTTP(w, r) }

// route picks the stateful or the stateless handler (see the package documentation).
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Mcp-Session-Id") != "" {
		h.sessions.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		h.stateless.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	_ = r.Body.Close()
	if err != nil {
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return
	}
	if int64(len(body)) > h.maxBody {
		http.Error(w, fmt.Sprintf("request body exceeds %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if OpensSession(body) {
		h.sessions.ServeHTTP(w, r)
		return
	}
	h.stateless.ServeHTTP(w, r)
}

// OpensSession reports whether a POST body holds an initialize request (alone or in a batch). A body that is not
// JSON-RPC opens nothing; the handler it is sent to rejects it.
func OpensSession(body []byte) bool {
	type message struct {
		Method string `json:"method"`
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var batch []message
		if json.Unmarshal(body, &batch) != nil {
			return false
		}
		for _, m := range batch {
			if m.Method == "initialize" {
				return true
			}
		}
		return false
	}
	var m message
	return json.Unmarshal(body, &m) == nil && m.Method == "initialize"
}

// principalKey is the TokenInfo.Extra key holding the caller.
const principalKey = "mcpgw.principal"

func tokenInfo(p identity.Principal) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes: p.Scopes, Expiration: p.Expiry, UserID: callerID(p),
		Extra: map[string]any{principalKey: p},
	}
}

// callerID identifies a caller across requests: issuer and subject, or issuer and client id for a machine.
func callerID(p identity.Principal) string {
	return strings.Join([]string{p.Issuer, p.Subject, p.ClientID}, "\x00")
}

// PrincipalOf returns the caller of one MCP request (from the request's Extra, which the SDK fills per HTTP
// request). It is false for a request that did not come through a Handler.
func PrincipalOf(extra *mcp.RequestExtra) (identity.Principal, bool) {
	if extra == nil || extra.TokenInfo == nil {
		return identity.Principal{}, false
	}
	p, ok := extra.TokenInfo.Extra[principalKey].(identity.Principal)
	return p, ok
}

// Unauthorized is the JSON-RPC error for a request whose caller is unknown (a wiring fault: Handler refuses such
// requests before any MCP handler runs).
func Unauthorized() *jsonrpc.Error {
	return &jsonrpc.Error{Code: CodeUnauthorized, Message: "the request carries no authenticated caller"}
}

// WriteError answers an HTTP request with a JSON-RPC error (id null), for refusals made before the SDK sees the
// request, such as an unknown server.
func WriteError(w http.ResponseWriter, status int, code int64, message string) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
