package translate_test

import (
	"fmt"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// A server with a default and a deprecated version gets one route per pinnable version and an unpinned route to
// the default, and one cluster per version.
func ExampleTranslator_ServerRoutes() {
	cs := &catalog.Server{Name: "acme/search", Versions: []catalog.ServerVersion{
		{Version: "2.0.0", Transport: catalog.TransportStreamableHTTP, URL: "https://search.example.com/mcp"},
		{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "https://search.example.com/v1", Deprecated: true},
	}}
	cs.Normalize()
	s, err := ir.ServerFromCatalog(cs)
	if err != nil {
		panic(err)
	}
	tr, err := translate.New(translate.DefaultOptions())
	if err != nil {
		panic(err)
	}
	routes, err := tr.ServerRoutes(s)
	if err != nil {
		panic(err)
	}
	for _, r := range routes {
		fmt.Println(r.Name, "→", r.GetRoute().GetCluster(), r.GetRoute().GetPrefixRewrite())
	}
	clusters, _, err := tr.ServerClusters(s)
	if err != nil {
		panic(err)
	}
	for _, c := range clusters {
		fmt.Println(c.Name, c.GetType())
	}
	// Output:
	// mcp:acme/search@2.0.0 → mcp|acme/search|2.0.0 /mcp
	// mcp:acme/search@1.0.0 → mcp|acme/search|1.0.0 /v1
	// mcp:acme/search → mcp|acme/search|2.0.0 /mcp
	// mcp|acme/search|2.0.0 LOGICAL_DNS
	// mcp|acme/search|1.0.0 LOGICAL_DNS
}
