package toolserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/toolserver"
)

// ledger is a finance server with a tool the finance group may call (get_balance) and one it may not
// (launch_zeppelin), and the finance group's grant.
func ledger(e *env, t *testing.T) {
	t.Helper()
	grant := func(kind, server string, tools ...string) catalog.Grant {
		return catalog.Grant{Kind: kind, Server: server, Methods: []string{"tools/call"}, Tools: tools}
	}
	e.create(t,
		&catalog.Server{Name: "finance/ledger", Governance: catalog.Governance{Title: "Company ledger",
			Description: "Account balances and statements"},
			Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
				URL: "http://127.0.0.1:9/mcp", Tools: []catalog.Tool{
					{Name: "get_balance", Description: "Balance of an account"},
					{Name: "launch_zeppelin", Description: "Launch the zeppelin fleet over the harbour"}}}}},
		&catalog.Scope{Name: "finance-read", Grants: []catalog.Grant{grant("server", "finance/*", "get_balance")}},
		&catalog.GroupMapping{Group: "finance", Scopes: []string{"finance-read"}},
	)
}

func TestSearchDoesNotRevealUncallableTools(t *testing.T) {
	// Invariant: in every protocol revision, search_registry and find_tool rank a server for the caller by the tools
	// it may call only: words found only in a tool the caller may not call find nothing, while an admin finds the
	// server by them.
	e := newEnv(t)
	ledger(e, t)
	for _, rev := range revisions {
		t.Run(rev.name, func(t *testing.T) {
			fin := e.connect(t, e.token(t, "carol", "finance"), rev.ask)
			admin := e.connect(t, e.token(t, "root", "mcpgw-admins"), rev.ask)
			args := map[string]any{"query": "zeppelin fleet over the harbour"}
			var got toolserver.SearchOut
			call(t, fin, "search_registry", args, &got)
			if len(got.Results) != 0 {
				t.Errorf("finance finds %+v by the words of launch_zeppelin", got.Results)
			}
			call(t, admin, "search_registry", args, &got)
			if len(got.Results) == 0 || got.Results[0].Name != "finance/ledger" {
				t.Errorf("admin search: %+v", got.Results)
			}
			var found toolserver.FindToolOut
			call(t, fin, "find_tool", map[string]any{"need": "launch the zeppelin fleet"}, &found)
			if len(found.Tools) != 0 {
				t.Errorf("finance is offered %+v", found.Tools)
			}
			call(t, fin, "search_registry", map[string]any{"query": "balance of an account"}, &got)
			if len(got.Results) == 0 || got.Results[0].Name != "finance/ledger" {
				t.Errorf("finance search by a callable tool: %+v", got.Results)
			}
		})
	}
}

func TestListServersNamesNoEndpointForUnroutableServers(t *testing.T) {
	// Invariant: list_servers gives a gateway endpoint only for a server the gateway routes to: an enabled or
	// deprecated one; a disabled or security-pending server (which has no route) is listed without one.
	e := newEnv(t)
	remote := []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
		URL: "http://127.0.0.1:9/mcp", Tools: []catalog.Tool{{Name: "ping", Description: "Ping"}}}}
	want := map[string]string{}
	for _, st := range []catalog.Status{catalog.StatusEnabled, catalog.StatusDeprecated, catalog.StatusDisabled, catalog.StatusSecurityPending} {
		name := "ops/" + string(st)
		e.create(t, &catalog.Server{Name: name, Governance: catalog.Governance{Description: "A server", Status: st},
			Versions: remote})
		want[name] = ""
		if st == catalog.StatusEnabled || st == catalog.StatusDeprecated {
			want[name] = publicURL + "/mcp/" + name
		}
	}
	for _, rev := range revisions {
		t.Run(rev.name, func(t *testing.T) {
			admin := e.connect(t, e.token(t, "root", "mcpgw-admins"), rev.ask)
			var out toolserver.ListServersOut
			call(t, admin, "list_servers", map[string]any{"namespace": "ops"}, &out)
			got := map[string]string{}
			for _, s := range out.Servers {
				got[s.Name] = s.Endpoint
			}
			if len(got) != len(want) {
				t.Fatalf("servers %v", got)
			}
			for name, ep := range want {
				if got[name] != ep {
					t.Errorf("%s: endpoint %q, want %q", name, got[name], ep)
				}
			}
		})
	}
}

func TestSearchRegistryStatus(t *testing.T) {
	// Invariant: search_registry finds enabled assets only, unless its status argument asks for others, as the REST
	// search's status parameter does; a status that does not exist is refused, naming the argument.
	e := newEnv(t)
	remote := []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
		URL: "http://127.0.0.1:9/mcp", Tools: []catalog.Tool{{Name: "weigh", Description: "Weigh a parcel"}}}}
	for _, st := range []catalog.Status{catalog.StatusEnabled, catalog.StatusDeprecated} {
		e.create(t, &catalog.Server{Name: "post/scales-" + string(st),
			Governance: catalog.Governance{Description: "Parcel scales", Status: st}, Versions: remote})
	}
	admin := e.connect(t, e.token(t, "root", "mcpgw-admins"), revisions[len(revisions)-1].ask)
	names := func(args map[string]any) []string {
		var got toolserver.SearchOut
		if res := call(t, admin, "search_registry", args, &got); res.IsError {
			t.Fatalf("search_registry %v: %+v", args, res.Content)
		}
		var n []string
		for _, r := range got.Results {
			n = append(n, r.Name)
		}
		slices.Sort(n)
		return n
	}
	if got := names(map[string]any{"query": "parcel scales"}); !slices.Equal(got, []string{"post/scales-enabled"}) {
		t.Errorf("default statuses: %v", got)
	}
	if got := names(map[string]any{"query": "parcel scales", "status": []string{"deprecated"}}); !slices.Equal(got, []string{"post/scales-deprecated"}) {
		t.Errorf("status deprecated: %v", got)
	}
	if got := names(map[string]any{"query": "parcel scales", "status": []string{"enabled", "deprecated"}}); len(got) != 2 {
		t.Errorf("status enabled and deprecated: %v", got)
	}
	res, err := admin.CallTool(t.Context(), &mcp.CallToolParams{Name: "search_registry",
		Arguments: map[string]any{"query": "parcel scales", "status": []string{"archived"}}})
	switch {
	case err != nil:
		if !strings.Contains(err.Error(), "status") {
			t.Errorf("unknown status refused without naming it: %v", err)
		}
	case !res.IsError:
		t.Errorf("unknown status accepted: %+v", res.StructuredContent)
	default:
		if txt := res.Content[0].(*mcp.TextContent).Text; !strings.Contains(txt, "status") {
			t.Errorf("unknown status refused without naming it: %s", txt)
		}
	}
}
