package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// ProblemBase prefixes every problem type URI; docs/api.md lists them.
const ProblemBase = "https://mcpgw.dev/problems/"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type     string               `json:"type"`
	Title    string               `json:"title"`
	Status   int                  `json:"status"`
	Detail   string               `json:"detail,omitempty"`
	Instance string               `json:"instance,omitempty"`
	Errors   []catalog.FieldError `json:"errors,omitempty"`
}

// The problem types. Each has one status and one title; the detail varies.
var (
	probMalformed      = Problem{Type: ProblemBase + "malformed-json", Title: "Malformed JSON", Status: http.StatusBadRequest}
	probTooLarge       = Problem{Type: ProblemBase + "body-too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge}
	probMediaType      = Problem{Type: ProblemBase + "unsupported-media-type", Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType}
	probInvalid        = Problem{Type: ProblemBase + "validation-failed", Title: "Validation failed", Status: http.StatusUnprocessableEntity}
	probInvalidName    = Problem{Type: ProblemBase + "invalid-name", Title: "Invalid name", Status: http.StatusBadRequest}
	probInvalidQuery   = Problem{Type: ProblemBase + "invalid-query", Title: "Invalid query parameter", Status: http.StatusBadRequest}
	probNotFound       = Problem{Type: ProblemBase + "not-found", Title: "Not found", Status: http.StatusNotFound}
	probConflict       = Problem{Type: ProblemBase + "conflict", Title: "Conflict", Status: http.StatusConflict}
	probPrecondition   = Problem{Type: ProblemBase + "precondition-failed", Title: "Precondition failed", Status: http.StatusPreconditionFailed}
	probUnauthorized   = Problem{Type: ProblemBase + "unauthorized", Title: "Unauthorized", Status: http.StatusUnauthorized}
	probForbidden      = Problem{Type: ProblemBase + "forbidden", Title: "Forbidden", Status: http.StatusForbidden}
	probMethod         = Problem{Type: ProblemBase + "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed}
	probUnavailable    = Problem{Type: ProblemBase + "unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable}
	probInternal       = Problem{Type: ProblemBase + "internal", Title: "Internal error", Status: http.StatusInternalServerError}
	probNotImplemented = Problem{Type: ProblemBase + "unsupported", Title: "Not supported here", Status: http.StatusNotImplemented}
)

func (p Problem) with(detail string) Problem {
	p.Detail = detail
	return p
}

// writeProblem renders p as application/problem+json.
func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	body, _ := json.Marshal(p)
	c.Abort()
	c.Data(p.Status, "application/problem+json", body)
}

// fail maps an error to its problem. Client faults are answered as such; anything else is logged once, here, and
// answered with a generic problem that leaks nothing.
func (s *Server) fail(c *gin.Context, err error) {
	var ve *catalog.ValidationError
	switch {
	case errors.As(err, &ve):
		p := probInvalid.with("the request body breaks the rules for this resource; see errors")
		p.Errors = ve.Fields
		writeProblem(c, p)
	case errors.Is(err, catalog.ErrMalformed):
		writeProblem(c, probMalformed.with(err.Error()))
	case errors.Is(err, catalog.ErrNotFound):
		writeProblem(c, probNotFound.with("no such resource"))
	case errors.Is(err, catalog.ErrConflict):
		detail := "a resource with that name already exists"
		if c.Request.Method == http.MethodDelete {
			detail = "the resource is still in use"
		}
		writeProblem(c, probConflict.with(detail))
	case errors.Is(err, catalog.ErrRevMismatch):
		writeProblem(c, probPrecondition.with("the resource changed since the revision named in If-Match; read it again"))
	case errors.Is(err, catalog.ErrForbidden):
		detail := "the caller may not perform this operation"
		var r interface{ PolicyReason() string }
		if errors.As(err, &r) && r.PolicyReason() != "" {
			detail = r.PolicyReason()
		}
		writeProblem(c, probForbidden.with(detail))
	case errors.Is(err, catalog.ErrUnavailable):
		s.log.Warn("store unavailable", "path", c.Request.URL.Path, "err", err)
		writeProblem(c, probUnavailable.with("the store is unreachable; retry later"))
	default:
		s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		writeProblem(c, probInternal.with("the server could not complete the request"))
	}
}
