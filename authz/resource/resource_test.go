package resource_test

import (
	"errors"
	"testing"

	"github.com/mcpgw/mcpgw/authz/resource"
)

func TestParseBase(t *testing.T) {
	// Invariant: an absolute http(s) URL parses to its normalised form without a trailing slash; anything that
	// could not prefix a resource URL unambiguously is ErrInvalidConfig.
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "https://gw.example.com", want: "https://gw.example.com"},
		{in: "https://gw.example.com/", want: "https://gw.example.com"},
		{in: "HTTPS://GW.Example.com:8443/", want: "https://gw.example.com:8443"},
		{in: "http://127.0.0.1:10000", want: "http://127.0.0.1:10000"},
		{in: "https://corp.example/gateway/", want: "https://corp.example/gateway"},
		{in: "https://corp.example/a/b", want: "https://corp.example/a/b"},
		{in: "", bad: true},
		{in: "gw.example.com", bad: true},
		{in: "/relative", bad: true},
		{in: "ftp://gw.example.com", bad: true},
		{in: "https://", bad: true},
		{in: "https://user:pw@gw.example.com", bad: true},
		{in: "https://gw.example.com?x=1", bad: true},
		{in: "https://gw.example.com?", bad: true},
		{in: "https://gw.example.com#frag", bad: true},
		{in: "https://gw.example.com/a/../b", bad: true},
		{in: "https://gw.example.com/a//b", bad: true},
		{in: "https://gw.example.com/%zz", bad: true},
	}
	for _, tc := range tests {
		b, err := resource.ParseBase(tc.in)
		if tc.bad {
			if !errors.Is(err, resource.ErrInvalidConfig) {
				t.Errorf("ParseBase(%q) = %v, %v; want ErrInvalidConfig", tc.in, b, err)
			}
			continue
		}
		if err != nil || b.String() != tc.want {
			t.Errorf("ParseBase(%q) = %q, %v; want %q", tc.in, b.String(), err, tc.want)
		}
	}
}

func TestURLs(t *testing.T) {
	// Invariant: the metadata URL is the resource URL with the well-known suffix inserted between the origin and
	// the path (RFC 9728 §3.1), for every kind, with and without a base path prefix.
	tests := []struct {
		base, kind, name string
		resource, meta   string
		err              error
	}{
		{"https://gw.example", "server", "finance/ledger",
			"https://gw.example/mcp/finance/ledger",
			"https://gw.example/.well-known/oauth-protected-resource/mcp/finance/ledger", nil},
		{"https://corp.example/gw/", "server", "finance/ledger",
			"https://corp.example/gw/mcp/finance/ledger",
			"https://corp.example/.well-known/oauth-protected-resource/gw/mcp/finance/ledger", nil},
		{"http://127.0.0.1:10000", "virtual", "support-bundle",
			"http://127.0.0.1:10000/virtual/support-bundle",
			"http://127.0.0.1:10000/.well-known/oauth-protected-resource/virtual/support-bundle", nil},
		{"https://gw.example", "registry-tools", "airegistry-tools",
			"https://gw.example/airegistry-tools/mcp",
			"https://gw.example/.well-known/oauth-protected-resource/airegistry-tools/mcp", nil},
		{"https://gw.example", "server", "a b/c?d",
			"https://gw.example/mcp/a%20b/c%3Fd",
			"https://gw.example/.well-known/oauth-protected-resource/mcp/a%20b/c%3Fd", nil},
		{"https://gw.example", "server", "ledger", "", "", resource.ErrInvalidName},
		{"https://gw.example", "server", "a/b/c", "", "", resource.ErrInvalidName},
		{"https://gw.example", "server", "../b", "", "", resource.ErrInvalidName},
		{"https://gw.example", "server", "/b", "", "", resource.ErrInvalidName},
		{"https://gw.example", "virtual", "", "", "", resource.ErrInvalidName},
		{"https://gw.example", "virtual", "a/b", "", "", resource.ErrInvalidName},
		{"https://gw.example", "agent", "a/b", "", "", resource.ErrUnknownKind},
		{"https://gw.example", "", "a/b", "", "", resource.ErrUnknownKind},
	}
	for _, tc := range tests {
		b, err := resource.ParseBase(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		res, err1 := b.ResourceURL(tc.kind, tc.name)
		meta, err2 := b.MetadataURL(tc.kind, tc.name)
		if tc.err != nil {
			if !errors.Is(err1, tc.err) || !errors.Is(err2, tc.err) {
				t.Errorf("%s %q: errors %v, %v; want %v", tc.kind, tc.name, err1, err2, tc.err)
			}
			continue
		}
		if err1 != nil || err2 != nil || res != tc.resource || meta != tc.meta {
			t.Errorf("%s %q on %s:\n got %q, %q (%v, %v)\nwant %q, %q", tc.kind, tc.name, tc.base, res, meta, err1, err2,
				tc.resource, tc.meta)
		}
	}
	b, _ := resource.ParseBase("https://corp.example/gw")
	if got, want := b.RootMetadataURL(), "https://corp.example/.well-known/oauth-protected-resource/gw"; got != want {
		t.Errorf("RootMetadataURL = %q, want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	// Invariant: Validate accepts a complete configuration and names every problem of a bad one, each matching
	// ErrInvalidConfig.
	good := resource.Config{
		PublicBaseURL:         "https://gw.example",
		AuthorizationServers:  []string{"https://keycloak.example/realms/prod", "http://127.0.0.1:4444"},
		ScopesSupported:       []string{"finance-read", "tools:call"},
		ResourceDocumentation: "https://docs.example/mcp",
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if err := (resource.Config{PublicBaseURL: "https://gw.example"}).Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*resource.Config)
	}{
		{"no base", func(c *resource.Config) { c.PublicBaseURL = "" }},
		{"issuer not a URL", func(c *resource.Config) { c.AuthorizationServers = []string{"mcpgw-dev"} }},
		{"issuer with query", func(c *resource.Config) { c.AuthorizationServers = []string{"https://as.example?x=1"} }},
		{"issuer with fragment", func(c *resource.Config) { c.AuthorizationServers = []string{"https://as.example#x"} }},
		{"issuer twice", func(c *resource.Config) {
			c.AuthorizationServers = []string{"https://as.example", "https://as.example"}
		}},
		{"scope with space", func(c *resource.Config) { c.ScopesSupported = []string{"a b"} }},
		{"scope with quote", func(c *resource.Config) { c.ScopesSupported = []string{`a"b`} }},
		{"empty scope", func(c *resource.Config) { c.ScopesSupported = []string{""} }},
		{"scope twice", func(c *resource.Config) { c.ScopesSupported = []string{"a", "a"} }},
		{"documentation relative", func(c *resource.Config) { c.ResourceDocumentation = "/docs" }},
	}
	for _, tc := range tests {
		c := good
		tc.mod(&c)
		if err := c.Validate(); !errors.Is(err, resource.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}
