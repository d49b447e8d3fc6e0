package snapshot_test

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/mcpgw/mcpgw/xds/snapshot"
)

// A node's fleet is its node.cluster (envoy --service-cluster); a node that names none is in the default fleet.
func ExampleFleetOf() {
	fmt.Println(snapshot.FleetOf(&corev3.Node{Id: "envoy-7", Cluster: "edge"}))
	fmt.Println(snapshot.FleetOf(&corev3.Node{Id: "envoy-8"}))
	// Output:
	// edge
	// default
}
