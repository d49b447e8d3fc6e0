// Package api is the registry's REST API (/api/v1) on gin. Gin stays in this package: handlers parse the request,
// call the registrar (writes) or the in-memory view (reads), and render JSON or an RFC 9457 problem.
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Authenticator verifies a bearer token.
type Authenticator interface {
	Verify(ctx context.Context, raw string) (identity.Principal, error)
}

// Access tells what a caller may see.
type Access interface {
	For(ctx context.Context, p identity.Principal) (Visible, error)
}

// AccessFunc adapts a function to Access.
type AccessFunc func(ctx context.Context, p identity.Principal) (Visible, error)

// For implements Access.
func (f AccessFunc) For(ctx context.Context, p identity.Principal) (Visible, error) { return f(ctx, p) }

// Visible is one caller's view of the catalog.
type Visible interface {
	// Sees reports whether the caller may see the object of kind with key. Unseen objects answer 404.
	Sees(kind catalog.Kind, key string) bool
	// Keys returns the sorted keys of kind the caller may see, or nil when the caller sees every one.
	Keys(kind catalog.Kind) []string
	// Tools filters the tools of a visible server to those the caller may call; nil keeps all.
	Tools(server string) func(tool string) bool
	// Admin reports whether the caller holds the admin scope (audit and access data are admin-only).
	Admin() bool
}

// AuditReader queries the audit trail.
type AuditReader interface {
	QueryAudit(ctx context.Context, q mongo.AuditQuery) ([]audit.Record, bool, error)
}

// Options configure the API.
type Options struct {
	View      *view.Catalog
	Registrar *registrar.Registrar
	Auth      Authenticator
	Access    Access
	// Ready reports whether the registry can serve: the store answers and the view is loaded.
	Ready func(ctx context.Context) error
	// JWKS is served at /.well-known/jwks.json when set (the development issuer's public keys).
	JWKS []byte
	// Audit serves /api/v1/audit when set.
	Audit AuditReader
	// Explainer serves POST /api/v1/authz/explain when set.
	Explainer Explainer
	// Search serves /api/v1/search and /api/v1/admin/search/* (501 when nil).
	Search Searcher
	// Mounts adds handlers under path prefixes (the MCP endpoints, metrics, further API groups).
	Mounts []Mount
	// MaxBody bounds request bodies; default 1 MiB.
	MaxBody int64
	Logger  *slog.Logger
}

// Mount attaches a handler to every method under a path prefix (or to the exact path when Prefix has no trailing slash).
type Mount struct {
	Path    string
	Handler http.Handler
	// Public mounts skip the API's token check (the handler authenticates by itself).
	Public bool
	// SelfChallenge mounts get the caller when the token is valid (PrincipalFrom) and are passed the request
	// without one otherwise, so that they answer the 401 in their own protocol: the MCP endpoints send a JSON-RPC
	// error and an RFC 9728 resource_metadata challenge, which MCP clients need to start OAuth.
	SelfChallenge bool
}

// Server is the REST API.
type Server struct {
	opts     Options
	log      *slog.Logger
	gin      *gin.Engine
	rendered renderCache
}

// DefaultMaxBody is the default request body limit.
const DefaultMaxBody = 1 << 20

// New builds the API's routes.
func New(opts Options) (*Server, error) {
	if opts.View == nil || opts.Registrar == nil || opts.Auth == nil || opts.Access == nil {
		return nil, errors.New("new api: view, registrar, auth and access are required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log.With("component", "api")}
	opts.View.AddListener(s.rendered.listener())
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	g.HandleMethodNotAllowed = true
	g.RedirectTrailingSlash = false
	g.RedirectFixedPath = false
	g.ContextWithFallback = true
	g.Use(s.recover, s.accessLog)
	g.NoRoute(func(c *gin.Context) { writeProblem(c, probNotFound.with("no such endpoint")) })
	g.NoMethod(func(c *gin.Context) {
		writeProblem(c, probMethod.with("the endpoint does not support "+c.Request.Method))
	})
	s.gin = g
	s.routes()
	return s, nil
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.gin }

// Routes lists every method and path the API serves, for the OpenAPI coverage test.
func (s *Server) Routes() []gin.RouteInfo { return s.gin.Routes() }

func (s *Server) routes() {
	g := s.gin
	g.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	g.GET("/readyz", s.ready)
	if len(s.opts.JWKS) > 0 {
		g.GET("/.well-known/jwks.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/jwk-set+json", s.opts.JWKS) })
	}
	g.GET("/api/v1/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIJSON()) })

	v1 := g.Group("/api/v1", s.authenticate)
	for _, r := range resources {
		s.mountResource(v1, r)
	}
	s.mountVersions(v1)
	s.mountSearch(v1)
	if s.opts.Audit != nil {
		v1.GET("/audit", s.listAudit)
	}
	if s.opts.Explainer != nil {
		v1.POST("/authz/explain", s.explain)
	}
	for _, m := range s.opts.Mounts {
		h := gin.WrapH(m.Handler)
		var chain []gin.HandlerFunc
		switch {
		case m.SelfChallenge:
			chain = append(chain, s.authenticateIfValid)
		case !m.Public:
			chain = append(chain, s.authenticate)
		}
		chain = append(chain, h)
		if strings.HasSuffix(m.Path, "/") {
			g.Any(m.Path+"*rest", chain...)
		} else {
			g.Any(m.Path, chain...)
		}
	}
}

func (s *Server) ready(c *gin.Context) {
	if !s.opts.View.Loaded() {
		writeProblem(c, probUnavailable.with("the catalog view is still loading"))
		return
	}
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			writeProblem(c, probUnavailable.with("the store is unreachable"))
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("handler panicked", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", v)
			writeProblem(c, probInternal.with("the server could not complete the request"))
		}
	}()
	c.Next()
}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.Debug("request", "method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
		"duration", time.Since(start))
}

// readBody reads a JSON request body within the size limit.
func (s *Server) readBody(c *gin.Context, mediaTypes ...string) ([]byte, bool) {
	if len(mediaTypes) == 0 {
		mediaTypes = []string{"application/json"}
	}
	ct := c.ContentType()
	ok := false
	for _, m := range mediaTypes {
		ok = ok || ct == m
	}
	if !ok {
		writeProblem(c, probMediaType.with("send "+strings.Join(mediaTypes, " or ")))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeProblem(c, probTooLarge.with("the body exceeds the limit of "+humanBytes(s.opts.MaxBody)))
		return nil, false
	case err != nil:
		writeProblem(c, probMalformed.with("the body could not be read"))
		return nil, false
	case len(body) == 0:
		writeProblem(c, probMalformed.with("the body is empty"))
		return nil, false
	}
	return body, true
}

func humanBytes(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}
