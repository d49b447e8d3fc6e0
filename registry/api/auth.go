package api

import (
	"context"
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/registrar"
)

const (
	ctxPrincipal = "mcpgw.principal"
	ctxVisible   = "mcpgw.visible"
)

// authenticate requires a valid bearer token on every API call.
func (s *Server) authenticate(c *gin.Context) {
	raw, err := identity.BearerToken(c.GetHeader("Authorization"))
	if err == nil {
		var p identity.Principal
		p, err = s.opts.Auth.Verify(c.Request.Context(), raw)
		if err == nil {
			c.Set(ctxPrincipal, p)
			// Mounted http.Handlers (the MCP endpoints) read the caller from the request context.
			c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), principalKey{}, p))
			c.Next()
			return
		}
	}
	switch {
	case errors.Is(err, identity.ErrKeysUnavailable):
		s.log.Warn("cannot verify tokens", "err", err)
		writeProblem(c, probUnavailable.with("the token issuer's keys cannot be fetched; retry later"))
	case errors.Is(err, identity.ErrNoToken):
		c.Header("WWW-Authenticate", `Bearer realm="mcpgw"`)
		writeProblem(c, probUnauthorized.with("a bearer token is required"))
	default:
		c.Header("WWW-Authenticate", `Bearer realm="mcpgw", error="invalid_token"`)
		writeProblem(c, probUnauthorized.with("the bearer token is not valid"))
	}
}

type principalKey struct{}

// PrincipalFrom returns the caller the API authenticated, for handlers mounted with Mount (Public false).
func PrincipalFrom(ctx context.Context) (identity.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(identity.Principal)
	return p, ok
}

// authenticateIfValid sets the caller when the bearer token is valid and lets the request through either way (see
// Mount.SelfChallenge). A failure to fetch the issuer's keys is still answered here: it is the server's fault.
func (s *Server) authenticateIfValid(c *gin.Context) {
	raw, err := identity.BearerToken(c.GetHeader("Authorization"))
	if err == nil {
		var p identity.Principal
		p, err = s.opts.Auth.Verify(c.Request.Context(), raw)
		if err == nil {
			c.Set(ctxPrincipal, p)
			c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), principalKey{}, p))
		}
	}
	if errors.Is(err, identity.ErrKeysUnavailable) {
		s.log.Warn("cannot verify tokens", "err", err)
		writeProblem(c, probUnavailable.with("the token issuer's keys cannot be fetched; retry later"))
		return
	}
	c.Next()
}

func principal(c *gin.Context) identity.Principal {
	v, _ := c.Get(ctxPrincipal)
	p, _ := v.(identity.Principal)
	return p
}

// visible returns the caller's view of the catalog, computed once per request.
func (s *Server) visible(c *gin.Context) (Visible, bool) {
	if v, ok := c.Get(ctxVisible); ok {
		return v.(Visible), true
	}
	v, err := s.opts.Access.For(c.Request.Context(), principal(c))
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	c.Set(ctxVisible, v)
	return v, true
}

func actor(c *gin.Context) registrar.Actor {
	p := principal(c)
	return registrar.Actor{Issuer: p.Issuer, Subject: p.Subject, Client: p.ClientID, Groups: p.Groups, Scopes: p.Scopes}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
