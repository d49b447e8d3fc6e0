package client_test

import (
	"fmt"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
)

// BenchmarkListAll reads a catalog of 500 servers (10 tools each) through All in pages of 500: the request, the
// registry's rendering and the client's decoding of every object.
func BenchmarkListAll(b *testing.B) {
	reg := clienttest.Start(b)
	c := reg.Client(b, reg.AdminToken(b))
	for i := range 500 {
		s := &catalog.Server{Name: fmt.Sprintf("team-%d/server-%d", i%20, i),
			Governance: catalog.Governance{Description: "a server", Tags: []string{"a", "b"}},
			Versions:   []catalog.ServerVersion{{Version: "1.0.0", URL: "https://s.example.com/mcp"}}}
		for j := range 10 {
			s.Versions[0].Tools = append(s.Versions[0].Tools, catalog.Tool{Name: fmt.Sprintf("tool_%d", j), Description: "does a thing"})
		}
		if _, err := c.Servers().Create(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n := 0
		for _, err := range c.Servers().All(b.Context(), client.ListOptions{Limit: 500}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 500 {
			b.Fatalf("listed %d servers", n)
		}
	}
}
