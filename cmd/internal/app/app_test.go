package app

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
)

func check(t *testing.T, a *App, token, tool string) *authv3.CheckResponse {
	t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, tool)
	resp, err := a.Authz.Check(t.Context(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/mcp/finance/ledger", Host: "gw", Protocol: "HTTP/1.1",
			Headers: map[string]string{"authorization": "Bearer " + token, "content-type": "application/json",
				"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"},
			RawBody: []byte(body),
		}},
		ContextExtensions: map[string]string{"kind": "server", "server": "finance/ledger"},
	}})
	if err != nil {
		t.Fatalf("check %s: %v", tool, err)
	}
	return resp
}

func TestAuthzKeepsDecidingWhenTheStoreIsGone(t *testing.T) {
	// Invariant: the gateway parts decide from memory; when the store becomes unreachable, authz still answers
	// with the data it last loaded, and readiness says the store is unreachable.
	ctx := t.Context()
	cfg := &Config{DataDir: t.TempDir(), Gateway: true, LogLevel: "info", LogFormat: "text", FeedInterval: 50e6, EnvoyPort: 10000,
		PublicURL: "http://gw.example.com"}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(ctx, cfg, Parts{Authz: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	admin := registrar.Actor{Issuer: a.Dev.Issuer(), Subject: "root", Groups: []string{"mcpgw-admins"}}
	for _, o := range []catalog.Object{
		&catalog.Server{Name: "finance/ledger", Governance: catalog.Governance{Description: "ledger"},
			Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: "http://127.0.0.1:9/mcp",
				Tools: []catalog.Tool{{Name: "get_balance"}, {Name: "transfer"}}}}},
		&catalog.Scope{Name: "finance-read", Grants: []catalog.Grant{{Server: "finance/ledger", Methods: []string{"tools/call"}, Tools: []string{"get_balance"}}}},
		&catalog.GroupMapping{Group: "finance", Scopes: []string{"finance-read"}},
	} {
		if _, err := a.Registrar.Create(ctx, admin, o); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := a.Dev.Issue("bob", []string{"finance"}, 3600e9)
	if err != nil {
		t.Fatal(err)
	}
	if r := check(t, a, tok, "get_balance"); r.GetOkResponse() == nil {
		t.Fatalf("before: %v", r)
	}

	a.Close(context.WithoutCancel(ctx)) // the store goes away

	if r := check(t, a, tok, "get_balance"); r.GetOkResponse() == nil {
		t.Fatalf("after the store went away, an allowed call was refused: %v", r)
	}
	if r := check(t, a, tok, "transfer"); r.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Fatalf("after the store went away, a forbidden call was not denied: %v", r)
	}
	st, err := a.readiness(ctx)
	if err == nil || st.Store != "unreachable" || st.Status != "degraded" {
		t.Fatalf("readiness: %+v %v", st, err)
	}
}

func TestRegistryOnlyMode(t *testing.T) {
	// Invariant: with the gateway disabled, serve starts the registry alone: no ADS and no ext_authz server.
	cfg := &Config{DataDir: t.TempDir(), Gateway: false, LogLevel: "info", LogFormat: "text", FeedInterval: 50e6,
		EnvoyPort: 10000, XDSAddr: "127.0.0.1:0", AuthzAddr: "127.0.0.1:0"}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(t.Context(), cfg, Parts{Registry: true, XDS: true, Authz: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.WithoutCancel(t.Context()))
	if a.XDS != nil || a.Authz != nil || len(a.listeners) != 0 {
		t.Fatalf("gateway parts started: xds=%v authz=%v listeners=%d", a.XDS != nil, a.Authz != nil, len(a.listeners))
	}
	if a.Handler() == nil {
		t.Fatal("the registry must still be served")
	}
}

func TestAuditOfRequestsFinishingAtShutdown(t *testing.T) {
	// Invariant: a request still in flight when shutdown begins has its audit record stored: the audit pipeline
	// stops only after every server (here, a runner standing for one) has returned.
	cfg := &Config{DataDir: t.TempDir(), Gateway: true, LogLevel: "info", LogFormat: "text", FeedInterval: 50e6, EnvoyPort: 10000,
		PublicURL: "http://gw.example.com", ShutdownGrace: 5e9}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(t.Context(), cfg, Parts{Authz: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Dev.Issue("bob", []string{"finance"}, 3600e9)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	a.runners = append(a.runners, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // a request that takes a moment to finish
		check(t, a, tok, "get_balance")    // denied (no grant): a decision record all the same
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if st := a.Audit.Stats(); st.Dropped != 0 || st.Written != 1 {
		t.Fatalf("audit after shutdown: %+v, want the late record written", st)
	}
}
