package dataplane

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

func goldenListener(t *testing.T) *listenerv3.Listener {
	t.Helper()
	return readGolden(t, filepath.Join(goldenDir, "servers.listener.yaml"), func() *listenerv3.Listener { return new(listenerv3.Listener) })[0]
}

func goldenRoutes(t *testing.T) *routev3.RouteConfiguration {
	t.Helper()
	return readGolden(t, filepath.Join(goldenDir, "servers.route.yaml"), func() *routev3.RouteConfiguration {
		return new(routev3.RouteConfiguration)
	})[0]
}

func goldenCluster(t *testing.T) *clusterv3.Cluster {
	t.Helper()
	for _, c := range readGolden(t, filepath.Join(goldenDir, "servers.cluster.yaml"), func() *clusterv3.Cluster { return new(clusterv3.Cluster) }) {
		if c.GetTransportSocket() == nil {
			return c
		}
	}
	t.Fatal("no plaintext cluster in servers.cluster.yaml")
	return nil
}

// editHCM changes the listener's connection manager.
func editHCM(t *testing.T, l *listenerv3.Listener, f func(*hcmv3.HttpConnectionManager)) {
	t.Helper()
	var h hcmv3.HttpConnectionManager
	tc := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig()
	if err := tc.UnmarshalTo(&h); err != nil {
		t.Fatal(err)
	}
	f(&h)
	if err := tc.MarshalFrom(&h); err != nil {
		t.Fatal(err)
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestUnemulatedFeaturesAreRefused(t *testing.T) {
	// Invariant: a resource using anything the data plane does not emulate fails to build with ErrUnsupported
	// naming the feature, so the update is NACKed instead of being applied with the feature silently dropped.
	tests := []struct {
		name  string
		build func(t *testing.T) error
		want  string
	}{
		{"route retry policy", func(t *testing.T) error {
			rc := goldenRoutes(t)
			rc.VirtualHosts[0].Routes[0].GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx"}
			_, err := buildRouteTable(rc)
			return err
		}, "retry_policy"},
		{"regex path match", func(t *testing.T) error {
			rc := goldenRoutes(t)
			rc.VirtualHosts[0].Routes[0].Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{}
			_, err := buildRouteTable(rc)
			return err
		}, "safe_regex"},
		{"virtual host per-filter config", func(t *testing.T) error {
			rc := goldenRoutes(t)
			rc.VirtualHosts[0].TypedPerFilterConfig = map[string]*anypb.Any{filterExtAuthz: mustAny(t,
				&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}})}
			_, err := buildRouteTable(rc)
			return err
		}, "typed_per_filter_config"},
		{"header prefix match", func(t *testing.T) error {
			rc := goldenRoutes(t)
			rc.VirtualHosts[0].Routes[0].Match.Headers = []*routev3.HeaderMatcher{{Name: "x",
				HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 1, End: 2}}}}
			_, err := buildRouteTable(rc)
			return err
		}, "range_match"},
		{"weighted clusters", func(t *testing.T) error {
			rc := goldenRoutes(t)
			rc.VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{}
			_, err := buildRouteTable(rc)
			return err
		}, "weighted_clusters"},
		{"cluster health checks", func(t *testing.T) error {
			c := goldenCluster(t)
			c.HealthChecks = []*corev3.HealthCheck{{}}
			_, err := buildCluster(c)
			return err
		}, "health_checks"},
		{"cluster outlier detection", func(t *testing.T) error {
			c := goldenCluster(t)
			c.OutlierDetection = &clusterv3.OutlierDetection{}
			_, err := buildCluster(c)
			return err
		}, "outlier_detection"},
		{"least request", func(t *testing.T) error {
			c := goldenCluster(t)
			c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
			_, err := buildCluster(c)
			return err
		}, "LEAST_REQUEST"},
		{"inline route config", func(t *testing.T) error {
			l := goldenListener(t)
			editHCM(t, l, func(h *hcmv3.HttpConnectionManager) {
				h.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{}}
			})
			_, err := buildListener(l)
			return err
		}, "route_config"},
		{"another HTTP filter", func(t *testing.T) error {
			l := goldenListener(t)
			editHCM(t, l, func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "envoy.filters.http.cors"}}, h.HttpFilters...)
			})
			_, err := buildListener(l)
			return err
		}, "envoy.filters.http.cors"},
		{"ext_authz over HTTP", func(t *testing.T) error {
			l := goldenListener(t)
			editHCM(t, l, func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &extauthzv3.ExtAuthz{
					Services: &extauthzv3.ExtAuthz_HttpService{HttpService: &extauthzv3.HttpService{}}})}
			})
			_, err := buildListener(l)
			return err
		}, "http_service"},
		{"ext_authz allowed headers", func(t *testing.T) error {
			l := goldenListener(t)
			editHCM(t, l, func(h *hcmv3.HttpConnectionManager) {
				var a extauthzv3.ExtAuthz
				_ = h.HttpFilters[0].GetTypedConfig().UnmarshalTo(&a)
				a.IncludePeerCertificate = true
				h.HttpFilters[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &a)}
			})
			_, err := buildListener(l)
			return err
		}, "include_peer_certificate"},
		{"HCM tracing", func(t *testing.T) error {
			l := goldenListener(t)
			editHCM(t, l, func(h *hcmv3.HttpConnectionManager) { h.Tracing = &hcmv3.HttpConnectionManager_Tracing{} })
			_, err := buildListener(l)
			return err
		}, "tracing"},
		{"listener filter chain match", func(t *testing.T) error {
			l := goldenListener(t)
			l.FilterChains[0].FilterChainMatch = &listenerv3.FilterChainMatch{DestinationPort: wrapperspb.UInt32(1)}
			_, err := buildListener(l)
			return err
		}, "filter_chain_match"},
		{"ext_authz answer with query mutation", func(*testing.T) error {
			_, err := readVerdict(checkOK(func(ok *okResp) { ok.QueryParametersToRemove = []string{"q"} }))
			return err
		}, "query_parameters_to_remove"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build(t)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrUnsupported naming %q", err, tc.want)
			}
		})
	}
}

func TestRouteTableMatching(t *testing.T) {
	// Invariant: on mcpgw's route configuration, a request picks the route Envoy would pick: path-separated
	// prefixes match the server path and below but not a longer name, the query is ignored for them, the version
	// header selects pinned routes, the unknown-version and registry routes come last; and the upstream path is
	// the route's rewrite of the request path with the query kept.
	tbl, err := buildRouteTable(goldenRoutes(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, version  string
		route, rewrite string
	}{
		{"/mcp/acme/search", "", "mcp:acme/search", "/v2/mcp"},
		{"/mcp/acme/search?x=1", "", "mcp:acme/search", "/v2/mcp?x=1"},
		{"/mcp/acme/search/sub", "", "mcp:acme/search", "/v2/mcp/sub"},
		{"/mcp/acme/search", "2.0.0", "mcp:acme/search@2.0.0", "/v2/mcp"},
		{"/mcp/acme/search", "1.0.0", "mcp:acme/search@1.0.0", ""},
		{"/mcp/acme/search", "7.0.0", "mcp-unknown-version", ""},
		{"/mcp/acme/searchx", "", "", ""},
		{"/mcp/acme/github", "", "mcp:acme/github", "/mcp/"},
		{"/mcp/acme/github/x", "", "mcp:acme/github", "/mcp/x"},
		{"/mcp/acme/wiki", "", "mcp:acme/wiki", "/"},
		{"/mcp/acme/crm", "", "mcp:acme/crm", "/mcp"},
		{"/virtual/support", "", "virtual:support", "/virtual/support"},
		{"/airegistry-tools/mcp", "", "registry-tools", "/airegistry-tools/mcp"},
		{"/api/v1/servers?limit=1", "", "registry-api", "/api/v1/servers?limit=1"},
		{"/.well-known/oauth-protected-resource/mcp/acme/crm", "", "registry-well-known",
			"/.well-known/oauth-protected-resource/mcp/acme/crm"},
		{"/other", "", "", ""},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.version != "" {
			h.Set("Mcp-Server-Version", tc.version)
		}
		r := tbl.match("gw.example:443", tc.path, h)
		got := ""
		if r != nil {
			got = r.name
		}
		if got != tc.route {
			t.Errorf("%s (version %q): route %q, want %q", tc.path, tc.version, got, tc.route)
			continue
		}
		if r != nil && r.direct == nil {
			if rw := r.rewrite(tc.path); rw != tc.rewrite {
				t.Errorf("%s: rewrite %q, want %q", tc.path, rw, tc.rewrite)
			}
		}
	}
}

func TestNormalizePath(t *testing.T) {
	// Invariant: with mcpgw's connection manager settings, dot segments are resolved and slashes merged before
	// matching (so /mcp/a/../b routes as /mcp/b), the query is untouched, escaped slashes redirect to the
	// unescaped path, and a target not in origin form is refused.
	h := &hcmConfig{normalizePath: true, mergeSlashes: true, unescapeSlashes: true}
	tests := []struct {
		in, out  string
		redirect bool
		err      bool
	}{
		{"/mcp/acme/x", "/mcp/acme/x", false, false},
		{"/mcp/other/../acme/x", "/mcp/acme/x", false, false},
		{"/mcp/./acme//x/", "/mcp/acme/x/", false, false},
		{"/../../etc", "/etc", false, false},
		{"/mcp/acme/x?a=../b", "/mcp/acme/x?a=../b", false, false},
		{"/mcp/acme%2Fx", "/mcp/acme/x", true, false},
		{"/mcp/acme%5cx", "/mcp/acme\\x", true, false},
		{"http://evil/x", "", false, true},
	}
	for _, tc := range tests {
		out, redirect, err := h.normalize(tc.in)
		if (err != nil) != tc.err || out != tc.out || redirect != tc.redirect {
			t.Errorf("normalize(%q) = %q, %v, %v; want %q, %v, err=%v", tc.in, out, redirect, err, tc.out, tc.redirect, tc.err)
		}
	}
}

func TestEnvelope(t *testing.T) {
	// Invariant: sealing then opening the session header restores the upstream's value and yields the endpoint;
	// a header that is not an envelope (or whose UV part is broken) is left as it is and names no endpoint.
	h := http.Header{}
	h.Set("Mcp-Session-Id", "abc;def")
	sealEnvelope(h, "mcp-session-id", "10.0.0.2:9000")
	if v := h.Get("Mcp-Session-Id"); v == "abc;def" || !strings.Contains(v, ";UV:") {
		t.Fatalf("sealed %q", v)
	}
	if host := openEnvelope(h, "mcp-session-id"); host != "10.0.0.2:9000" || h.Get("Mcp-Session-Id") != "abc;def" {
		t.Errorf("opened host %q value %q", host, h.Get("Mcp-Session-Id"))
	}
	for _, raw := range []string{"plain-session", "MTAuMC4wLjI6OTAwMA==;UV:!!!", "MTAuMC4wLjI6OTAwMA=="} {
		h.Set("Mcp-Session-Id", raw)
		if host := openEnvelope(h, "mcp-session-id"); host != "" || h.Get("Mcp-Session-Id") != raw {
			t.Errorf("%q: host %q, value %q", raw, host, h.Get("Mcp-Session-Id"))
		}
	}
}

func TestHeaderOptionSemantics(t *testing.T) {
	// Invariant: header mutations follow Envoy: the deprecated append flag wins when set; otherwise append_action
	// decides, and an option with neither overwrites for ext_authz answers but appends for route headers.
	tests := []struct {
		name             string
		opt              *corev3.HeaderValueOption
		defaultOverwrite bool
		want             []string
	}{
		{"append flag true", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"}, Append: wrapperspb.Bool(true)}, true, []string{"o", "n"}}, //nolint:staticcheck // the deprecated flag Envoy honours
		{"append flag false", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"}, Append: wrapperspb.Bool(false)}, false, []string{"n"}},   //nolint:staticcheck // the deprecated flag Envoy honours
		{"default for authz", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"}}, true, []string{"n"}},
		{"default for routes", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"}}, false, []string{"o", "n"}},
		{"add if absent", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"},
			AppendAction: corev3.HeaderValueOption_ADD_IF_ABSENT}, false, []string{"o"}},
		{"overwrite if exists", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x", Value: "n"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS}, false, []string{"n"}},
		{"empty value dropped", &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}, false, []string{"o"}},
	}
	for _, tc := range tests {
		h := http.Header{"X": {"o"}}
		applyHeaderOption(h, tc.opt, tc.defaultOverwrite)
		if got := h.Values("x"); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestShippedBootstrap(t *testing.T) {
	// Invariant: the data plane reads envoy/bootstrap.yaml as shipped: node envoy-1 in the default fleet, ADS
	// through mcpgw_xds, and the three static clusters; an unknown static cluster cannot be re-pointed.
	b, err := LoadBootstrap("../../envoy/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Bootstrap: b})
	if err != nil {
		t.Fatal(err)
	}
	if d.node.GetId() != "envoy-1" || d.node.GetCluster() != "default" || d.xdsCluster != "mcpgw_xds" || !d.nodeOnFirstOnly {
		t.Errorf("node %v, ads cluster %q", d.node, d.xdsCluster)
	}
	for _, name := range []string{"mcpgw_xds", "mcpgw_authz", "mcpgw_registry"} {
		if d.static[name] == nil {
			t.Errorf("static cluster %s missing", name)
		}
	}
	if d.static["mcpgw_xds"].keepalive == nil || d.static["mcpgw_xds"].keepalive.interval != 30e9 {
		t.Errorf("ADS keepalive %+v", d.static["mcpgw_xds"].keepalive)
	}
	if err := SetClusterAddress(b, "nope", "127.0.0.1:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetClusterAddress(nope) = %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("New without bootstrap = %v", err)
	}
	b.GetStaticResources().GetClusters()[0].ConnectTimeout = durationpb.New(0)
	b.GetStaticResources().GetClusters()[0].HealthChecks = []*corev3.HealthCheck{{}}
	if _, err := New(Config{Bootstrap: b}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("bootstrap with health checks = %v", err)
	}
}

type okResp = authv3.OkHttpResponse

func checkOK(edit func(*okResp)) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	edit(ok)
	return &authv3.CheckResponse{Status: okStatus(), HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}
}
