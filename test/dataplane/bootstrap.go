package dataplane

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	// The bootstrap's typed configs must be resolvable to parse it.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// LoadBootstrap reads an Envoy v3 bootstrap (YAML or JSON), strictly: unknown fields are errors, as in Envoy.
func LoadBootstrap(path string) (*bootstrapv3.Bootstrap, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bootstrap: %w", err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse bootstrap %s: %w", path, err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("parse bootstrap %s: %w", path, err)
	}
	b := new(bootstrapv3.Bootstrap)
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("parse bootstrap %s: %w", path, err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("validate bootstrap %s: %w", path, err)
	}
	return b, nil
}

// SetClusterAddress points a static cluster of the bootstrap at addr (host:port), as an operator edits the
// bootstrap for where mcpgw runs. The cluster must have exactly one endpoint.
func SetClusterAddress(b *bootstrapv3.Bootstrap, cluster, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address of %s: %w", cluster, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("port of %s: %w", cluster, err)
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() != cluster {
			continue
		}
		eps := c.GetLoadAssignment().GetEndpoints()
		if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
			return fmt.Errorf("static cluster %s has not exactly one endpoint: %w", cluster, ErrUnsupported)
		}
		eps[0].GetLbEndpoints()[0].GetEndpoint().Address = &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)}},
		}}
		return nil
	}
	return fmt.Errorf("no static cluster %q in the bootstrap: %w", cluster, ErrInvalid)
}

// fromBootstrap reads what the data plane needs from a bootstrap: the node, the ADS cluster, and the static
// clusters. The admin interface and the overload manager are accepted and not emulated.
func (d *DataPlane) fromBootstrap(b *bootstrapv3.Bootstrap) error {
	if err := only(b, "node", "admin", "dynamic_resources", "static_resources", "overload_manager"); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	n := b.GetNode()
	if err := only(n, "id", "cluster", "metadata"); err != nil {
		return fmt.Errorf("bootstrap node: %w", err)
	}
	if n.GetId() == "" || n.GetCluster() == "" {
		return fmt.Errorf("bootstrap node needs id and cluster: %w", ErrInvalid)
	}
	d.node = &corev3.Node{Id: n.GetId(), Cluster: n.GetCluster(), Metadata: n.GetMetadata(),
		UserAgentName: "mcpgw-test-dataplane"}

	dr := b.GetDynamicResources()
	if err := only(dr, "ads_config", "lds_config", "cds_config"); err != nil {
		return fmt.Errorf("bootstrap dynamic_resources: %w", err)
	}
	ads := dr.GetAdsConfig()
	if err := only(ads, "api_type", "transport_api_version", "set_node_on_first_message_only", "grpc_services"); err != nil {
		return fmt.Errorf("bootstrap ads_config: %w", err)
	}
	if ads.GetApiType() != corev3.ApiConfigSource_GRPC || ads.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		return fmt.Errorf("bootstrap ads_config: only state-of-the-world gRPC ADS, API v3: %w", ErrUnsupported)
	}
	if len(ads.GetGrpcServices()) != 1 || ads.GetGrpcServices()[0].GetEnvoyGrpc() == nil {
		return fmt.Errorf("bootstrap ads_config: one envoy_grpc service: %w", ErrUnsupported)
	}
	d.nodeOnFirstOnly = ads.GetSetNodeOnFirstMessageOnly()
	d.xdsCluster = ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName()
	if err := adsSource(dr.GetLdsConfig()); err != nil {
		return fmt.Errorf("bootstrap lds_config: %w", err)
	}
	if err := adsSource(dr.GetCdsConfig()); err != nil {
		return fmt.Errorf("bootstrap cds_config: %w", err)
	}

	sr := b.GetStaticResources()
	if err := only(sr, "clusters"); err != nil {
		return fmt.Errorf("bootstrap static_resources: %w", err)
	}
	d.static = map[string]*cluster{}
	for _, c := range sr.GetClusters() {
		built, err := buildCluster(c)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		if built.eds {
			return fmt.Errorf("bootstrap cluster %q: a static cluster cannot use EDS: %w", c.GetName(), ErrInvalid)
		}
		d.static[c.GetName()] = built
	}
	if d.static[d.xdsCluster] == nil {
		return fmt.Errorf("bootstrap: the ADS cluster %q is not a static cluster: %w", d.xdsCluster, ErrInvalid)
	}
	return nil
}
