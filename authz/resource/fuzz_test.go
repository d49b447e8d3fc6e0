package resource_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/authz/resource"
)

// FuzzHandlerPath feeds arbitrary request paths to the handler. It must never panic, answer only 200, 404 or 500,
// and every document it serves must be the one its own path names: resource's metadata URL is the request URL.
func FuzzHandlerPath(f *testing.F) {
	for _, s := range []string{
		"/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/mcp/finance/ledger",
		"/.well-known/oauth-protected-resource/virtual/support",
		"/.well-known/oauth-protected-resource/airegistry-tools/mcp",
		"/.well-known/oauth-protected-resource/mcp/a%2Fb/c",
		"/.well-known/oauth-protected-resource/mcp/%2e/c",
		"/.well-known/oauth-protected-resource/mcp/%zz/c",
	} {
		f.Add(s)
	}
	h, err := resource.Handler(resource.Config{PublicBaseURL: "https://gw.example"}, anyEndpoint, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# \t\r\n") {
			return
		}
		req, err := http.NewRequest(http.MethodGet, "https://gw.example"+path, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNotFound:
			return
		case http.StatusOK:
		default:
			t.Fatalf("GET %q: status %d", path, rec.Code)
		}
		var doc resource.Metadata
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("GET %q: %v", path, err)
		}
		rest, ok := strings.CutPrefix(doc.Resource, "https://gw.example")
		if !ok {
			t.Fatalf("GET %q: resource %q is not under the base", path, doc.Resource)
		}
		if got, want := segments(resource.WellKnownPath+rest), segments(req.URL.EscapedPath()); got != want {
			t.Fatalf("GET %q served the document of %q: %q != %q", path, doc.Resource, got, want)
		}
	})
}

// anyEndpoint finds every endpoint.
func anyEndpoint(context.Context, string, string) (string, bool, error) { return "", true, nil }

// segments decodes each segment of an escaped path, so that equal paths compare equal whatever their
// percent-encoding; a trailing slash is dropped.
func segments(p string) string {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	return strings.Join(segs, "\x00")
}
