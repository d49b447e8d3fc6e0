package translate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// model builds n servers covering every shape the translator knows: single and multi endpoint, IP and DNS, TLS
// and plain, pinned, deprecated and retired versions, blocked servers, and virtual servers.
func model(n int) *ir.Model {
	m := &ir.Model{}
	for i := range n {
		name := fmt.Sprintf("ns%d/server-%05d", i%7, i)
		ns, short, _ := strings.Cut(name, "/")
		s := &ir.Server{Name: name, Namespace: ns, Short: short, Rev: int64(i + 1)}
		ep := ir.Endpoint{Host: fmt.Sprintf("s%d.example.com", i), Port: 443}
		v1 := &ir.Version{Version: "2.0.0", Transport: ir.TransportStreamableHTTP, Endpoints: []ir.Endpoint{ep},
			Path: "/mcp", TLS: true, Default: true}
		v0 := &ir.Version{Version: "1.0.0", Transport: ir.TransportSSE, Retired: true}
		switch i % 5 {
		case 1:
			v1.Endpoints = []ir.Endpoint{{Host: "10.0.0.1", Port: 80, IP: true}, {Host: "10.0.0.2", Port: 80, IP: true}}
			v1.TLS, v1.Path = false, "/"
		case 2:
			v0.Retired, v0.Deprecated, v0.Endpoints, v0.Path = false, true, []ir.Endpoint{ep}, "/old/"
		case 3:
			s.Blocked = ir.BlockSecurityPending
		case 4:
			v1.Endpoints = append(v1.Endpoints, ir.Endpoint{Host: "other.example.com", Port: 8443})
		}
		s.Versions = []*ir.Version{v1, v0}
		m.Servers = append(m.Servers, s)
	}
	m.Virtuals = []*ir.VirtualServer{{Name: "desk"}, {Name: "off", Blocked: ir.BlockDisabled}}
	slices.SortFunc(m.Servers, func(a, b *ir.Server) int { return strings.Compare(a.Name, b.Name) })
	return m
}

func TestGatewayInvariants(t *testing.T) {
	// Invariant: for any valid model, every resource validates; every route to a cluster names a cluster the fleet
	// receives (or the static registry cluster); cluster names are unique; every route either disables ext_authz
	// or names kind and server in its context extensions; blocked servers get no cluster; EDS clusters have an
	// assignment of the same name.
	m := model(60)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	o := translate.DefaultOptions()
	o.MCPFilter = true
	res, err := newTranslator(t, o).Gateway(m.Gateway(ir.DefaultFleet))
	if err != nil {
		t.Fatal(err)
	}
	clusters := map[string]bool{}
	for _, c := range res.Clusters {
		if err := c.ValidateAll(); err != nil {
			t.Errorf("cluster %s: %v", c.Name, err)
		}
		if clusters[c.Name] {
			t.Errorf("cluster %s twice", c.Name)
		}
		clusters[c.Name] = true
	}
	for _, s := range m.Servers {
		if s.Blocked != ir.BlockNone && clusters[translate.ClusterName(s.Name, "2.0.0")] {
			t.Errorf("blocked server %s has a cluster", s.Name)
		}
	}
	for _, cla := range res.Endpoints {
		if !clusters[cla.ClusterName] {
			t.Errorf("assignment %s has no cluster", cla.ClusterName)
		}
	}
	if len(res.Routes) != 1 || res.Routes[0].Name != translate.RouteConfigName {
		t.Fatalf("route configurations: %d", len(res.Routes))
	}
	rc := res.Routes[0]
	if err := rc.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rc.VirtualHosts[0].Routes {
		if c := r.GetRoute().GetCluster(); c != "" && !clusters[c] && c != translate.RegistryCluster {
			t.Errorf("route %s names missing cluster %q", r.Name, c)
		}
		cfg := new(extauthzv3.ExtAuthzPerRoute)
		if err := r.TypedPerFilterConfig["envoy.filters.http.ext_authz"].UnmarshalTo(cfg); err != nil {
			t.Errorf("route %s: no ext_authz config: %v", r.Name, err)
			continue
		}
		ext := cfg.GetCheckSettings().GetContextExtensions()
		if !cfg.GetDisabled() && (ext[translate.ExtKind] == "" || ext[translate.ExtServer] == "") {
			t.Errorf("route %s: authorized route without kind/server: %v", r.Name, ext)
		}
		if _, ok := ext[translate.ExtVersion]; !cfg.GetDisabled() && !ok {
			t.Errorf("route %s: no version key", r.Name)
		}
	}
	l := res.Listeners[0]
	if err := l.ValidateAll(); err != nil {
		t.Fatal(err)
	}
}

func newTranslator(t testing.TB, o translate.Options) *translate.Translator {
	t.Helper()
	tr, err := translate.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestServerRoutesOrder(t *testing.T) {
	// Invariant: a server's routes are one pin per version (newest first), then the unpinned route, which
	// requires the version header to be absent and serves the default version; retired pins answer 410 and
	// blocked servers 403, with a JSON-RPC error body; deprecated versions mark their answers.
	tr := newTranslator(t, translate.DefaultOptions())
	m := model(5)
	for _, s := range m.Servers {
		routes, err := tr.ServerRoutes(s)
		if err != nil {
			t.Fatal(err)
		}
		if s.Blocked != ir.BlockNone {
			if len(routes) != 1 || routes[0].GetDirectResponse().GetStatus() != 403 {
				t.Errorf("%s: blocked routes %v", s.Name, routes)
			}
			checkBody(t, routes[0], translate.CodeServerBlocked)
			continue
		}
		if len(routes) != len(s.Versions)+1 {
			t.Fatalf("%s: %d routes for %d versions", s.Name, len(routes), len(s.Versions))
		}
		last := routes[len(routes)-1]
		if h := last.Match.Headers; len(h) != 1 || h[0].Name != translate.HeaderServerVersion || h[0].GetPresentMatch() ||
			last.GetRoute().GetCluster() != translate.ClusterName(s.Name, s.DefaultVersion().Version) {
			t.Errorf("%s: unpinned route %v", s.Name, last)
		}
		for i, v := range s.Versions {
			r := routes[i]
			if got := r.Match.Headers[0].GetStringMatch().GetExact(); got != v.Version {
				t.Errorf("%s: route %d pins %q, want %q", s.Name, i, got, v.Version)
			}
			if v.Retired {
				if r.GetDirectResponse().GetStatus() != 410 {
					t.Errorf("%s@%s: retired pin answers %v", s.Name, v.Version, r.Action)
				}
				checkBody(t, r, translate.CodeVersionRetired)
				continue
			}
			hasDeprecation := len(r.ResponseHeadersToAdd) > 0 && r.ResponseHeadersToAdd[0].Header.Key == translate.HeaderDeprecation
			if v.Deprecated != hasDeprecation {
				t.Errorf("%s@%s: deprecated=%v but header=%v", s.Name, v.Version, v.Deprecated, hasDeprecation)
			}
		}
	}
	common := tr.CommonRoutes()
	if r := common[0]; r.GetDirectResponse().GetStatus() != 404 || !r.Match.Headers[0].GetPresentMatch() ||
		r.Match.GetPrefix() != translate.PathMCP {
		t.Errorf("first common route is not the unknown-version route: %v", r)
	} else {
		checkBody(t, r, translate.CodeVersionUnknown)
	}
}

func checkBody(t *testing.T, r *routev3.Route, code int) {
	t.Helper()
	var body struct {
		JSONRPC string           `json:"jsonrpc"`
		ID      *json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	raw := r.GetDirectResponse().GetBody().GetInlineString()
	if err := json.Unmarshal([]byte(raw), &body); err != nil || body.JSONRPC != "2.0" || body.ID != nil ||
		body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("route %s: body %s is not a JSON-RPC error with code %d", r.Name, raw, code)
	}
	if h := r.ResponseHeadersToAdd; len(h) == 0 || h[0].Header.Value != "application/json" {
		t.Errorf("route %s: direct response without JSON content type", r.Name)
	}
}

func TestListenerFilterOrder(t *testing.T) {
	// Invariant: the HCM filters run MCP (when on), ext_authz, stateful session, router, in that order, and the
	// listener does not depend on anything but the options.
	for _, mcp := range []bool{false, true} {
		o := translate.DefaultOptions()
		o.MCPFilter = mcp
		l := newTranslator(t, o).Listener()
		hcm := new(hcmv3.HttpConnectionManager)
		if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range hcm.HttpFilters {
			names = append(names, f.Name)
		}
		want := "envoy.filters.http.ext_authz,envoy.filters.http.stateful_session,envoy.filters.http.router"
		if mcp {
			want = "envoy.filters.http.mcp," + want
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("mcp=%v: filters %s, want %s", mcp, got, want)
		}
		if hcm.GetRds().GetRouteConfigName() != translate.RouteConfigName {
			t.Errorf("listener RDS name %q", hcm.GetRds().GetRouteConfigName())
		}
		ea := new(extauthzv3.ExtAuthz)
		idx := len(names) - 3
		if err := hcm.HttpFilters[idx].GetTypedConfig().UnmarshalTo(ea); err != nil {
			t.Fatal(err)
		}
		if ea.FailureModeAllow || ea.WithRequestBody.MaxRequestBytes != 1<<20 || !ea.WithRequestBody.PackAsBytes ||
			!ea.WithRequestBody.AllowPartialMessage ||
			ea.GetGrpcService().GetEnvoyGrpc().GetClusterName() != translate.AuthzCluster ||
			ea.MetadataContextNamespaces[0] != translate.MCPMetadataNamespace {
			t.Errorf("ext_authz config %v", ea)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	// Invariant: the defaults are valid, and each unsafe or unrenderable option is rejected with ErrInvalidOptions.
	tests := []struct {
		name string
		mod  func(*translate.Options)
		ok   bool
	}{
		{"defaults", func(*translate.Options) {}, true},
		{"dual stack", func(o *translate.Options) { o.ListenerAddress = "::" }, true},
		{"hostname listener", func(o *translate.Options) { o.ListenerAddress = "localhost" }, false},
		{"port zero", func(o *translate.Options) { o.ListenerPort = 0 }, false},
		{"no idle timeout", func(o *translate.Options) { o.StreamIdleTimeout = 0 }, false},
		{"negative max stream", func(o *translate.Options) { o.MaxStreamDuration = -time.Second }, false},
		{"no connect timeout", func(o *translate.Options) { o.ConnectTimeout = 0 }, false},
		{"body too large for the MCP filter", func(o *translate.Options) { o.AuthzMaxRequestBytes = 11 << 20 }, false},
		{"ALS on the authz cluster", func(o *translate.Options) { o.AccessLogCluster = translate.AuthzCluster }, false},
		{"relative CA bundle", func(o *translate.Options) { o.CABundle = "ca.pem" }, false},
		{"zero circuit breaker", func(o *translate.Options) { o.CircuitBreakers.MaxRequests = 0 }, false},
	}
	for _, tc := range tests {
		o := translate.DefaultOptions()
		tc.mod(&o)
		err := o.Validate()
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, translate.ErrInvalidOptions) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// re2DefaultMaxProgramSize is Envoy's default re2.max_program_size.error_level: a route configuration with a regex
// whose compiled program is larger is rejected whole.
const re2DefaultMaxProgramSize = 100

func TestRewriteRegexFitsEnvoy(t *testing.T) {
	// Invariant: every rewrite regex compiles within Envoy's default RE2 program size limit whatever the length of
	// the server's name (the catalog allows 200 characters), and it maps /mcp/{namespace}/{name}, with or without
	// a trailing slash and a rest, onto the upstream path without doubling a slash. Envoy rejects the whole route
	// configuration over one oversized regex, so a long name would freeze every route of its fleets. Go's
	// regexp/syntax program counts one instruction per literal byte, as RE2's does, so it bounds RE2's size.
	ns := "io.github.an-organisation-with-a-long-name"
	name := ns + "/" + strings.Repeat("server-", 30)[:200-len(ns)-1]
	if len(name) != 200 {
		t.Fatalf("name of %d characters", len(name))
	}
	for _, path := range []string{"/", "/mcp/"} {
		s := &ir.Server{Name: name, Namespace: ns, Short: name[len(ns)+1:], Versions: []*ir.Version{{
			Version: "1.0.0", Transport: ir.TransportStreamableHTTP, Path: path, Default: true,
			Endpoints: []ir.Endpoint{{Host: "mcp.example.com", Port: 443}}, TLS: true,
		}}}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		routes, err := newTranslator(t, translate.DefaultOptions()).ServerRoutes(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			rw := r.GetRoute().GetRegexRewrite()
			if rw == nil {
				t.Fatalf("route %s: no regex rewrite for upstream path %q", r.Name, path)
			}
			re, err := syntax.Parse(rw.GetPattern().GetRegex(), syntax.Perl)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := syntax.Compile(re.Simplify())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(prog.Inst); n > re2DefaultMaxProgramSize {
				t.Errorf("route %s: regex %q compiles to %d instructions; Envoy rejects more than %d",
					r.Name, rw.GetPattern().GetRegex(), n, re2DefaultMaxProgramSize)
			}
			rx := regexp.MustCompile(rw.GetPattern().GetRegex())
			gw := translate.ServerPath(name)
			for in, want := range map[string]string{gw: path, gw + "/": path, gw + "/a/b": path + "a/b"} {
				if got := rx.ReplaceAllLiteralString(in, rw.GetSubstitution()); got != want {
					t.Errorf("route %s: %s rewritten to %s, want %s", r.Name, in, got, want)
				}
			}
		}
	}
}

func TestListenerDualStack(t *testing.T) {
	// Invariant: the listener binds the configured address; on the IPv6 wildcard "::" it also accepts IPv4
	// (Envoy sets IPV6_V6ONLY on IPv6 listeners unless ipv4_compat is set), and only there.
	for addr, compat := range map[string]bool{"::": true, "0.0.0.0": false, "127.0.0.1": false, "::1": false, "fd00::1": false} {
		o := translate.DefaultOptions()
		o.ListenerAddress = addr
		l := newTranslator(t, o).Listener()
		sa := l.GetAddress().GetSocketAddress()
		if sa.GetAddress() != addr || sa.GetIpv4Compat() != compat {
			t.Errorf("listener on %q: address %q, ipv4_compat %v, want %v", addr, sa.GetAddress(), sa.GetIpv4Compat(), compat)
		}
		if err := l.ValidateAll(); err != nil {
			t.Errorf("listener on %q: %v", addr, err)
		}
	}
}

func TestListenerBuffersTheAuthzBody(t *testing.T) {
	// Invariant: a request body up to AuthzMaxRequestBytes fits the stream's buffer, whose limit is the
	// connection's (Envoy's default 1 MiB unless the listener sets per_connection_buffer_limit_bytes): ext_authz
	// with partial bodies allowed buffers up to its max against it, and a body beyond the limit is answered with
	// Envoy's bare 413 before authz sees it.
	for _, n := range []uint32{64 << 10, 1 << 20, 4 << 20, translate.MaxMCPFilterBodyBytes} {
		o := translate.DefaultOptions()
		o.AuthzMaxRequestBytes = n
		o.MCPFilter = true
		limit := uint32(1 << 20)
		if l := newTranslator(t, o).Listener().GetPerConnectionBufferLimitBytes(); l != nil {
			limit = l.GetValue()
		}
		if limit < n {
			t.Errorf("authz reads %d body bytes but a stream buffers at most %d", n, limit)
		}
	}
}
