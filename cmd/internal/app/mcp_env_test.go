package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/test/mcpserver"
)

// mcpEnv is a registry process built by New and run by Run, served over HTTP, with a catalog for the MCP endpoint
// tests: the sample ledger (sessions) and HR (stateless) servers running upstream, registered with the tool
// definitions they really serve, plus agents, skills, scopes, group mappings and virtual servers.
//
// Who sees what:
//   - group finance (scope finance-read): finance/* servers (tools get_balance and export_statement, not transfer),
//     agents and skills;
//   - group hr (scope hr-read): hr/* servers (every tool), agents and skills;
//   - group desk (scope desk-use): virtual server fin-desk, tools balance, move_money, statement, ping_down;
//   - group approvers (scope payments-approve): no grant, but move_money on fin-desk requires the scope;
//   - tools/weather is public; virtual server hidden-desk is granted to nobody.
type mcpEnv struct {
	app    *App
	url    string
	ledger *mcpserver.Server
	hr     *mcpserver.Server
	admin  registrar.Actor
}

const publicURL = "http://gw.example.com"

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newMCPEnv(t testing.TB) *mcpEnv {
	t.Helper()
	log := testLog(t)
	cfg := &Config{DataDir: t.TempDir(), Gateway: false, LogLevel: "info", LogFormat: "text",
		FeedInterval: 50 * time.Millisecond, ShutdownGrace: time.Second, PublicURL: publicURL, EnvoyPort: 10000}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	a, err := New(ctx, cfg, Parts{Registry: true}, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)

	e := &mcpEnv{app: a, url: hs.URL, admin: registrar.Actor{Issuer: a.Dev.Issuer(), Subject: "root", Groups: []string{"mcpgw-admins"}}}
	if e.ledger, err = mcpserver.Start(mcpserver.Ledger(mcpserver.Options{}), "", false, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.ledger.Close() })
	if e.hr, err = mcpserver.Start(mcpserver.HR(), "", true, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.hr.Close() })

	remote := func(url string, tools []catalog.Tool) []catalog.ServerVersion {
		return []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP, URL: url, Tools: tools}}
	}
	grant := func(kind, server string, tools ...string) catalog.Grant {
		return catalog.Grant{Kind: kind, Server: server, Methods: []string{"tools/call"}, Tools: tools}
	}
	e.create(t,
		&catalog.Server{Name: "finance/ledger", Governance: catalog.Governance{Title: "Company ledger",
			Description: "Account balances, money transfers between accounts and account statements", Tags: []string{"finance"}},
			Versions: remote(e.ledger.URL, upstreamTools(t, e.ledger.URL))},
		&catalog.Server{Name: "hr/people", Governance: catalog.Governance{Title: "People directory",
			Description: "Employee directory: find employees by name, list departments", Tags: []string{"hr"}},
			Versions: remote(e.hr.URL, upstreamTools(t, e.hr.URL))},
		&catalog.Server{Name: "tools/weather", Governance: catalog.Governance{Title: "Weather",
			Description: "Weather forecasts for cities", Visibility: catalog.VisibilityPublic},
			Versions: remote("http://127.0.0.1:9/mcp", []catalog.Tool{{Name: "get_forecast", Description: "Weather forecast for a city",
				InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}})},
		// down/echo's upstream is a port nothing listens on.
		&catalog.Server{Name: "down/echo", Governance: catalog.Governance{Description: "Echo service that is down"},
			Versions: remote(closedURL(t), []catalog.Tool{{Name: "echo", Description: "Echo the input"}})},
		&catalog.Agent{Name: "finance/invoice-agent", Governance: catalog.Governance{Description: "Reconciles invoices"},
			Card: catalog.AgentCard{Name: "Invoice agent", Description: "Reconciles supplier invoices against the ledger",
				URL: "https://agents.example.com/invoices", Version: "1.0.0",
				Skills: []catalog.AgentSkill{{ID: "reconcile", Name: "Reconcile invoices", Description: "Match invoices to payments"}}}},
		&catalog.Agent{Name: "hr/onboarding-agent", Governance: catalog.Governance{Description: "Onboards new hires"},
			Card: catalog.AgentCard{Name: "Onboarding agent", Description: "Prepares accounts and equipment for new hires",
				URL: "https://agents.example.com/onboarding", Version: "1.0.0", Skills: []catalog.AgentSkill{}}},
		&catalog.Skill{Name: "finance/expense-report", Content: expenseSkill},
		&catalog.Skill{Name: "hr/onboarding-checklist", Content: "---\nname: onboarding-checklist\ndescription: Checklist for a new hire's first week\n---\n# Onboarding\n"},
		&catalog.Scope{Name: "finance-read", Grants: []catalog.Grant{grant("server", "finance/*", "get_balance", "export_statement"),
			grant("agent", "finance/*"), grant("skill", "finance/*")}},
		&catalog.Scope{Name: "hr-read", Grants: []catalog.Grant{grant("server", "hr/*", "*"), grant("agent", "hr/*"), grant("skill", "hr/*")}},
		&catalog.Scope{Name: "desk-use", Grants: []catalog.Grant{grant("virtual", "fin-desk", "balance", "move_money", "statement", "ping_down")}},
		&catalog.Scope{Name: "payments-approve", Description: "May move money through the finance desk"},
		&catalog.GroupMapping{Group: "finance", Scopes: []string{"finance-read"}},
		&catalog.GroupMapping{Group: "hr", Scopes: []string{"hr-read"}},
		&catalog.GroupMapping{Group: "desk", Scopes: []string{"desk-use"}},
		&catalog.GroupMapping{Group: "approvers", Scopes: []string{"payments-approve"}},
		&catalog.VirtualServer{Name: "fin-desk", Governance: catalog.Governance{Description: "The finance desk's tools"},
			Tools: []catalog.VirtualTool{
				{Server: "finance/ledger", Tool: mcpserver.ToolGetBalance, Alias: "balance"},
				{Server: "finance/ledger", Tool: mcpserver.ToolTransfer, Alias: "move_money", Scopes: []string{"payments-approve"}},
				{Server: "finance/ledger", Tool: mcpserver.ToolExportStatement, Alias: "statement"},
				{Server: "hr/people", Tool: mcpserver.ToolFindEmployee, Alias: "whois"},
				{Server: "down/echo", Tool: "echo", Alias: "ping_down"},
			}},
		&catalog.VirtualServer{Name: "hidden-desk", Governance: catalog.Governance{Description: "Nobody's"},
			Tools: []catalog.VirtualTool{{Server: "finance/ledger", Tool: mcpserver.ToolGetBalance}}},
	)
	fctx, fcancel := context.WithTimeout(t.Context(), time.Minute)
	defer fcancel()
	if err := a.Search.Flush(fctx); err != nil {
		t.Fatalf("search vectors: %v", err)
	}
	return e
}

const expenseSkill = "---\nname: expense-report\ndescription: File an expense report with receipts\n---\n# Expense report\n\nAttach every receipt.\n"

func (e *mcpEnv) create(t testing.TB, objs ...catalog.Object) {
	t.Helper()
	for _, o := range objs {
		if _, err := e.app.Registrar.Create(t.Context(), e.admin, o); err != nil {
			t.Fatalf("create %s %s: %v", o.Kind(), o.Key(), err)
		}
	}
}

// closedURL is an MCP URL on a loopback port that refuses connections.
func closedURL(t testing.TB) string {
	t.Helper()
	hs := httptest.NewServer(http.NotFoundHandler())
	u := hs.URL + "/mcp"
	hs.Close()
	return u
}

// upstreamTools returns the tools a running server really serves, as catalog definitions.
func upstreamTools(t testing.TB, url string) []catalog.Tool {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "register", Version: "1.0.0"}, nil).Connect(t.Context(),
		&mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer cs.Close()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []catalog.Tool
	for _, tl := range res.Tools {
		in, _ := json.Marshal(tl.InputSchema)
		out = append(out, catalog.Tool{Name: tl.Name, Description: tl.Description, InputSchema: in})
	}
	return out
}

func (e *mcpEnv) token(t testing.TB, subject string, groups ...string) string {
	t.Helper()
	tok, err := e.app.Dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// revisions are the protocol revisions a client asks for: a 2025-11-25 session, and the go-sdk default (server/discover,
// then the stateless 2026-07-28 revision).
var revisions = []struct{ name, ask, want string }{
	{name: "session", ask: "2025-11-25", want: "2025-11-25"},
	{name: "stateless", ask: "", want: "2026-07-28"},
}

// connect opens an MCP client session at path with a token, asking for a protocol revision ("" the SDK default).
func (e *mcpEnv) connect(t testing.TB, path, token, revision string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return clienttest.ConnectMCP(t, e.url+path, token, revision, opts)
}

// call calls a tool and decodes its structured result into out (when not nil). It returns the result.
var call = clienttest.CallTool

// text is the text of a result's first content block.
var text = clienttest.Text
