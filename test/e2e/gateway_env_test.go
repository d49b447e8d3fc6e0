package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/test/dataplane"
	"github.com/mcpgw/mcpgw/test/mcpserver"
	"github.com/mcpgw/mcpgw/test/oidc"
)

// JSON-RPC error codes the gateway answers with (docs/authz.md).
const (
	codeUnauthorized   = -32033
	codeForbidden      = -32034
	codeHeaderMismatch = -32020
	codeNotFound       = -32035
)

// gateway is the whole gateway path, as a user runs it: Hydra as the identity provider, one `mcpgw serve` process
// trusting it, the test data plane (in place of Envoy) configured from envoy/bootstrap.yaml, and the sample MCP
// servers behind it.
type gateway struct {
	hydra    *oidc.Provider
	proc     *proc
	dp       *dataplane.DataPlane
	base     string // the gateway listener, http://127.0.0.1:<port>; also the --public-url
	accessLg *syncBuffer

	userApp oidc.Client
	admin   string // a Hydra user token of group mcpgw-admins

	mu    sync.Mutex
	calls []expectedAudit
}

// expectedAudit is a call a scenario made, which the audit trail must show.
type expectedAudit struct {
	subject, client, server, tool string
	allow                         bool
	rule                          string // when set, the record's rule (e.g. unauthenticated, bad_request)
}

// startGateway brings the gateway path up. Hydra is required as test/oidc decides (skip, or fail in CI).
func startGateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{hydra: oidc.Start(t), accessLg: &syncBuffer{}}
	dir := t.TempDir()
	idcfg := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(idcfg, fmt.Appendf(nil, `issuers:
  - name: hydra
    issuer: %s
    audiences: [mcpgw]
    algorithms: [RS256, ES256]
    claims:
      groups: [ext.groups]
      scopes: [scp]
`, g.hydra.Issuer), 0o600); err != nil {
		t.Fatal(err)
	}
	envoyAddr, xdsAddr, authzAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, envoyPort, _ := strings.Cut(envoyAddr, ":")
	g.base = "http://" + envoyAddr
	g.proc = runServe(t, filepath.Join(dir, "data"), httpAddr, "--xds-addr", xdsAddr, "--authz-addr", authzAddr,
		"--identity-config", idcfg, "--envoy-port", envoyPort, "--public-url", g.base, "--feed-interval", "50ms")

	b, err := dataplane.LoadBootstrap("../../envoy/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"mcpgw_xds": xdsAddr, "mcpgw_authz": authzAddr, "mcpgw_registry": httpAddr} {
		if err := dataplane.SetClusterAddress(b, name, addr); err != nil {
			t.Fatal(err)
		}
	}
	g.dp, err = dataplane.New(dataplane.Config{Bootstrap: b, BindHost: "127.0.0.1", AccessLog: g.accessLg,
		Logger: slog.New(slog.NewTextHandler(g.accessLg, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.dp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("data plane log and access log:\n%s", g.accessLg.String())
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	if st, err := g.dp.WaitFor(wctx, func(s dataplane.Status) bool {
		return s.Listeners["mcpgw"] != "" && slices.Contains(s.Routes, "registry-api")
	}); err != nil {
		t.Fatalf("the data plane never got mcpgw's listener and routes: %v (%+v)", err, st)
	}

	g.userApp = g.hydra.NewUserClient(t, nil, []string{"mcpgw"})
	g.admin = g.userToken(t, "root", "mcpgw-admins")
	return g
}

// runServe runs `mcpgw serve` with the given registry address and flags, and waits until /readyz answers 200.
func runServe(t *testing.T, dataDir, httpAddr string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr}, extra...)
	cmd := exec.Command(filepath.Join(bin, "mcpgw"), args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, base: "http://" + httpAddr, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("mcpgw output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("mcpgw exited early: %v\n%s", err, out.String())
		default:
		}
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mcpgw never became ready:\n%s", out.String())
	return nil
}

// userToken signs a user in at Hydra (authorization code flow) with the given groups.
func (g *gateway) userToken(t *testing.T, subject string, groups ...string) string {
	t.Helper()
	return g.hydra.UserToken(t, g.userApp, oidc.User{Subject: subject, Groups: groups, Audience: []string{"mcpgw"}})
}

// rest sends a JSON request to the registry's REST API through the gateway (the /api/ route, which the
// registry authenticates itself) and decodes the answer into out when not nil.
func (g *gateway) rest(t *testing.T, method, path, contentType string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+g.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// register registers an MCP server version at url and waits until the data plane routes it.
func (g *gateway) register(t *testing.T, name, url string, tools ...string) {
	t.Helper()
	var ts []map[string]any
	for _, tl := range tools {
		ts = append(ts, map[string]any{"name": tl, "description": "tool " + tl})
	}
	body := map[string]any{"name": name, "title": "Sample " + name, "description": "a sample MCP server",
		"versions": []map[string]any{{"version": "1.0.0", "transport": "streamable-http", "url": url, "tools": ts}}}
	if st := g.rest(t, http.MethodPost, "/api/v1/servers", "application/json", body, nil); st != http.StatusCreated {
		t.Fatalf("register %s: status %d", name, st)
	}
	g.waitRoute(t, "mcp:"+name, true)
}

// waitRoute waits until the data plane has (or no longer has) a route, i.e. until the registry's change went
// through the change feed, the xds snapshot and ADS.
func (g *gateway) waitRoute(t *testing.T, route string, present bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := g.dp.WaitFor(ctx, func(s dataplane.Status) bool { return slices.Contains(s.Routes, route) == present }); err != nil {
		t.Fatalf("route %s present=%v: %v", route, present, err)
	}
}

// setStatus changes a server's status with a JSON merge patch.
func (g *gateway) setStatus(t *testing.T, name, status string) {
	t.Helper()
	if st := g.rest(t, http.MethodPatch, "/api/v1/servers/"+name, "application/merge-patch+json",
		map[string]any{"status": status}, nil); st != http.StatusOK {
		t.Fatalf("set %s %s: status %d", name, status, st)
	}
}

// expect records a call the audit trail must show.
func (g *gateway) expect(e expectedAudit) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, e)
}

// bearer adds a token to every request of an HTTP client.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// connect opens an MCP session through the gateway with the Go SDK. version "" lets the SDK choose (it tries the
// stateless 2026-07-28 revision first and falls back to initialize when the server is session-based).
func (g *gateway) connect(t *testing.T, path, token, version string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	hc := &http.Client{Transport: http.DefaultTransport}
	if token != "" {
		hc.Transport = bearer{token: token, next: http.DefaultTransport}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpgw-e2e", Version: "1.0.0"}, opts)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: g.base + path, HTTPClient: hc, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

// rpcCode is the JSON-RPC error code inside an SDK error, 0 when there is none.
func rpcCode(err error) int64 {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		return werr.Code
	}
	return 0
}

// structured decodes a tool result's structured content.
func structured(t *testing.T, res *mcp.CallToolResult, out any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %+v", res.Content)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// auditRecord is the part of an audit record the scenarios check.
type auditRecord struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Client  string `json:"client"`
	Server  string `json:"server"`
	Method  string `json:"method"`
	Tool    string `json:"tool"`
	Allow   bool   `json:"allow"`
	Rule    string `json:"rule"`
}

// audit lists the decision records matching the filters.
func (g *gateway) audit(t *testing.T, filters url.Values) []auditRecord {
	t.Helper()
	filters.Set("kind", "decision")
	filters.Set("limit", "500")
	var page struct {
		Items []auditRecord `json:"items"`
	}
	if st := g.rest(t, http.MethodGet, "/api/v1/audit?"+filters.Encode(), "", nil, &page); st != http.StatusOK {
		t.Fatalf("audit: status %d", st)
	}
	return page.Items
}

// sampleServer starts a sample MCP server on loopback for the test.
func sampleServer(t *testing.T, s *mcp.Server, stateless bool) *mcpserver.Server {
	t.Helper()
	srv, err := mcpserver.Start(s, "", stateless, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
