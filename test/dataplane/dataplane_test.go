package dataplane

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/mcpgw/mcpgw/xds/translate"
)

func okStatus() *rpcstatus.Status { return &rpcstatus.Status{Code: int32(codes.OK)} }

func headerOpt(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
}

// upstream is an MCP server stand-in that records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method, path, host string
	header             http.Header
	body               []byte
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.RequestURI(), r.Host, r.Header.Clone(), b})
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func serverDoc(name, url string, extra ...string) string {
	v := fmt.Sprintf(`{"version":"1.0.0","transport":"streamable-http","url":%q}`, url)
	if len(extra) > 0 {
		v = extra[0]
	}
	return fmt.Sprintf(`{"name":%q,"description":"test server","versions":[%s]}`, name, v)
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAllowedRequestReachesUpstream(t *testing.T) {
	// Invariant: an allowed request reaches the cluster's endpoint with the path rewritten onto the upstream path,
	// Host set to the endpoint, the body intact, the authz headers set and removed, the route's Authorization
	// removal applied and the edge headers added; and the CheckRequest carries what Envoy's filter sends: method,
	// path, lower-cased headers with pseudo-headers, the raw body marked not partial, the route's
	// context_extensions and the peer address.
	h := newHarness(t)
	up := newUpstream(t, nil)
	h.push(servers(t, serverDoc("acme/echo", up.URL+"/rpc")))
	h.waitVersion()
	h.authz.set(allow(map[string]string{"x-mcpgw-subject": "alice"}, []string{"x-mcpgw-spoof"}))

	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}`)
	resp, got := do(t, http.MethodPost, h.base+"/mcp/acme/echo?x=1", body, map[string]string{
		"Authorization": "Bearer tok", "X-Mcpgw-Spoof": "evil", "Content-Type": "application/json", "X-Custom": "a"})
	if resp.StatusCode != http.StatusOK || string(got) != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Fatalf("status %d body %s", resp.StatusCode, got)
	}
	if resp.Header.Get("Server") != "envoy" {
		t.Errorf("server header %q", resp.Header.Get("Server"))
	}
	s := up.seen()
	if len(s) != 1 {
		t.Fatalf("upstream saw %d requests", len(s))
	}
	r := s[0]
	wantHost := strings.TrimPrefix(up.URL, "http://")
	switch {
	case r.path != "/rpc?x=1":
		t.Errorf("upstream path %q, want /rpc?x=1", r.path)
	case r.host != wantHost:
		t.Errorf("upstream host %q, want %q", r.host, wantHost)
	case !bytes.Equal(r.body, body):
		t.Errorf("upstream body %q", r.body)
	case r.header.Get("X-Mcpgw-Subject") != "alice":
		t.Errorf("x-mcpgw-subject %q", r.header.Get("X-Mcpgw-Subject"))
	case r.header.Get("Authorization") != "" || r.header.Get("X-Mcpgw-Spoof") != "":
		t.Errorf("authorization or spoofed header reached the upstream: %v", r.header)
	case r.header.Get("X-Request-Id") == "" || r.header.Get("X-Forwarded-For") != "127.0.0.1":
		t.Errorf("edge headers missing: %v", r.header)
	case r.header.Get("X-Custom") != "a":
		t.Errorf("client header lost: %v", r.header)
	}

	reqs := h.authz.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d check requests", len(reqs))
	}
	hr := reqs[0].GetAttributes().GetRequest().GetHttp()
	hdr := hr.GetHeaders()
	switch {
	case hr.GetMethod() != "POST" || hr.GetPath() != "/mcp/acme/echo?x=1" || hr.GetProtocol() != "HTTP/1.1":
		t.Errorf("check request line %s %s %s", hr.GetMethod(), hr.GetPath(), hr.GetProtocol())
	case hdr[":authority"] != h.base[len("http://"):] || hdr[":path"] != "/mcp/acme/echo?x=1" || hdr[":method"] != "POST":
		t.Errorf("pseudo-headers %v", hdr)
	case hdr["authorization"] != "Bearer tok" || hdr["x-custom"] != "a" || hdr["x-request-id"] == "":
		t.Errorf("headers %v", hdr)
	case hdr[headerPartialBody] != "false" || !bytes.Equal(hr.GetRawBody(), body) || hr.GetBody() != "":
		t.Errorf("body %q partial %q", hr.GetRawBody(), hdr[headerPartialBody])
	}
	ext := reqs[0].GetAttributes().GetContextExtensions()
	if ext["kind"] != "server" || ext["server"] != "acme/echo" || ext["version"] != "1.0.0" {
		t.Errorf("context_extensions %v", ext)
	}
	if a := reqs[0].GetAttributes().GetSource().GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() == 0 {
		t.Errorf("source %v", a)
	}
	// The access log line is written once the response is complete, which the client may see first.
	var logged string
	for deadline := time.Now().Add(5 * time.Second); logged == "" && time.Now().Before(deadline); {
		if logged = strings.TrimSpace(h.log.String()); logged == "" {
			time.Sleep(5 * time.Millisecond)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(logged), &line); err != nil {
		t.Fatalf("access log %q: %v", h.log.String(), err)
	}
	if line["route"] != "mcp:acme/echo" || line["status"] != float64(200) || line["upstream_cluster"] != "mcp|acme/echo|1.0.0" {
		t.Errorf("access log %v", line)
	}
}

func TestDeniedAndFailedChecks(t *testing.T) {
	// Invariant: a denial is answered with the authorization service's status, headers and body, and an
	// authorization failure (gRPC error) with status_on_error (503); in neither case does the upstream see the
	// request.
	h := newHarness(t)
	up := newUpstream(t, nil)
	h.push(servers(t, serverDoc("acme/echo", up.URL+"/mcp")))
	h.waitVersion()
	tests := []struct {
		name       string
		decide     func(*authv3.CheckRequest) (*authv3.CheckResponse, error)
		status     int
		body, auth string
	}{
		{"denied", func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
				HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
					Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
					Headers: []*corev3.HeaderValueOption{headerOpt("www-authenticate", `Bearer error="insufficient_scope"`), headerOpt("content-type", "application/json")},
					Body:    `{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"no"}}`,
				}}}, nil
		}, 403, `{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"no"}}`, `Bearer error="insufficient_scope"`},
		{"denied without details", func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)}}, nil
		}, 403, "", ""},
		{"authz error", func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return nil, errors.New("engine down")
		}, 503, "", ""},
		{"answer with unsupported fields", func(*authv3.CheckRequest) (*authv3.CheckResponse, error) {
			return &authv3.CheckResponse{Status: okStatus(), HttpResponse: &authv3.CheckResponse_OkResponse{
				OkResponse: &authv3.OkHttpResponse{QueryParametersToRemove: []string{"x"}}}}, nil
		}, 503, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.authz.set(tc.decide)
			resp, body := do(t, http.MethodPost, h.base+"/mcp/acme/echo", []byte(`{}`), nil)
			if resp.StatusCode != tc.status || string(body) != tc.body || resp.Header.Get("Www-Authenticate") != tc.auth {
				t.Errorf("got %d %q %q, want %d %q %q", resp.StatusCode, body, resp.Header.Get("Www-Authenticate"),
					tc.status, tc.body, tc.auth)
			}
		})
	}
	if n := len(up.seen()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestBodyLimitAndRegistryRoutes(t *testing.T) {
	// Invariant: a body over max_request_bytes reaches authz cut at the limit and marked partial, and the upstream
	// still receives all of it; a request without a body carries no partial marker; /api/ and /.well-known/ go
	// to the registry cluster without a Check.
	h := newHarness(t)
	up := newUpstream(t, nil)
	h.registry.HandleFunc("/api/v1/servers", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("registry")) })
	h.registry.HandleFunc("/.well-known/oauth-protected-resource/mcp/acme/echo", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("prm"))
	})
	h.push(servers(t, serverDoc("acme/echo", up.URL+"/mcp")))
	h.waitVersion()

	big := bytes.Repeat([]byte("a"), translate.DefaultAuthzMaxRequestBytes+10)
	if resp, _ := do(t, http.MethodPost, h.base+"/mcp/acme/echo", big, nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := h.authz.requests()
	hr := reqs[0].GetAttributes().GetRequest().GetHttp()
	if len(hr.GetRawBody()) != translate.DefaultAuthzMaxRequestBytes || hr.GetHeaders()[headerPartialBody] != "true" {
		t.Errorf("authz got %d bytes, partial=%q", len(hr.GetRawBody()), hr.GetHeaders()[headerPartialBody])
	}
	if s := up.seen(); len(s[0].body) != len(big) {
		t.Errorf("upstream got %d bytes, want %d", len(s[0].body), len(big))
	}
	if resp, _ := do(t, http.MethodGet, h.base+"/mcp/acme/echo", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("GET status %d", resp.StatusCode)
	}
	if hdr := h.authz.requests()[1].GetAttributes().GetRequest().GetHttp().GetHeaders(); hdr[headerPartialBody] != "" {
		t.Errorf("GET without body marked %q", hdr[headerPartialBody])
	}

	for path, want := range map[string]string{"/api/v1/servers": "registry",
		"/.well-known/oauth-protected-resource/mcp/acme/echo": "prm"} {
		resp, body := do(t, http.MethodGet, h.base+path, nil, nil)
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	if n := len(h.authz.requests()); n != 2 {
		t.Errorf("%d checks, want 2 (registry routes skip ext_authz)", n)
	}
}

func TestRoutingDecisions(t *testing.T) {
	// Invariant: a pinned version goes to its own cluster and an unpinned request to the default version; an
	// unknown pinned version, a disabled server and an unknown path are answered by the data plane (404 JSON-RPC,
	// 403 JSON-RPC, bare 404); an upstream that refuses connections is a 503; underscores in header names are
	// refused (400); an escaped slash redirects to the unescaped path; dot segments are resolved before matching.
	h := newHarness(t)
	v1 := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("v1")) })
	v2 := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("v2")) })
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h.push(servers(t,
		fmt.Sprintf(`{"name":"acme/multi","description":"d","versions":[
		  {"version":"2.0.0","transport":"streamable-http","url":%q,"default":true},
		  {"version":"1.0.0","transport":"streamable-http","url":%q}]}`, v2.URL+"/mcp", v1.URL+"/mcp"),
		fmt.Sprintf(`{"name":"acme/off","description":"d","status":"disabled","versions":[
		  {"version":"1.0.0","transport":"streamable-http","url":%q}]}`, v1.URL+"/mcp"),
		serverDoc("acme/dead", deadURL+"/mcp"),
	))
	h.waitVersion()
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
		body               string
		contentType        string
	}{
		{"default version", "POST", "/mcp/acme/multi", nil, 200, "v2", ""},
		{"pinned version", "POST", "/mcp/acme/multi", map[string]string{"Mcp-Server-Version": "1.0.0"}, 200, "v1", ""},
		{"below the server path", "POST", "/mcp/acme/multi/sub", nil, 200, "v2", ""},
		{"dot segments", "POST", "/mcp/acme/x/../multi", nil, 200, "v2", ""},
		{"unknown version", "POST", "/mcp/acme/multi", map[string]string{"Mcp-Server-Version": "9.9.9"}, 404,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32032,"message":"no MCP server has the requested version"}}`, "application/json"},
		{"disabled", "POST", "/mcp/acme/off", nil, 403,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32030,"message":"MCP server is disabled"}}`, "application/json"},
		{"no route", "POST", "/mcp/acme/multiple", nil, 404, "", ""},
		{"upstream down", "POST", "/mcp/acme/dead", nil, 503,
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure", "text/plain"},
		{"underscore header", "POST", "/mcp/acme/multi", map[string]string{"X_Bad": "1"}, 400, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, h.base+tc.path, []byte(`{}`), tc.header)
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("content-type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
		})
	}
	t.Run("escaped slash redirects", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", h.base+"/mcp/acme%2Fmulti", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/mcp/acme/multi" {
			t.Errorf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestStreamsAreNotBuffered(t *testing.T) {
	// Invariant: each event the upstream flushes reaches the client while the upstream still holds the response
	// open: the client reads the first event, then releases the upstream, then reads the rest.
	h := newHarness(t)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message\ndata: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "event: message\ndata: second\n\n")
	})
	h.push(servers(t, serverDoc("acme/sse", up.URL+"/mcp")))
	h.waitVersion()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", h.base+"/mcp/acme/sse", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	readEvent := func() string {
		var data string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("read event: %v", err)
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data = strings.TrimSpace(d)
			}
			if line == "\n" {
				return data
			}
		}
	}
	if got := readEvent(); got != "first" {
		t.Fatalf("first event %q", got)
	}
	close(release)
	if got := readEvent(); got != "second" {
		t.Fatalf("second event %q", got)
	}
}

func TestNACKKeepsLastGoodConfiguration(t *testing.T) {
	// Invariant: a route configuration using a feature the data plane does not emulate is NACKed with the reason;
	// the previous routes keep serving; the next valid snapshot is accepted.
	h := newHarness(t)
	up := newUpstream(t, nil)
	cat := servers(t, serverDoc("acme/echo", up.URL+"/mcp"))
	h.push(cat)
	good := h.waitVersion()
	h.push(cat, func(r *translate.Resources) {
		rc := r.Routes[0]
		rc.VirtualHosts[0].Routes[0].GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx",
			PerTryTimeout: durationpb.New(1)}
	})
	ctx := t.Context()
	st, err := h.dp.WaitFor(ctx, func(s Status) bool { return s.NACKs > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LastNACK, "retry_policy") || st.Versions[resourcev3.RouteType] != good.Versions[resourcev3.RouteType] {
		t.Errorf("NACK %q, route version %q (was %q)", st.LastNACK, st.Versions[resourcev3.RouteType], good.Versions[resourcev3.RouteType])
	}
	if resp, _ := do(t, http.MethodPost, h.base+"/mcp/acme/echo", []byte(`{}`), nil); resp.StatusCode != 200 {
		t.Errorf("the last good routes stopped serving: %d", resp.StatusCode)
	}
	h.push(cat)
	h.waitVersion()
}

func TestStickySessionsAcrossEndpoints(t *testing.T) {
	// Invariant: with several endpoints (EDS, ring hash, envelope stateful session) the client gets the upstream's
	// Mcp-Session-Id wrapped with the endpoint address, and every request carrying it goes back to that endpoint,
	// which sees its own value unwrapped.
	h := newHarness(t)
	var ups []*upstream
	for i := range 3 {
		var u *upstream
		u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Mcp-Session-Id") == "" {
				w.Header().Set("Mcp-Session-Id", fmt.Sprintf("session-%d", i))
			}
			_, _ = w.Write([]byte(u.URL))
		})
		ups = append(ups, u)
	}
	h.push(servers(t, fmt.Sprintf(`{"name":"acme/pool","description":"d","versions":[{"version":"1.0.0",
	  "transport":"streamable-http","url":%q,"endpoints":[%q,%q]}]}`, ups[0].URL+"/mcp", ups[1].URL+"/mcp", ups[2].URL+"/mcp")))
	h.waitVersion()
	if _, err := h.dp.WaitFor(t.Context(), func(s Status) bool { return len(s.Endpoints["mcp|acme/pool|1.0.0"]) == 3 }); err != nil {
		t.Fatal(err)
	}
	resp, first := do(t, "POST", h.base+"/mcp/acme/pool", []byte(`{}`), nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	if !strings.Contains(sid, ";UV:") {
		t.Fatalf("session header %q is not an envelope", sid)
	}
	for range 5 {
		_, again := do(t, "POST", h.base+"/mcp/acme/pool", []byte(`{}`), map[string]string{"Mcp-Session-Id": sid})
		if string(again) != string(first) {
			t.Fatalf("session moved from %s to %s", first, again)
		}
	}
	for _, u := range ups {
		for _, s := range u.seen() {
			if v := s.header.Get("Mcp-Session-Id"); v != "" && !strings.HasPrefix(v, "session-") {
				t.Errorf("upstream saw the envelope %q instead of its own value", v)
			}
		}
	}
}

func TestUpstreamTLS(t *testing.T) {
	// Invariant: an https upstream is reached over TLS, verified against the cluster's trusted CA and its subject
	// alt name; a certificate from another CA is refused (503).
	h := newHarness(t)
	good := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("tls ok"))
	}))
	good.TLS = &tls.Config{Certificates: []tls.Certificate{theTestCA(t).cert}}
	good.StartTLS()
	t.Cleanup(good.Close)
	other := httptest.NewTLSServer(http.NotFoundHandler()) // Go's built-in test certificate: not our CA
	t.Cleanup(other.Close)
	h.push(servers(t, serverDoc("acme/tls", good.URL+"/mcp"), serverDoc("acme/untrusted", other.URL+"/mcp")))
	h.waitVersion()
	if resp, body := do(t, "POST", h.base+"/mcp/acme/tls", []byte(`{}`), nil); resp.StatusCode != 200 || string(body) != "tls ok" {
		t.Errorf("trusted upstream: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, "POST", h.base+"/mcp/acme/untrusted", []byte(`{}`), nil); resp.StatusCode != 503 {
		t.Errorf("untrusted upstream: %d, want 503", resp.StatusCode)
	}
}
