package resource_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/authz/resource"
)

// catalog is the lookup of the tests: the endpoints the gateway serves, with their titles.
func catalog(ctx context.Context, kind, name string) (string, bool, error) {
	switch kind + " " + name {
	case "server finance/ledger":
		return "Finance ledger", true, nil
	case "server ops/pager":
		return "", true, nil
	case "virtual support":
		return "Support bundle", true, nil
	case "registry-tools ":
		return "", true, nil
	case "server broken/store":
		return "", false, errors.New("store down: connection refused to 10.0.0.7")
	}
	return "", false, nil
}

func newServer(t *testing.T, base string) *httptest.Server {
	t.Helper()
	h, err := resource.Handler(resource.Config{
		PublicBaseURL:        base,
		AuthorizationServers: []string{"https://keycloak.example/realms/prod"},
		ScopesSupported:      []string{"finance-read"},
	}, catalog, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandlerDocuments(t *testing.T) {
	// Invariant: each endpoint's document names the endpoint's public URL as "resource" (what the client called,
	// minus the well-known part), the configured authorization servers and scopes, and bearer in a header only.
	srv := newServer(t, "https://gw.example/")
	tests := []struct {
		path string
		want resource.Metadata
	}{
		{"/.well-known/oauth-protected-resource", resource.Metadata{
			Resource: "https://gw.example", ResourceName: resource.DefaultResourceName}},
		{"/.well-known/oauth-protected-resource/", resource.Metadata{
			Resource: "https://gw.example", ResourceName: resource.DefaultResourceName}},
		{"/.well-known/oauth-protected-resource/mcp/finance/ledger", resource.Metadata{
			Resource: "https://gw.example/mcp/finance/ledger", ResourceName: "Finance ledger"}},
		{"/.well-known/oauth-protected-resource/mcp/ops/pager", resource.Metadata{
			Resource: "https://gw.example/mcp/ops/pager", ResourceName: "ops/pager"}},
		{"/.well-known/oauth-protected-resource/virtual/support", resource.Metadata{
			Resource: "https://gw.example/virtual/support", ResourceName: "Support bundle"}},
		{"/.well-known/oauth-protected-resource/airegistry-tools/mcp", resource.Metadata{
			Resource: "https://gw.example/airegistry-tools/mcp", ResourceName: "airegistry-tools"}},
	}
	for _, tc := range tests {
		resp, body := get(t, http.MethodGet, srv.URL+tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", tc.path, resp.StatusCode, body)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: content type %q", tc.path, ct)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s: no CORS header", tc.path)
		}
		var got resource.Metadata
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("GET %s: %v in %s", tc.path, err, body)
		}
		want := tc.want
		want.AuthorizationServers = []string{"https://keycloak.example/realms/prod"}
		want.ScopesSupported = []string{"finance-read"}
		want.BearerMethodsSupported = []string{"header"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("GET %s (-want +got):\n%s", tc.path, d)
		}
	}
}

func TestHandlerMetadataURLRoundTrip(t *testing.T) {
	// Invariant: GET of Base.MetadataURL answers the document whose resource is Base.ResourceURL, also under a
	// base path prefix; so the URL ext_authz puts in a challenge always leads to a document that matches.
	srv := newServer(t, "https://corp.example/gw")
	b, _ := resource.ParseBase("https://corp.example/gw")
	meta, _ := b.MetadataURL(resource.KindServer, "finance/ledger")
	res, _ := b.ResourceURL(resource.KindServer, "finance/ledger")
	path := strings.TrimPrefix(meta, "https://corp.example")
	resp, body := get(t, http.MethodGet, srv.URL+path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var got resource.Metadata
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Resource != res {
		t.Errorf("resource %q, want %q", got.Resource, res)
	}
	// Without the prefix the path names nothing.
	if resp, _ := get(t, http.MethodGet, srv.URL+"/.well-known/oauth-protected-resource/mcp/finance/ledger"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("path without the base prefix: %d, want 404", resp.StatusCode)
	}
}

func TestHandlerErrors(t *testing.T) {
	// Invariant: unknown endpoints and malformed paths are 404, other methods 405 with Allow, a lookup failure 500
	// whose body does not carry the error text; every error body is problem+json.
	srv := newServer(t, "https://gw.example")
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/.well-known/oauth-protected-resource/mcp/finance/unknown", 404},
		{"GET", "/.well-known/oauth-protected-resource/mcp/finance", 404},
		{"GET", "/.well-known/oauth-protected-resource/mcp/finance/ledger/extra", 404},
		{"GET", "/.well-known/oauth-protected-resource/mcp/finance%2Fledger/x", 404},
		{"GET", "/.well-known/oauth-protected-resource/mcp/%2e%2e/ledger", 404},
		{"GET", "/.well-known/oauth-protected-resource/mcp//ledger", 404},
		{"GET", "/.well-known/oauth-protected-resource/virtual/unknown", 404},
		{"GET", "/.well-known/oauth-protected-resource/agents/a/b", 404},
		{"GET", "/.well-known/oauth-protected-resourcex", 404},
		{"GET", "/.well-known/openid-configuration", 404},
		{"POST", "/.well-known/oauth-protected-resource/mcp/finance/ledger", 405},
		{"DELETE", "/.well-known/oauth-protected-resource", 405},
		{"GET", "/.well-known/oauth-protected-resource/mcp/broken/store", 500},
	}
	for _, tc := range tests {
		resp, body := get(t, tc.method, srv.URL+tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: content type %q", tc.method, tc.path, ct)
		}
		if strings.Contains(body, "10.0.0.7") {
			t.Errorf("%s %s: internal error text leaked: %s", tc.method, tc.path, body)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
}

func TestHandlerHeadAndPreflight(t *testing.T) {
	// Invariant: HEAD answers like GET without a body; a CORS preflight is allowed from any origin.
	srv := newServer(t, "https://gw.example")
	resp, body := get(t, http.MethodHead, srv.URL+"/.well-known/oauth-protected-resource/mcp/finance/ledger")
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, http.MethodOptions, srv.URL+"/.well-known/oauth-protected-resource/mcp/finance/ledger")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHandlerRejectsBadConfig(t *testing.T) {
	// Invariant: Handler refuses an invalid configuration and a nil lookup.
	if _, err := resource.Handler(resource.Config{}, catalog, nil); !errors.Is(err, resource.ErrInvalidConfig) {
		t.Errorf("empty config: %v", err)
	}
	if _, err := resource.Handler(resource.Config{PublicBaseURL: "https://gw.example"}, nil, nil); !errors.Is(err, resource.ErrInvalidConfig) {
		t.Errorf("nil lookup: %v", err)
	}
}
