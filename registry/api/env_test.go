package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

// env is the registry API over the real stack, wired as cmd/internal/app wires it: the embedded MongoDB-compatible
// store, the in-memory view, the Rego policy engine with the embedded policy, access control, the registrar with the
// audit batcher, the development token issuer and verifier. Every request made through env.do is checked against the
// OpenAPI document (see contract), so each API test is also a contract test.
type env struct {
	srv      *httptest.Server
	api      *api.Server
	store    *mongo.Store
	view     *view.Catalog
	dev      *identity.DevIssuer
	contract *contract
	// opts are the API's options, for tests that build a variant of the API over the same stack.
	opts api.Options
	// admin is a token of a member of the default admin group; user one of a member of no group.
	admin, user string
}

// testLogger writes to the test's output, so server-side errors appear beside the failing test.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newEnv(t testing.TB) *env {
	t.Helper()
	log := testLogger(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	store, err := mongo.Open(ctx, mongo.Config{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close(context.WithoutCancel(ctx)) })

	engine, err := policy.New(ctx, policy.Options{Logger: log})
	if err != nil {
		t.Fatalf("load policy: %v", err)
	}
	cat := view.New(store, log)
	ctl := access.New(engine, cat, access.Options{Logger: log})
	cat.AddListener(ctl.Listener(ctx))
	if _, err := cat.Load(ctx); err != nil {
		t.Fatalf("load view: %v", err)
	}
	if err := ctl.Sync(ctx); err != nil {
		t.Fatalf("sync access data: %v", err)
	}
	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Logger: log})
	if err != nil {
		t.Fatalf("dev issuer: %v", err)
	}
	verifier, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}},
		identity.Options{Logger: log})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	batcher, err := audit.NewBatcher(store, audit.BatcherConfig{FlushInterval: 5 * time.Millisecond}, log)
	if err != nil {
		t.Fatalf("audit batcher: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = batcher.Run(ctx)
	}()
	// Registered after the store's cleanup, so it runs first: the batcher drains before the store closes.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	rg, err := registrar.New(store, cat, registrar.Options{
		Gate: access.Gate{Engine: engine}, Auditor: batcher, Logger: log,
		BuiltinScopes: []string{policy.DefaultAdminScope},
	})
	if err != nil {
		t.Fatalf("registrar: %v", err)
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector())
	opts := api.Options{
		View: cat, Registrar: rg, Auth: verifier, JWKS: dev.JWKS(), Logger: log,
		Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
			return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
		}),
		Ready:     store.Ping,
		Audit:     store,
		Explainer: engine,
		Mounts: []api.Mount{
			{Path: "/metrics", Handler: promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}), Public: true},
		},
	}
	srv, err := api.New(opts)
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{srv: hs, api: srv, store: store, view: cat, dev: dev, contract: loadContract(t, srv), opts: opts}
	e.admin = e.token(t, "alice", policy.DefaultAdminGroup)
	e.user = e.token(t, "bob")
	return e
}

// token issues a development token for subject with the given groups.
func (e *env) token(t testing.TB, subject string, groups ...string) string {
	t.Helper()
	tok, err := e.dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok
}

// reply is a response, read whole.
type reply struct {
	Status  int
	Header  http.Header
	Trailer http.Header
	Body    []byte
}

// problem decodes a problem+json body, failing the test when the response is not one.
func (r reply) problem(t testing.TB) api.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q, want application/problem+json; body %s", r.Status, ct, r.Body)
	}
	var p api.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode problem: %v; body %s", err, r.Body)
	}
	if p.Status != r.Status {
		t.Fatalf("problem status %d in a %d response", p.Status, r.Status)
	}
	return p
}

// decode unmarshals a JSON body into v.
func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response: %v; body %s", r.Status, err, r.Body)
	}
}

// want fails the test unless the status is status.
func (r reply) want(t testing.TB, status int) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// object decodes a JSON object body.
func (r reply) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// reqOpt adjusts a request.
type reqOpt func(*http.Request)

// as sends the request with a bearer token ("" sends none).
func as(token string) reqOpt {
	return func(r *http.Request) {
		if token == "" {
			r.Header.Del("Authorization")
		} else {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
}

// header sets a request header.
func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// request builds a request as do sends it, and returns its body.
func (e *env) request(t testing.TB, method, path string, body any, opts ...reqOpt) (*http.Request, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatalf("encode request body: %v", err)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+e.admin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return req, raw
}

// do sends a request as the admin unless an option says otherwise. A body of type []byte or string is sent as is,
// anything else as JSON; a body is labelled application/json unless an option sets Content-Type. The exchange is
// checked against the OpenAPI document and must never be a 500.
func (e *env) do(t testing.TB, method, path string, body any, opts ...reqOpt) reply {
	t.Helper()
	req, raw := e.request(t, method, path, body, opts...)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := reply{Status: resp.StatusCode, Header: resp.Header, Trailer: resp.Trailer, Body: out}
	if r.Status == http.StatusInternalServerError {
		t.Errorf("%s %s: 500 (client input must never cause one): %s", method, path, out)
	}
	if err := e.contract.check(req, raw, r); err != nil {
		t.Errorf("%s %s -> %d breaks the OpenAPI contract: %v\nresponse body: %s", method, path, r.Status, err, truncate(out))
	}
	return r
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}
