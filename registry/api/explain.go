package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Explainer shows why the policy decides a gateway call as it does.
type Explainer interface {
	Explain(ctx context.Context, in policy.Input) (policy.Explanation, error)
}

// explainRequest is the body of POST /api/v1/authz/explain: a gateway call, and optionally the caller to explain it
// for. Without a principal the call is explained for the token's own caller; explaining it for someone else is for
// admins.
type explainRequest struct {
	Principal *policy.Principal `json:"principal,omitempty"`
	Target    policy.Target     `json:"target"`
	MCP       policy.MCP        `json:"mcp"`
}

func (s *Server) explain(c *gin.Context) {
	v, ok := s.visible(c)
	if !ok {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var req explainRequest
	if err := catalog.Decode(body, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := principal(c)
	self := policy.Principal{Issuer: p.Issuer, Subject: p.Subject, ClientID: p.ClientID, Groups: p.Groups, Scopes: p.Scopes}
	in := policy.Input{Principal: self, Target: req.Target, MCP: req.MCP}
	if req.Principal != nil && !samePrincipal(*req.Principal, self) {
		if !v.Admin() {
			writeProblem(c, probForbidden.with("only admins may explain decisions for another caller"))
			return
		}
		in.Principal = *req.Principal
	}
	switch {
	case in.Target.Server == "":
		s.fail(c, catalog.Invalid("target.server", "is required"))
		return
	case in.Target.Kind != "" && in.Target.Kind != policy.KindServer && in.Target.Kind != policy.KindVirtual:
		// The engine refuses other kinds as invalid input; caught here, the caller gets a 422 naming the field
		// instead of a 500.
		s.fail(c, catalog.Invalid("target.kind", "must be %s or %s", policy.KindServer, policy.KindVirtual))
		return
	case in.MCP.HTTPMethod == "":
		in.MCP.HTTPMethod = http.MethodPost
	}
	ex, err := s.opts.Explainer.Explain(c.Request.Context(), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ex)
}

func samePrincipal(a, b policy.Principal) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.ClientID == b.ClientID &&
		slices.Equal(a.Groups, b.Groups) && slices.Equal(a.Scopes, b.Scopes)
}
