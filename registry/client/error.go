package client

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// ErrUnauthorized means the registry refused the token: none was sent, or it is expired, malformed or from an issuer
// the registry does not trust. (The catalog has no such sentinel: authentication happens at the edge.)
var ErrUnauthorized = errors.New("unauthorized")

// ProblemBase prefixes the problem type URIs the registry answers with.
const ProblemBase = "https://mcpgw.dev/problems/"

// Error is an RFC 9457 problem the registry answered with, or the equivalent of one for an answer that was not a
// problem document (a proxy's HTML error page): then Type is "about:blank" and Title the status text.
type Error struct {
	// Status is the HTTP status code of the answer (the document's own status member is ignored when they differ).
	Status int `json:"status"`
	// Type is a URI naming the problem; the registry's start with ProblemBase.
	Type     string `json:"type"`
	Title    string `json:"title"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors name each field of the request body that failed validation.
	Errors []catalog.FieldError `json:"errors,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Title)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteString(")")
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for i, f := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Reason)
	}
	return b.String()
}

// Is matches the catalog's sentinel errors (and ErrUnauthorized) by the problem type, or by the status when the type
// is not one of the registry's.
func (e *Error) Is(target error) bool {
	s := e.sentinel()
	return s != nil && target == s
}

// Unwrap gives a validation failure's field errors as a *catalog.ValidationError, so errors.As reaches them the same
// way on both sides of the API.
func (e *Error) Unwrap() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return &catalog.ValidationError{Fields: e.Errors}
}

// problemSentinels maps the registry's problem types to the sentinel each stands for.
var problemSentinels = map[string]error{
	"not-found":           catalog.ErrNotFound,
	"conflict":            catalog.ErrConflict,
	"precondition-failed": catalog.ErrRevMismatch,
	"forbidden":           catalog.ErrForbidden,
	"validation-failed":   catalog.ErrInvalid,
	"invalid-name":        catalog.ErrInvalid,
	"invalid-query":       catalog.ErrInvalid,
	"malformed-json":      catalog.ErrMalformed,
	"unavailable":         catalog.ErrUnavailable,
	"unauthorized":        ErrUnauthorized,
}

func (e *Error) sentinel() error {
	if s, ok := strings.CutPrefix(e.Type, ProblemBase); ok {
		if err, ok := problemSentinels[s]; ok {
			return err
		}
	}
	switch e.Status {
	case http.StatusNotFound, http.StatusGone:
		return catalog.ErrNotFound
	case http.StatusConflict:
		return catalog.ErrConflict
	case http.StatusPreconditionFailed:
		return catalog.ErrRevMismatch
	case http.StatusForbidden:
		return catalog.ErrForbidden
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return catalog.ErrInvalid
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusServiceUnavailable:
		return catalog.ErrUnavailable
	}
	return nil
}

// maxDetail bounds the detail taken from an answer that is not a problem document.
const maxDetail = 300

// decodeError turns a non-2xx answer into an *Error. It never fails: whatever the body holds, the status decides.
func decodeError(status int, contentType string, body []byte) *Error {
	e := &Error{Status: status}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/problem+json" || mt == "application/json" {
		var p Error
		if json.Unmarshal(body, &p) == nil {
			e.Type, e.Title, e.Detail, e.Instance = p.Type, p.Title, p.Detail, p.Instance
			for _, f := range p.Errors {
				if f.Field != "" || f.Reason != "" {
					e.Errors = append(e.Errors, f)
				}
			}
		}
	} else if text := strings.TrimSpace(string(body)); text != "" && !strings.HasPrefix(text, "<") {
		// A plain-text answer (a proxy, a load balancer) is shown as the detail; HTML is not.
		e.Detail = clip(text, maxDetail)
	}
	if e.Type == "" {
		e.Type = "about:blank"
	}
	if e.Title == "" {
		e.Title = http.StatusText(status)
		if e.Title == "" {
			e.Title = "HTTP " + strconv.Itoa(status)
		}
	}
	return e
}

// clip cuts s to at most n bytes on a rune boundary and replaces control characters, so that a hostile answer cannot
// drive the terminal the message is printed to.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
