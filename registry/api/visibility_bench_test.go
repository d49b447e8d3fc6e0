package api_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// seedView puts n servers straight into the in-memory view (the listing path never reads the store), a tenth of
// them in namespace "finance", and a scope and group mapping that let group "finance" see exactly those.
func seedView(b *testing.B, e *env, n int) {
	b.Helper()
	rev := int64(1_000_000)
	put := func(o catalog.Object) {
		rev++
		o.Normalize()
		o.Metadata().Rev = rev
		e.opts.View.Observe(o)
	}
	for i := range n {
		ns := fmt.Sprintf("lob%d", i%10)
		if i%10 == 0 {
			ns = "finance"
		}
		put(&catalog.Server{Name: fmt.Sprintf("%s/srv%05d", ns, i), Governance: catalog.Governance{Description: "a server"},
			Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "http://127.0.0.1:9/mcp",
				Tools: []catalog.Tool{{Name: "get_balance"}, {Name: "transfer"}}}}})
	}
	put(&catalog.Scope{Name: "finance-read", Grants: []catalog.Grant{{Kind: "server", Server: "finance/*",
		Methods: []string{"tools/call"}, Tools: []string{"get_balance"}}}})
	put(&catalog.GroupMapping{Group: "finance", Scopes: []string{"finance-read"}})
}

// benchList measures GET latency percentiles of one listing.
func benchList(b *testing.B, e *env, path, token string, wantItems int) {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := e.srv.Client()
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != http.StatusOK || n == 0 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkListAt10k compares a restricted caller's listing with an admin's at 10k servers: the restricted caller
// walks its precomputed visible set (1k finance servers), not the catalog.
func BenchmarkListAt10k(b *testing.B) {
	e := newEnv(b)
	seedView(b, e, 10_000)
	fin := e.token(b, "fiona", "finance")
	b.Run("restricted/limit=50", func(b *testing.B) { benchList(b, e, "/api/v1/servers?limit=50", fin, 50) })
	b.Run("admin/limit=50", func(b *testing.B) { benchList(b, e, "/api/v1/servers?limit=50", e.admin, 50) })
	b.Run("restricted/limit=500", func(b *testing.B) { benchList(b, e, "/api/v1/servers?limit=500", fin, 500) })
	b.Run("admin/limit=500", func(b *testing.B) { benchList(b, e, "/api/v1/servers?limit=500", e.admin, 500) })
}
