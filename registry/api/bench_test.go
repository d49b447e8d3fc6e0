package api_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// benchGet measures one GET through the real stack and the HTTP server, without the contract check (which costs
// more than the request).
func benchGet(b *testing.B, e *env, path, token string) {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := e.srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func seedServers(b *testing.B, e *env, n int) {
	b.Helper()
	for i := range n {
		body := serverBody(fmt.Sprintf("ns%d/srv%04d", i%10, i))
		if i%2 == 0 {
			body["visibility"] = "public"
		}
		e.create(b, "/api/v1/servers", body)
	}
}

func BenchmarkListServers(b *testing.B) {
	e := newEnv(b)
	seedServers(b, e, 500)
	b.Run("admin/limit=50", func(b *testing.B) { benchGet(b, e, "/api/v1/servers?limit=50", e.admin) })
	b.Run("admin/limit=500", func(b *testing.B) { benchGet(b, e, "/api/v1/servers?limit=500", e.admin) })
	b.Run("user/limit=50", func(b *testing.B) { benchGet(b, e, "/api/v1/servers?limit=50", e.user) })
	b.Run("admin/q=srv049", func(b *testing.B) { benchGet(b, e, "/api/v1/servers?q=srv049", e.admin) })
}

func BenchmarkGetServer(b *testing.B) {
	e := newEnv(b)
	seedServers(b, e, 500)
	b.Run("admin", func(b *testing.B) { benchGet(b, e, "/api/v1/servers/ns3/srv0123", e.admin) })
	b.Run("user", func(b *testing.B) { benchGet(b, e, "/api/v1/servers/ns2/srv0122", e.user) })
}
