package dataplane

import (
	"net/http"
	"strings"
	"testing"
)

func FuzzNormalize(f *testing.F) {
	// Invariant: any request target either is refused or normalizes to an origin-form path without dot segments or
	// doubled slashes (a redirect target has escaped slashes unescaped), never panicking; the query is untouched.
	for _, s := range []string{"/mcp/acme/x", "/mcp/../../x?a=../b", "/a%2Fb", "//x//y/./z/..", "x", "/%5c%2f", "/?"} {
		f.Add(s)
	}
	h := &hcmConfig{normalizePath: true, mergeSlashes: true, unescapeSlashes: true}
	f.Fuzz(func(t *testing.T, target string) {
		out, redirect, err := h.normalize(target)
		if err != nil {
			return
		}
		p, q, _ := strings.Cut(out, "?")
		_, wantQ, _ := strings.Cut(target, "?")
		if q != wantQ || !strings.HasPrefix(p, "/") {
			t.Fatalf("normalize(%q) = %q", target, out)
		}
		if !redirect && (strings.Contains(p, "//") || strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../")) {
			t.Fatalf("normalize(%q) = %q keeps dot segments or doubled slashes", target, out)
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	// Invariant: whatever session header a client sends, opening it never panics, and a header it does not accept
	// as an envelope is left exactly as sent; a sealed value always opens to the upstream's value and host.
	f.Add("abc", "10.0.0.1:80")
	f.Add("MTAuMC4wLjE6ODA=;UV:YWJj", "")
	f.Add(";;UV:", "h")
	f.Fuzz(func(t *testing.T, value, host string) {
		h := http.Header{}
		h.Set("Mcp-Session-Id", value)
		got := openEnvelope(h, "mcp-session-id")
		if got == "" && h.Get("Mcp-Session-Id") != value {
			t.Fatalf("rejected envelope %q was changed to %q", value, h.Get("Mcp-Session-Id"))
		}
		if value == "" || strings.ContainsAny(value, "\r\n") {
			return
		}
		h.Set("Mcp-Session-Id", value)
		sealEnvelope(h, "mcp-session-id", host)
		if got := openEnvelope(h, "mcp-session-id"); host != "" && (got != host || h.Get("Mcp-Session-Id") != value) {
			t.Fatalf("seal/open of %q at %q gave %q, %q", value, host, got, h.Get("Mcp-Session-Id"))
		}
	})
}
