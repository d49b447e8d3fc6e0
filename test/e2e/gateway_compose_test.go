package e2e

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"

	"github.com/mcpgw/mcpgw/test/dataplane"
)

// composeFile is envoy/docker-compose.yaml as far as this test reads it.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		NetworkMode string            `yaml:"network_mode"`
		Command     []string          `yaml:"command"`
		Volumes     []string          `yaml:"volumes"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// flagValue returns the value after --name in a command line.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// staticAddr returns the single endpoint address of a bootstrap static cluster.
func staticAddr(t *testing.T, b *bootstrapv3.Bootstrap, name string) string {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
			return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
		}
	}
	t.Fatalf("no static cluster %s", name)
	return ""
}

func TestDockerComposeMatchesBootstrap(t *testing.T) {
	// Invariant: envoy/docker-compose.yaml runs Envoy on envoy/bootstrap.yaml unchanged (which envoy's bootstrap
	// test validates against Envoy's API, and which the data plane in these tests consumes), on the host network,
	// as the node and fleet the bootstrap names; mcpgw listens exactly where the bootstrap's static clusters point,
	// with flags `mcpgw serve` accepts, pushes the listener port its public URL names, and uses the MongoDB the
	// compose file starts.
	raw, err := os.ReadFile("../../envoy/docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	b, err := dataplane.LoadBootstrap("../../envoy/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dataplane.New(dataplane.Config{Bootstrap: b}); err != nil {
		t.Fatalf("the bootstrap the compose file mounts: %v", err)
	}
	envoy, mcpgw, mongo := cf.Services["envoy"], cf.Services["mcpgw"], cf.Services["mongodb"]
	for name, mode := range map[string]string{"envoy": envoy.NetworkMode, "mcpgw": mcpgw.NetworkMode, "mongodb": mongo.NetworkMode} {
		if mode != "host" {
			t.Errorf("service %s: network_mode %q, want host (the bootstrap names 127.0.0.1)", name, mode)
		}
	}
	if !strings.HasPrefix(envoy.Image, "envoyproxy/envoy:v1.40") {
		t.Errorf("envoy image %q, want the v1.40 line the bootstrap is checked against", envoy.Image)
	}
	if len(envoy.Volumes) != 1 || envoy.Volumes[0] != "./bootstrap.yaml:/etc/envoy/envoy.yaml:ro" ||
		flagValue(envoy.Command, "-c") != "/etc/envoy/envoy.yaml" {
		t.Errorf("envoy does not run on bootstrap.yaml: volumes %v, command %v", envoy.Volumes, envoy.Command)
	}
	if flagValue(envoy.Command, "--service-cluster") != b.GetNode().GetCluster() ||
		flagValue(envoy.Command, "--service-node") != b.GetNode().GetId() {
		t.Errorf("envoy command %v names another node than the bootstrap's %v", envoy.Command, b.GetNode())
	}

	cmd := strings.Fields(mcpgw.Command[len(mcpgw.Command)-1])
	for flag, cluster := range map[string]string{"--http-addr": "mcpgw_registry", "--xds-addr": "mcpgw_xds", "--authz-addr": "mcpgw_authz"} {
		if got, want := flagValue(cmd, flag), staticAddr(t, b, cluster); got != want {
			t.Errorf("mcpgw %s %s, but the bootstrap's %s points at %s", flag, got, cluster, want)
		}
	}
	pub, err := url.Parse(flagValue(cmd, "--public-url"))
	if err != nil || pub.Port() != flagValue(cmd, "--envoy-port") {
		t.Errorf("--public-url %s is not the Envoy listener port %s", flagValue(cmd, "--public-url"), flagValue(cmd, "--envoy-port"))
	}
	uri, err := url.Parse(mcpgw.Environment["MCPGW_MONGODB_URI"])
	if err != nil || uri.Host != net.JoinHostPort(flagValue(mongo.Command, "--bind_ip"), flagValue(mongo.Command, "--port")) {
		t.Errorf("MCPGW_MONGODB_URI %q does not name the compose MongoDB %v", mcpgw.Environment["MCPGW_MONGODB_URI"], mongo.Command)
	}
	help, _ := exec.Command(filepath.Join(bin, "mcpgw"), "serve", "-h").CombinedOutput()
	for _, a := range cmd {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), "-"+strings.TrimLeft(a, "-")+" ") {
			t.Errorf("mcpgw serve has no flag %s:\n%s", a, help)
		}
	}
}
