package extauthz_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/extauthz"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
)

// publicBase is the gateway URL of the tests.
const publicBase = "https://gw.example.com"

// recorder is the Auditor of the tests: the store behind the real Batcher is a process boundary, so the tests
// keep the records in memory.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (r *recorder) Submit(rec audit.Record) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return true
}

// take returns the records submitted since the last take.
func (r *recorder) take() []audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.recs
	r.recs = nil
	return recs
}

// catalog is the catalog of the tests, shaped like the registry's in-memory view: finance/ledger has a default
// version 1.0.0, a retired 0.9.0 and a 2.0.0 that is the token's audience (forwards Authorization); virtual server
// "support" and the registry tools exist.
func catalog() extauthz.Catalog {
	return extauthz.CatalogFunc(func(ctx context.Context, kind, server, version string) (extauthz.Route, error) {
		switch kind + " " + server {
		case "server finance/ledger":
			switch version {
			case "", "1.0.0":
				return extauthz.Route{Version: "1.0.0"}, nil
			case "0.9.0":
				return extauthz.Route{}, fmt.Errorf("look up %s@%s: %w", server, version, extauthz.ErrRetired)
			case "2.0.0":
				return extauthz.Route{Version: "2.0.0", ForwardAuthorization: true}, nil
			}
		case "server ops/pager":
			return extauthz.Route{Version: "3.1.0"}, nil
		case "virtual support":
			return extauthz.Route{}, nil
		case "registry-tools airegistry-tools":
			return extauthz.Route{ForwardAuthorization: true}, nil
		case "server broken/catalog":
			return extauthz.Route{}, fmt.Errorf("look up %s: view not loaded", server)
		}
		return extauthz.Route{}, fmt.Errorf("look up %s %s: %w", kind, server, extauthz.ErrUnknownTarget)
	})
}

// testData is the registry data of the tests: the acceptance contract's finance-read scope and finance mapping,
// a finance-write scope nobody holds, a scope on the virtual server, and a client mapping for a machine.
func testData(t testing.TB) policy.Data {
	t.Helper()
	var read, write, support policy.Scope
	var mapping, opsMapping policy.GroupMapping
	for dst, src := range map[any]string{
		&read:       `{"name":"finance-read","grants":[{"server":"finance/ledger","methods":["tools/list","tools/call"],"tools":["get_balance"]}]}`,
		&write:      `{"name":"finance-write","grants":[{"server":"finance/*","methods":["tools/call"],"tools":["transfer","get_balance"]}]}`,
		&support:    `{"name":"support-use","grants":[{"kind":"virtual","server":"support","methods":["tools/*"],"tools":["*"]}]}`,
		&mapping:    `{"group":"finance","scopes":["finance-read"]}`,
		&opsMapping: `{"group":"ops","scopes":["support-use"]}`,
	} {
		if err := json.Unmarshal([]byte(src), dst); err != nil {
			t.Fatal(err)
		}
	}
	return policy.Data{
		Scopes:         []policy.Scope{read, write, support},
		GroupMappings:  []policy.GroupMapping{mapping, opsMapping},
		ClientMappings: []policy.ClientMapping{{Client: "ledger-sync", Scopes: []string{"finance-read"}}},
	}
}

// env is a Check server with the real policy engine and identity verifier behind a gRPC connection over bufconn.
type env struct {
	srv    *extauthz.Server
	client authv3.AuthorizationClient
	dev    *identity.DevIssuer
	engine *policy.Engine
	audit  *recorder
	dir    string // the dev issuer's data directory
}

type envOptions struct {
	policyDir string
	issuers   []identity.IssuerConfig // added after the dev issuer
	verifier  extauthz.Verifier       // replaces the identity verifier
	auditor   extauthz.Auditor        // replaces the recorder
	quiet     bool                    // discard logs (fuzz targets and benchmarks must not log through f or b)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	log := testLogger(t)
	if o.quiet {
		log = slog.New(slog.DiscardHandler)
	}
	dir := t.TempDir()
	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(ctx, policy.Options{Dir: o.policyDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.SetData(ctx, testData(t)); err != nil {
		t.Fatal(err)
	}
	verifier := o.verifier
	if verifier == nil {
		v, err := identity.NewVerifier(identity.Config{Issuers: append([]identity.IssuerConfig{dev.IssuerConfig()}, o.issuers...)},
			identity.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		verifier = v
	}
	rec := &recorder{}
	var auditor extauthz.Auditor = rec
	if o.auditor != nil {
		auditor = o.auditor
	}
	srv, err := extauthz.New(extauthz.Config{PublicBaseURL: publicBase}, extauthz.Deps{
		Verifier: verifier, Decider: engine, Catalog: catalog(), Auditor: auditor, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, client: dialBufconn(t, srv), dev: dev, engine: engine, audit: rec, dir: dir}
}

// dialBufconn serves srv on an in-memory listener and returns a client of it.
func dialBufconn(t testing.TB, srv *extauthz.Server) authv3.AuthorizationClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	return serve(t, srv, lis, "passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
}

// serveTCP serves srv on a loopback TCP port and returns a client of it.
func serveTCP(t testing.TB, srv *extauthz.Server) authv3.AuthorizationClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, lis, lis.Addr().String())
}

// serve runs a gRPC server with srv registered on lis until the test ends and returns a client dialling target.
func serve(t testing.TB, srv *extauthz.Server, lis net.Listener, target string, opts ...grpc.DialOption) authv3.AuthorizationClient {
	t.Helper()
	gs := grpc.NewServer()
	srv.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient(target, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
	})
	return authv3.NewAuthorizationClient(conn)
}

// token issues a dev token for a user in groups, valid for an hour.
func (e *env) token(t testing.TB, subject string, groups []string, opts ...identity.IssueOption) string {
	t.Helper()
	tok, err := e.dev.Issue(subject, groups, time.Hour, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call is one HTTP request as Envoy's ext_authz filter describes it.
type call struct {
	method  string // default POST
	path    string // default /mcp/finance/ledger
	token   string // sent as "Bearer <token>" when set
	headers map[string]string
	body    string
	ext     map[string]string // default {kind: server, server: finance/ledger}
}

func (c call) request() *authv3.CheckRequest {
	if c.method == "" {
		c.method = "POST"
	}
	if c.path == "" {
		c.path = "/mcp/finance/ledger"
	}
	if c.ext == nil {
		c.ext = map[string]string{"kind": "server", "server": "finance/ledger"}
	}
	h := map[string]string{":authority": "gw.example.com", "content-type": "application/json",
		"accept": "application/json, text/event-stream", "x-request-id": "req-1"}
	for k, v := range c.headers {
		h[k] = v
	}
	if c.token != "" {
		h["authorization"] = "Bearer " + c.token
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: c.method, Path: c.path, Host: "gw.example.com", Scheme: "https", Protocol: "HTTP/1.1",
			Headers: h, RawBody: []byte(c.body),
		}},
		ContextExtensions: c.ext,
	}}
}

// toolsCall is the body of a tools/call request with a numeric id.
func toolsCall(id int, tool string, args string) string {
	if args == "" {
		args = "{}"
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
}

// answer is the essentials of a CheckResponse.
type answer struct {
	ok       bool
	status   int               // HTTP status of a denial
	headers  map[string]string // upstream headers on OK, response headers on denial
	remove   []string
	body     string
	metadata map[string]any
}

func readAnswer(t testing.TB, resp *authv3.CheckResponse) answer {
	t.Helper()
	a := answer{headers: map[string]string{}, metadata: resp.GetDynamicMetadata().AsMap()}
	var hs []*corev3.HeaderValueOption
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		if resp.GetStatus().GetCode() != 0 {
			t.Fatalf("OK response with status %v", resp.GetStatus())
		}
		a.ok, hs, a.remove = true, r.OkResponse.GetHeaders(), r.OkResponse.GetHeadersToRemove()
	case *authv3.CheckResponse_DeniedResponse:
		if resp.GetStatus().GetCode() == 0 {
			t.Fatalf("denied response with status OK")
		}
		a.status, hs, a.body = int(r.DeniedResponse.GetStatus().GetCode()), r.DeniedResponse.GetHeaders(), r.DeniedResponse.GetBody()
	default:
		t.Fatalf("response without an HTTP answer: %v", resp)
	}
	for _, h := range hs {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("header %s appends instead of overwriting", h.GetHeader().GetKey())
		}
		a.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return a
}

// check sends c through the gRPC client and reads the answer.
func (e *env) check(t testing.TB, c call) answer {
	t.Helper()
	resp, err := e.client.Check(context.Background(), c.request())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return readAnswer(t, resp)
}

// rpcError is a JSON-RPC error response.
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"error"`
}

func parseRPCError(t testing.TB, body string) rpcError {
	t.Helper()
	var e rpcError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if e.JSONRPC != "2.0" {
		t.Fatalf("body %q is not a JSON-RPC 2.0 error", body)
	}
	return e
}

// testLogger sends log lines to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
