package dataplane

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxy compares a POST straight to an upstream with the same POST through the data plane (route match,
// an ext_authz Check over loopback gRPC to an answering stub, the proxied exchange): the data plane's own cost per
// request, which the gateway benchmark (test/load/gateway) includes beside mcpgw's authorization.
func BenchmarkProxy(b *testing.B) {
	h := newHarness(b)
	up := newUpstream(b, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})
	h.push(servers(b, serverDoc("acme/echo", up.URL+"/mcp")))
	h.waitVersion()
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, target := range []struct{ name, url string }{{"direct", up.URL + "/mcp"}, {"dataplane", h.base + "/mcp/acme/echo"}} {
		b.Run(target.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post(target.url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
