// Package envoy_test checks the Envoy bootstrap shipped in this directory against the Envoy v1.40 API.
package envoy_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/mcpgw/mcpgw/xds/translate"
)

// yamlToJSON converts YAML to the JSON that protojson reads.
func yamlToJSON(t *testing.T, y []byte) []byte {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBootstrap(t *testing.T) {
	// Invariant: bootstrap.yaml parses strictly (no unknown fields) into Envoy's v3 Bootstrap, passes
	// ValidateAll, points ADS at mcpgw_xds for listeners and clusters, defines exactly the static clusters the
	// dynamic config refers to by name, keeps the admin interface on loopback, and puts the node in the default
	// fleet.
	raw, err := os.ReadFile("bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := new(bootstrapv3.Bootstrap)
	if err := protojson.Unmarshal(yamlToJSON(t, raw), b); err != nil {
		t.Fatalf("bootstrap.yaml is not a v3 Bootstrap: %v", err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("bootstrap.yaml fails ValidateAll: %v", err)
	}
	if b.GetNode().GetCluster() != "default" {
		t.Errorf("node.cluster = %q, want the default fleet", b.GetNode().GetCluster())
	}
	if a := b.GetAdmin().GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 9901 {
		t.Errorf("admin on %v, want 127.0.0.1:9901", a)
	}
	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != translate.XDSCluster || ads.GetTransportApiVersion().String() != "V3" {
		t.Errorf("ADS config %v", ads)
	}
	if b.GetDynamicResources().GetLdsConfig().GetAds() == nil || b.GetDynamicResources().GetCdsConfig().GetAds() == nil {
		t.Error("LDS and CDS must come over ADS")
	}
	var names []string
	for _, c := range b.GetStaticResources().GetClusters() {
		names = append(names, c.GetName())
	}
	want := []string{translate.XDSCluster, translate.AuthzCluster, translate.RegistryCluster}
	if !slices.Equal(names, want) {
		t.Errorf("static clusters %v, want %v", names, want)
	}
}

func TestBootstrapALSExample(t *testing.T) {
	// Invariant: the commented-out gRPC access log cluster is a valid cluster once uncommented, so an operator
	// who enables it gets a bootstrap Envoy accepts.
	raw, err := os.ReadFile("bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "    # - name: mcpgw_als"):
			in = true
		case in && !strings.HasPrefix(line, "    #"):
			in = false
		}
		if in {
			block = append(block, strings.Replace(strings.TrimPrefix(line, "    # "), "- name:", "  name:", 1))
		}
	}
	if len(block) == 0 {
		t.Fatal("no commented mcpgw_als cluster in bootstrap.yaml")
	}
	c := new(clusterv3.Cluster)
	if err := protojson.Unmarshal(yamlToJSON(t, []byte(strings.Join(block, "\n"))), c); err != nil {
		t.Fatalf("the ALS example is not a cluster: %v\n%s", err, strings.Join(block, "\n"))
	}
	if err := c.ValidateAll(); err != nil || c.GetName() != "mcpgw_als" {
		t.Fatalf("ALS example: %v (%s)", err, c.GetName())
	}
}

func TestReadmeRunsTheBootstrap(t *testing.T) {
	// Invariant: the README's `docker run` line starts Envoy on the mounted bootstrap. Arguments given to the
	// official image replace its default command (`envoy -c /etc/envoy/envoy.yaml`): the entrypoint prefixes
	// `envoy` to arguments starting with '-', but the config path is gone unless the line names it again.
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmd []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "docker run "):
			in = true
		case in && line == "```":
			in = false
		}
		if in {
			cmd = append(cmd, strings.TrimSuffix(strings.TrimSpace(line), "\\"))
		}
	}
	if len(cmd) == 0 {
		t.Fatal("no docker run command in README.md")
	}
	fields := strings.Fields(strings.Join(cmd, " "))
	mount, image := "", -1
	for i, f := range fields {
		if f == "-v" && i+1 < len(fields) {
			if parts := strings.Split(strings.Trim(fields[i+1], `"`), ":"); len(parts) >= 2 {
				mount = parts[1]
			}
		}
		if strings.HasPrefix(f, "envoyproxy/envoy:") {
			image = i
		}
	}
	if image < 0 || mount == "" {
		t.Fatalf("docker run without the Envoy image or the bootstrap mount: %v", fields)
	}
	args := fields[image+1:]
	if i := slices.Index(args, "-c"); i < 0 || i+1 >= len(args) || args[i+1] != mount {
		t.Errorf("docker run passes %v to Envoy, which does not name the mounted bootstrap %s with -c", args, mount)
	}
}
