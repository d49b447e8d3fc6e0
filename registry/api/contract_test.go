package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/mcpgw/mcpgw/registry/api"
)

// contract checks exchanges against the OpenAPI document the API serves (api.OpenAPI, the bytes behind
// /api/v1/openapi.json).
type contract struct {
	doc    *openapi3.T
	router routers.Router
	// catchAll are the path prefixes of gin catch-all parameters (/*id): their value may contain slashes, which an
	// OpenAPI path template cannot match, so the check escapes them before routing.
	catchAll []string
}

// loadDocument parses and validates the served document.
func loadDocument(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate openapi document: %w", err)
	}
	return doc, nil
}

func loadContract(t testing.TB, s *api.Server) *contract {
	t.Helper()
	doc, err := loadDocument(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the openapi document: %v", err)
	}
	c := &contract{doc: doc, router: router}
	for _, r := range s.Routes() {
		if i := strings.Index(r.Path, "/*"); i >= 0 {
			c.catchAll = append(c.catchAll, r.Path[:i+1])
		}
	}
	return c
}

// check validates one exchange. The response must be documented for its operation (status, headers, body). When
// the API accepted the request (2xx), the request must also satisfy the document: the document may not be stricter
// than the server. A request to no documented operation must be answered with a 404 or 405 problem.
func (c *contract) check(sent *http.Request, body []byte, r reply) error {
	ctx := context.WithoutCancel(sent.Context())
	req, route, params, err := c.route(sent, body)
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("route: %w", err)
		}
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			return fmt.Errorf("the document has no operation for this request (%w), yet it was answered %d", err, r.Status)
		}
		return c.checkProblem(r)
	}
	op := route.Method + " " + route.Path
	if route.Operation.Responses.Status(r.Status) == nil {
		return fmt.Errorf("%s does not document status %d", op, r.Status)
	}
	opts := validationOptions()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if r.Status/100 == 2 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("the API accepted a request that %s rejects: %w", op, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                opts,
	})
	if err != nil {
		return fmt.Errorf("response to %s: %w", op, err)
	}
	return nil
}

func validationOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:         openapi3filter.NoopAuthenticationFunc,
		ExcludeReadOnlyValidations: true,
		IncludeResponseStatus:      true,
		MultiError:                 true,
	}
}

// route finds the operation of a request; it returns a copy of the request, with its body, to validate.
func (c *contract) route(sent *http.Request, body []byte) (*http.Request, *routers.Route, map[string]string, error) {
	req := sent.Clone(context.WithoutCancel(sent.Context()))
	req.Body = io.NopCloser(bytes.NewReader(body))
	u := *req.URL
	for _, prefix := range c.catchAll {
		if rest, ok := strings.CutPrefix(u.Path, prefix); ok && strings.Contains(rest, "/") {
			u.Path = prefix + strings.ReplaceAll(rest, "/", "%2F")
		}
	}
	req.URL = &u
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, nil, err
	}
	// The legacy router lets a trailing template variable match nothing (DELETE /api/v1/servers finds
	// /api/v1/servers/{ns}/{name}); a route with an empty path parameter is no match.
	for _, v := range params {
		if v == "" {
			return nil, nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
		}
	}
	return req, route, params, nil
}

// requestError validates a request against the document: nil when the document accepts it.
func (c *contract) requestError(sent *http.Request, body []byte) error {
	req, route, params, err := c.route(sent, body)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validationOptions()}
	return openapi3filter.ValidateRequest(req.Context(), in)
}

// checkProblem validates a problem response against the Problem schema.
func (c *contract) checkProblem(r reply) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	return c.validate("Problem", r.Body)
}

// validate checks a JSON document against a schema of the document's components.
func (c *contract) validate(schema string, doc []byte) error {
	ref := c.doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("the document has no schema %q", schema)
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("decode %s: %w", schema, err)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("does not match schema %s: %w", schema, err)
	}
	return nil
}

func TestContractCatchesViolations(t *testing.T) {
	// Invariant: the contract check is not vacuous: it rejects an undocumented status, a body that breaks the
	// response schema, a missing required header, a problem of the wrong type for its status, an accepted request
	// the document forbids, and an undocumented route answered with anything but 404 or 405.
	e := newEnv(t)
	get := func(path string) *http.Request {
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	post := func(path string) *http.Request {
		r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	problemHeader := http.Header{"Content-Type": {"application/problem+json"}}
	valid := `{"name":"ns/x","description":"d","visibility":"restricted","status":"enabled","rev":3,` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z",` +
		`"versions":[{"version":"1.0.0","transport":"streamable-http","url":"http://h/mcp","default":true}]}`
	cases := []struct {
		name string
		req  *http.Request
		body string
		r    reply
	}{
		{"undocumented status", get("/api/v1/servers/ns/x"), "",
			reply{Status: http.StatusTeapot, Header: problemHeader, Body: []byte(`{"type":"https://mcpgw.dev/problems/internal","title":"x","status":418}`)}},
		{"body missing a required member", get("/api/v1/servers/ns/x"), "",
			reply{Status: 200, Header: jsonHeader("ETag", `"3"`), Body: []byte(`{"name":"ns/x"}`)}},
		{"unknown member", get("/api/v1/servers/ns/x"), "",
			reply{Status: 200, Header: jsonHeader("ETag", `"3"`), Body: []byte(valid[:len(valid)-1] + `,"secret":"x"}`)}},
		{"secret echoed", get("/api/v1/servers/ns/x"), "",
			reply{Status: 200, Header: jsonHeader("ETag", `"3"`), Body: []byte(strings.Replace(valid, `"default":true`,
				`"default":true,"egress_auth":{"type":"bearer","secret_ref":"env:TOKEN"}`, 1))}},
		{"missing ETag", get("/api/v1/servers/ns/x"), "",
			reply{Status: 200, Header: jsonHeader(), Body: []byte(valid)}},
		{"problem type of another status", get("/api/v1/servers/ns/x"), "",
			reply{Status: 404, Header: problemHeader, Body: []byte(`{"type":"https://mcpgw.dev/problems/conflict","title":"x","status":404}`)}},
		{"problem as plain JSON", get("/api/v1/servers/ns/x"), "",
			reply{Status: 404, Header: jsonHeader(), Body: []byte(`{"type":"https://mcpgw.dev/problems/not-found","title":"x","status":404}`)}},
		{"accepted request the document forbids", post("/api/v1/servers"), `{"name":"NS/X","versions":[]}`,
			reply{Status: 201, Header: jsonHeader("ETag", `"3"`, "Location", "/api/v1/servers/ns/x"), Body: []byte(valid)}},
		{"undocumented route answered 200", get("/api/v1/nothing"), "",
			reply{Status: 200, Header: jsonHeader(), Body: []byte(`{}`)}},
	}
	for _, c := range cases {
		if err := e.contract.check(c.req, []byte(c.body), c.r); err == nil {
			t.Errorf("%s: the contract check passed", c.name)
		} else {
			t.Logf("%s: %v", c.name, firstLine(err.Error()))
		}
	}
	// And the valid exchange passes, so the failures above are for the reasons named.
	if err := e.contract.check(get("/api/v1/servers/ns/x"), nil, reply{Status: 200, Header: jsonHeader("ETag", `"3"`), Body: []byte(valid)}); err != nil {
		t.Errorf("valid exchange: %v", err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
