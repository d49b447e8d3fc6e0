package catalog_test

import (
	"errors"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestUpstreamPolicy(t *testing.T) {
	// Invariant: a server whose url, endpoints or token_url names an address in a denied range is refused, with the
	// field that does; the address is recognised however the URL spells it (IPv6 zones, IPv4-mapped IPv6,
	// localhost, metadata.google.internal), numeric hosts that are not standard IP addresses are refused outright,
	// and DNS names are left to resolution.
	def, err := catalog.NewUpstreamPolicy(catalog.DefaultDeniedUpstreams)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := catalog.NewUpstreamPolicy(append([]string{"127.0.0.0/8", "::1"}, catalog.DefaultDeniedUpstreams...))
	if err != nil {
		t.Fatal(err)
	}
	open, err := catalog.NewUpstreamPolicy([]string{"", " "})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url               string
		def, strict, open bool // refused by each policy
	}{
		{"https://mcp.example.com/mcp", false, false, false},
		{"http://10.1.2.3:8080/mcp", false, false, false},
		{"http://127.0.0.1:9000/mcp", false, true, false},
		{"http://localhost:9000/mcp", false, true, false},
		{"http://api.LOCALHOST./mcp", false, true, false},
		{"http://[::1]:9000/mcp", false, true, false},
		{"http://169.254.169.254/latest/meta-data/", true, true, false},
		{"http://[::ffff:169.254.169.254]/latest", true, true, false},
		{"http://[fe80::1%25eth0]/mcp", true, true, false},
		{"http://[fd00:ec2::254]/latest", true, true, false},
		{"http://[::169.254.169.254]/latest", true, true, false},
		{"http://[64:ff9b::a9fe:a9fe]/latest", true, true, false},
		{"http://[2002:a9fe:a9fe::1]/latest", true, true, false},
		{"http://[64:ff9b::7f00:1]/mcp", false, true, false},
		{"http://[2001:db8::a9fe:a9fe]/mcp", false, false, false},
		{"http://metadata.google.internal/computeMetadata/v1/", true, true, false},
		{"http://0.0.0.0:9901/quitquitquit", true, true, false},
		{"http://2852039166/mcp", true, true, true},
		{"http://0x7f.1/mcp", true, true, true},
		{"http://0177.0.0.1/mcp", true, true, true},
		{"http://123.example/mcp", false, false, false},
	} {
		srv := &catalog.Server{Versions: []catalog.ServerVersion{{URL: "https://ok.example/mcp"}, {URL: c.url}}}
		for _, p := range []struct {
			name   string
			policy *catalog.UpstreamPolicy
			refuse bool
		}{{"default", def, c.def}, {"strict", strict, c.strict}, {"open", open, c.open}} {
			err := p.policy.CheckServer(srv)
			var ve *catalog.ValidationError
			switch {
			case !p.refuse && err != nil:
				t.Errorf("%s policy refuses %s: %v", p.name, c.url, err)
			case p.refuse && (!errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "versions[1].url"):
				t.Errorf("%s policy on %s: %v, want a refusal of versions[1].url", p.name, c.url, err)
			}
		}
	}
	v := &catalog.ServerVersion{URL: "https://ok.example/mcp", Endpoints: []string{"https://ok.example/mcp", "https://169.254.1.1/mcp"},
		EgressAuth: &catalog.EgressAuth{Type: "oauth2-client-credentials", TokenURL: "http://169.254.169.254/token"}}
	var ve *catalog.ValidationError
	if err := def.CheckVersion(v); !errors.As(err, &ve) || len(ve.Fields) != 2 ||
		ve.Fields[0].Field != "endpoints[1]" || ve.Fields[1].Field != "egress_auth.token_url" {
		t.Errorf("version check: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-address", "10.0.0.0/8/8"} {
		if _, err := catalog.NewUpstreamPolicy([]string{bad}); err == nil {
			t.Errorf("%q accepted as a range", bad)
		}
	}
}
