package ir_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/ir"
)

func server(name string, status catalog.Status, versions ...catalog.ServerVersion) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Status: status}, Versions: versions}
	s.Normalize()
	return s
}

func remote(version, url string, mods ...func(*catalog.ServerVersion)) catalog.ServerVersion {
	v := catalog.ServerVersion{Version: version, Transport: catalog.TransportStreamableHTTP, URL: url}
	for _, m := range mods {
		m(&v)
	}
	return v
}

func TestServerFromCatalog(t *testing.T) {
	// Invariant: a catalog server becomes a server whose routable versions carry parsed endpoints, whose status
	// maps to Blocked/Deprecated, and whose default serves; stdio-only servers vanish without error; anything
	// Envoy could not honour is an *Error wrapping ErrInvalid naming the field.
	retired := func(v *catalog.ServerVersion) { v.Retired = true }
	deprecated := func(v *catalog.ServerVersion) { v.Deprecated = true }
	stdio := catalog.ServerVersion{Version: "0.1.0", Transport: catalog.TransportStdio, Launch: &catalog.Launch{Command: "x"}}
	tests := []struct {
		name    string
		in      *catalog.Server
		want    *ir.Server
		wantErr string // substring of the error; "" for none
	}{{
		name: "https with path and default port",
		in:   server("acme/search", catalog.StatusEnabled, remote("1.0.0", "https://Search.Example.com/v1/mcp")),
		want: &ir.Server{Name: "acme/search", Namespace: "acme", Short: "search", Versions: []*ir.Version{{
			Version: "1.0.0", Transport: ir.TransportStreamableHTTP, TLS: true, Path: "/v1/mcp", Default: true,
			Endpoints: []ir.Endpoint{{Host: "search.example.com", Port: 443}},
		}}},
	}, {
		name: "http IP literal, no path, several endpoints, duplicates dropped",
		in: server("acme/ip", catalog.StatusEnabled, remote("2.0.0", "http://10.0.0.1:8080", func(v *catalog.ServerVersion) {
			v.Endpoints = []string{"http://10.0.0.2:8080", "http://10.0.0.1:8080", "http://[fd00::1]:8080"}
			v.HTTP2 = true
		})),
		want: &ir.Server{Name: "acme/ip", Namespace: "acme", Short: "ip", Versions: []*ir.Version{{
			Version: "2.0.0", Transport: ir.TransportStreamableHTTP, Path: "/", Default: true, HTTP2: true,
			Endpoints: []ir.Endpoint{{Host: "10.0.0.1", Port: 8080, IP: true}, {Host: "10.0.0.2", Port: 8080, IP: true},
				{Host: "fd00::1", Port: 8080, IP: true}},
		}}},
	}, {
		name: "status maps to blocked and deprecated",
		in:   server("acme/off", catalog.StatusSecurityPending, remote("1.0.0", "http://a.example/")),
		want: &ir.Server{Name: "acme/off", Namespace: "acme", Short: "off", Blocked: ir.BlockSecurityPending,
			Versions: []*ir.Version{{Version: "1.0.0", Transport: ir.TransportStreamableHTTP, Path: "/", Default: true,
				Endpoints: []ir.Endpoint{{Host: "a.example", Port: 80}}}}},
	}, {
		name: "retired versions keep no endpoints and never default; deprecated default kept when nothing else serves",
		in: server("acme/old", catalog.StatusDeprecated,
			remote("2.0.0", "http://a.example/", retired), remote("1.0.0", "http://b.example/", deprecated)),
		want: &ir.Server{Name: "acme/old", Namespace: "acme", Short: "old", Deprecated: true, Versions: []*ir.Version{
			{Version: "2.0.0", Transport: ir.TransportStreamableHTTP, Retired: true},
			{Version: "1.0.0", Transport: ir.TransportStreamableHTTP, Path: "/", Default: true, Deprecated: true,
				Endpoints: []ir.Endpoint{{Host: "b.example", Port: 80}}},
		}},
	}, {
		name: "stdio-only servers have nothing to route",
		in:   server("acme/local", catalog.StatusEnabled, stdio),
	}, {
		name:    "query strings cannot be forwarded",
		in:      server("acme/q", catalog.StatusEnabled, remote("1.0.0", "https://a.example/mcp?key=1")),
		wantErr: "versions[0].url",
	}, {
		name:    "unknown status fails closed",
		in:      server("acme/x", "paused", remote("1.0.0", "https://a.example/")),
		wantErr: "unknown status",
	}, {
		name: "endpoints must share the scheme and path",
		in: server("acme/mixed", catalog.StatusEnabled, remote("1.0.0", "https://a.example/mcp", func(v *catalog.ServerVersion) {
			v.Endpoints = []string{"http://b.example/mcp"}
		})),
		wantErr: "versions[0].endpoints[0]",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ir.ServerFromCatalog(tc.in)
			if tc.wantErr != "" {
				var e *ir.Error
				if !errors.As(err, &e) || !errors.Is(err, ir.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an *ir.Error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("server (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromCatalogIsBestEffort(t *testing.T) {
	// Invariant: one bad server never removes the good ones; the bad one is reported, the model is sorted and valid.
	good := server("b/good", catalog.StatusEnabled, remote("1.0.0", "https://good.example/"))
	bad := server("a/bad", catalog.StatusEnabled, remote("1.0.0", "https://bad.example/?q"))
	v := &catalog.VirtualServer{Name: "support", Governance: catalog.Governance{Status: catalog.StatusEnabled}}
	m, errs := ir.FromCatalog([]*catalog.Server{good, bad, good}, []*catalog.VirtualServer{v})
	if len(errs) != 2 {
		t.Fatalf("errs = %v, want the bad server and the duplicate", errs)
	}
	if len(m.Servers) != 1 || m.Servers[0].Name != "b/good" || len(m.Virtuals) != 1 {
		t.Fatalf("model = %+v", m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestGatewayFleets(t *testing.T) {
	// Invariant: a server naming no fleet is in every fleet's gateway; one naming fleets is only in those; Fleets
	// lists every named fleet plus the default one.
	all := &ir.Server{Name: "a/all"}
	edge := &ir.Server{Name: "a/edge", Fleets: []string{"edge"}}
	vEdge := &ir.VirtualServer{Name: "v", Fleets: []string{"edge", "eu"}}
	m := &ir.Model{Servers: []*ir.Server{all, edge}, Virtuals: []*ir.VirtualServer{vEdge}}
	tests := []struct {
		fleet    string
		servers  []string
		virtuals int
	}{
		{ir.DefaultFleet, []string{"a/all"}, 0},
		{"edge", []string{"a/all", "a/edge"}, 1},
		{"eu", []string{"a/all"}, 1},
		{"unknown", []string{"a/all"}, 0},
	}
	for _, tc := range tests {
		g := m.Gateway(tc.fleet)
		var names []string
		for _, s := range g.Servers {
			names = append(names, s.Name)
		}
		if diff := cmp.Diff(tc.servers, names); diff != "" || len(g.Virtuals) != tc.virtuals {
			t.Errorf("fleet %s: servers diff %s, virtuals %d", tc.fleet, diff, len(g.Virtuals))
		}
	}
	if diff := cmp.Diff([]string{"default", "edge", "eu"}, m.Fleets()); diff != "" {
		t.Errorf("fleets: %s", diff)
	}
}

func TestValidate(t *testing.T) {
	// Invariant: Validate rejects every model the translator could not render faithfully, naming the field.
	ok := func() *ir.Server {
		return &ir.Server{Name: "a/b", Namespace: "a", Short: "b", Versions: []*ir.Version{{Version: "1.0.0",
			Transport: ir.TransportSSE, Path: "/", Default: true, Endpoints: []ir.Endpoint{{Host: "h.example", Port: 80}}}}}
	}
	tests := []struct {
		name  string
		mod   func(*ir.Server)
		field string
	}{
		{"valid", func(*ir.Server) {}, ""},
		{"bad name", func(s *ir.Server) { s.Name, s.Namespace, s.Short = "A/b", "A", "b" }, "name"},
		{"halves disagree", func(s *ir.Server) { s.Short = "c" }, "name"},
		{"retired default", func(s *ir.Server) { s.Versions[0].Retired = true }, "versions[0]"},
		{"two defaults", func(s *ir.Server) {
			v := *s.Versions[0]
			v.Version = "2.0.0"
			s.Versions = append(s.Versions, &v)
		}, "versions"},
		{"no endpoints", func(s *ir.Server) { s.Versions[0].Endpoints = nil }, "versions[0].endpoints"},
		{"bad host", func(s *ir.Server) { s.Versions[0].Endpoints[0].Host = "a b" }, "versions[0].endpoints[0]"},
		{"bad port", func(s *ir.Server) { s.Versions[0].Endpoints[0].Port = 70000 }, "versions[0].endpoints[0]"},
		{"backslash path", func(s *ir.Server) { s.Versions[0].Path = `/a\1` }, "versions[0].path"},
		{"bad version", func(s *ir.Server) { s.Versions[0].Version = "1 0" }, "versions[0].version"},
		{"bad transport", func(s *ir.Server) { s.Versions[0].Transport = "stdio" }, "versions[0].transport"},
		{"bad block", func(s *ir.Server) { s.Blocked = "maybe" }, "blocked"},
		{"bad fleet", func(s *ir.Server) { s.Fleets = []string{"has space"} }, "fleets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.mod(s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *ir.Error
			if !errors.As(err, &e) || e.Field != tc.field {
				t.Fatalf("err = %v, want field %q", err, tc.field)
			}
		})
	}
}

func TestHostPort(t *testing.T) {
	// Invariant: the Host header names the port only when it is not the scheme's default, and brackets IPv6.
	tests := []struct {
		e    ir.Endpoint
		tls  bool
		want string
	}{
		{ir.Endpoint{Host: "a.example", Port: 443}, true, "a.example"},
		{ir.Endpoint{Host: "a.example", Port: 443}, false, "a.example:443"},
		{ir.Endpoint{Host: "a.example", Port: 80}, false, "a.example"},
		{ir.Endpoint{Host: "fd00::1", Port: 8443, IP: true}, true, "[fd00::1]:8443"},
	}
	for _, tc := range tests {
		if got := tc.e.HostPort(tc.tls); got != tc.want {
			t.Errorf("%+v tls=%v: %q, want %q", tc.e, tc.tls, got, tc.want)
		}
	}
}

func FuzzParseUpstream(f *testing.F) {
	for _, s := range []string{"https://a.example/mcp", "http://10.0.0.1:8080", "http://[fe80::1%25eth0]/", "https://u:p@h/",
		"http://h/%zz", "https://h:0/", "ftp://h/", "http://h/a b", "https://h/a?b#c", "//h/x", "http:opaque"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Invariant: never panics; an accepted URL yields a valid endpoint and path, a rejected one an error.
		u, err := ir.ParseUpstream(raw)
		if err != nil {
			return
		}
		s := &ir.Server{Name: "a/b", Namespace: "a", Short: "b", Versions: []*ir.Version{{Version: "1.0.0",
			Transport: ir.TransportStreamableHTTP, Path: u.Path, TLS: u.TLS, Endpoints: []ir.Endpoint{u.Endpoint}}}}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseUpstream(%q) = %+v, which does not validate: %v", raw, u, err)
		}
	})
}
