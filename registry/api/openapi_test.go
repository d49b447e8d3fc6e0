package api_test

import (
	"bytes"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// ginAnyMethods are the methods gin.Any registers: a path that has all of them is a Mount, whose handler decides
// which methods it serves.
var ginAnyMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodHead,
	http.MethodOptions, http.MethodDelete, http.MethodConnect, http.MethodTrace}

// template maps a gin path to an OpenAPI path template: /:ns and /*id become /{ns} and /{id}.
func template(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

func TestTemplate(t *testing.T) {
	// Invariant: gin parameters, named and catch-all, become OpenAPI templates; literal segments are kept.
	for _, c := range []struct{ in, want string }{
		{"/healthz", "/healthz"},
		{"/api/v1/servers/:ns/:name", "/api/v1/servers/{ns}/{name}"},
		{"/api/v1/group-mappings/*id", "/api/v1/group-mappings/{id}"},
		{"/api/v1/entities/:type/:ns/:name", "/api/v1/entities/{type}/{ns}/{name}"},
		{"/mcp/*rest", "/mcp/{rest}"},
	} {
		if got := template(c.in); got != c.want {
			t.Errorf("template(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	// Invariant: every method and path the gin engine serves is an operation of the document, and every operation of
	// the document is served. A Mount (gin.Any) is covered when its path is documented with at least one method.
	e := newEnv(t)
	served := map[string][]string{} // template -> methods
	for _, r := range e.api.Routes() {
		p := template(r.Path)
		served[p] = append(served[p], r.Method)
	}
	var missing, stale []string
	for p, methods := range served {
		item := e.contract.doc.Paths.Value(p)
		if item == nil {
			for _, m := range methods {
				missing = append(missing, m+" "+p)
			}
			continue
		}
		mount := len(methods) == len(ginAnyMethods)
		for _, m := range ginAnyMethods {
			mount = mount && slices.Contains(methods, m)
		}
		if mount {
			if len(item.Operations()) == 0 {
				missing = append(missing, "(any method) "+p)
			}
			continue
		}
		for _, m := range methods {
			if item.GetOperation(m) == nil {
				missing = append(missing, m+" "+p)
			}
		}
	}
	for p, item := range e.contract.doc.Paths.Map() {
		for m := range item.Operations() {
			if !slices.Contains(served[p], m) {
				stale = append(stale, m+" "+p)
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("%d routes are not in registry/api/openapi.yaml:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("%d operations of registry/api/openapi.yaml are not served:\n  %s", len(stale), strings.Join(stale, "\n  "))
	}
}

func TestOpenAPIDocumentRules(t *testing.T) {
	// Invariant: the document is OpenAPI 3.1.0 and passes kin-openapi's loader and Validate; every operation has a
	// unique operationId, a summary and a 2xx answer; an authenticated operation documents 401; an operation with a
	// request body documents the body problems (400, 413, 415 and 422); every 4xx and 5xx answer is problem+json.
	doc, err := loadDocument(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	ids := map[string]string{}
	for p, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			name := m + " " + p
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %q is also %s", name, op.OperationID, other)
			}
			ids[op.OperationID] = name
			if op.Summary == "" {
				t.Errorf("%s: no summary", name)
			}
			var ok2xx bool
			for code := range op.Responses.Map() {
				ok2xx = ok2xx || strings.HasPrefix(code, "2")
			}
			if !ok2xx {
				t.Errorf("%s: no 2xx response", name)
			}
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			if len(security) > 0 && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s: authenticated but 401 is not documented", name)
			}
			if op.RequestBody != nil {
				for _, s := range []int{400, 413, 415, 422} {
					if op.Responses.Status(s) == nil {
						t.Errorf("%s: takes a body but does not document %d", name, s)
					}
				}
			}
			for code, ref := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				if ref.Value == nil || ref.Value.Content.Get("application/problem+json") == nil || len(ref.Value.Content) != 1 {
					t.Errorf("%s: %s is not answered with application/problem+json alone", name, code)
				}
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	// Invariant: /api/v1/openapi.json serves the document without a token, as JSON that loads as OpenAPI 3.1.
	e := newEnv(t)
	r := e.do(t, http.MethodGet, "/api/v1/openapi.json", nil, as("")).want(t, http.StatusOK)
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load served document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths.Len() == 0 {
		t.Fatalf("served document: openapi %q with %d paths", doc.OpenAPI, doc.Paths.Len())
	}
	if !bytes.HasPrefix(r.Body, []byte("{")) {
		t.Fatalf("served document is not a JSON object: %.40s", r.Body)
	}
}
