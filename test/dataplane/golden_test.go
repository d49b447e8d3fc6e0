package dataplane

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	// Typed configs that appear in the golden files.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/mcp/v3"
)

// goldenDir holds the translator's golden output, kept current by `make gen-check`: exactly what mcpgw emits.
const goldenDir = "../../xds/translate/testdata/out"

// readGolden decodes a golden file (a YAML list of resources in their proto JSON mapping).
func readGolden[M proto.Message](t *testing.T, path string, newM func() M) []M {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	if err := yaml.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	var out []M
	for _, d := range docs {
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		m := newM()
		if err := protojson.Unmarshal(js, m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

// withTestCA points every TLS validation context at a CA file that exists on every machine, so the golden
// clusters (which name the Debian bundle) build anywhere.
func withTestCA(t *testing.T, c *clusterv3.Cluster) {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, testCAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	sockets := []*clusterv3.Cluster_TransportSocketMatch{{TransportSocket: c.GetTransportSocket()}}
	sockets = append(sockets, c.GetTransportSocketMatches()...)
	for _, m := range sockets {
		ts := m.GetTransportSocket()
		if ts == nil {
			continue
		}
		var u tlsv3.UpstreamTlsContext
		if err := ts.GetTypedConfig().UnmarshalTo(&u); err != nil {
			t.Fatal(err)
		}
		if vc := u.GetCommonTlsContext().GetValidationContext(); vc != nil {
			vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: ca}}
		}
		if err := ts.GetTypedConfig().MarshalFrom(&u); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGoldenResourcesAccepted(t *testing.T) {
	// Invariant: every resource in the translator's golden output builds in the data plane (so every feature
	// mcpgw emits is emulated), except the listener of the options case, which enables a gRPC access log and
	// Envoy's MCP filter: it is refused with ErrUnsupported rather than silently half-applied.
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s: %v", goldenDir, err)
	}
	unsupported := map[string]string{"options.listener.yaml": "envoy.access_loggers.http_grpc"}
	clusters := map[string]*cluster{}
	var assignments []*endpointv3.ClusterLoadAssignment
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			var errs []error
			switch {
			case strings.HasSuffix(base, ".listener.yaml"):
				for _, l := range readGolden(t, f, func() *listenerv3.Listener { return new(listenerv3.Listener) }) {
					_, err := buildListener(l)
					errs = append(errs, err)
				}
			case strings.HasSuffix(base, ".route.yaml"):
				for _, rc := range readGolden(t, f, func() *routev3.RouteConfiguration { return new(routev3.RouteConfiguration) }) {
					_, err := buildRouteTable(rc)
					errs = append(errs, err)
				}
			case strings.HasSuffix(base, ".cluster.yaml"):
				for _, c := range readGolden(t, f, func() *clusterv3.Cluster { return new(clusterv3.Cluster) }) {
					withTestCA(t, c)
					built, err := buildCluster(c)
					errs = append(errs, err)
					if err == nil {
						clusters[c.GetName()] = built
					}
				}
			case strings.HasSuffix(base, ".endpoint.yaml"):
				assignments = append(assignments, readGolden(t, f, func() *endpointv3.ClusterLoadAssignment {
					return new(endpointv3.ClusterLoadAssignment)
				})...)
				return
			default:
				t.Fatalf("unknown golden file kind %s", base)
			}
			err := errors.Join(errs...)
			if want, ok := unsupported[base]; ok {
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want ErrUnsupported naming %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// Endpoint files sort before nothing in particular: apply them once every cluster is built.
	if len(assignments) == 0 {
		t.Fatal("no EDS assignments in the golden files")
	}
	for _, cla := range assignments {
		c := clusters[cla.GetClusterName()]
		if c == nil || !c.eds {
			t.Fatalf("assignment for %q, which is not an EDS cluster of the golden output", cla.GetClusterName())
		}
		if err := c.setEndpoints(cla); err != nil {
			t.Fatal(err)
		}
		if n := len(*c.hosts.Load()); n != 3 {
			t.Errorf("%s has %d endpoints, want 3", c.name, n)
		}
	}
}
