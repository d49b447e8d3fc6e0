package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/toolserver"
	"github.com/mcpgw/mcpgw/test/tssdk"
)

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

func TestRegistryToolsAnswerPerCaller(t *testing.T) {
	// Invariant: in both protocol revisions, every airegistry-tools answer is the caller's own: a finance user and
	// an HR user list, search, get and read different assets, a server's tools are cut to those the caller may call,
	// and an asset the caller may not see is "not found" exactly like one that does not exist.
	e := newMCPEnv(t)
	for _, rev := range revisions {
		t.Run(rev.name, func(t *testing.T) {
			fin := e.connect(t, toolserver.Path, e.token(t, "carol", "finance"), rev.ask, nil)
			hr := e.connect(t, toolserver.Path, e.token(t, "dave", "hr"), rev.ask, nil)
			if got := fin.InitializeResult().ProtocolVersion; got != rev.want {
				t.Fatalf("negotiated %q, want %q", got, rev.want)
			}

			var tl *mcp.ListToolsResult
			tl, err := fin.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"find_tool", "get_server", "get_skill_content", "list_agents", "list_servers", "list_skills", "search_registry"}
			if got := names(tl.Tools, func(x *mcp.Tool) string { return x.Name }); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
				t.Fatalf("tools %v", got)
			}

			var fs, hs toolserver.ListServersOut
			call(t, fin, "list_servers", nil, &fs)
			call(t, hr, "list_servers", nil, &hs)
			srvName := func(s toolserver.ServerSummary) string { return s.Name }
			if got := names(fs.Servers, srvName); !slices.Equal(got, []string{"finance/ledger", "tools/weather"}) {
				t.Errorf("finance lists servers %v", got)
			}
			if got := names(hs.Servers, srvName); !slices.Equal(got, []string{"hr/people", "tools/weather"}) {
				t.Errorf("hr lists servers %v", got)
			}
			if l := fs.Servers[0]; !slices.Equal(slices.Sorted(slices.Values(l.Tools)), []string{"export_statement", "get_balance"}) ||
				l.Endpoint != publicURL+"/mcp/finance/ledger" || l.Version != "1.0.0" || l.Transport != "streamable-http" {
				t.Errorf("ledger summary for finance: %+v", l)
			}

			var fr, hrr toolserver.SearchOut
			call(t, fin, "search_registry", map[string]any{"query": "employee directory"}, &fr)
			call(t, hr, "search_registry", map[string]any{"query": "employee directory"}, &hrr)
			resName := func(r toolserver.SearchResult) string { return r.Name }
			if slices.Contains(names(fr.Results, resName), "hr/people") {
				t.Errorf("finance found hr/people: %v", names(fr.Results, resName))
			}
			if len(hrr.Results) == 0 || hrr.Results[0].Name != "hr/people" || hrr.Results[0].Endpoint != publicURL+"/mcp/hr/people" {
				t.Errorf("hr search: %+v", hrr.Results)
			}
			if hrr.Mode != "hybrid" {
				t.Errorf("mode %q: the vectors were flushed, dense ranking should take part", hrr.Mode)
			}

			var got map[string]any
			call(t, fin, "get_server", map[string]any{"name": "finance/ledger"}, &got)
			vers := got["versions"].([]any)
			tools := vers[0].(map[string]any)["tools"].([]any)
			if len(tools) != 2 || got["name"] != "finance/ledger" {
				t.Errorf("get_server finance/ledger for finance: %d tools, %v", len(tools), got["name"])
			}
			for _, c := range []struct{ cs *mcp.ClientSession }{{fin}} {
				hidden := call(t, c.cs, "get_server", map[string]any{"name": "hr/people"}, nil)
				absent := call(t, c.cs, "get_server", map[string]any{"name": "hr/nobody"}, nil)
				if !hidden.IsError || !absent.IsError || text(hidden) != `server "hr/people" not found` ||
					strings.Replace(text(absent), "nobody", "people", 1) != text(hidden) {
					t.Errorf("invisible %v %q vs absent %v %q", hidden.IsError, text(hidden), absent.IsError, text(absent))
				}
			}

			var fa, ha toolserver.ListAgentsOut
			call(t, fin, "list_agents", nil, &fa)
			call(t, hr, "list_agents", nil, &ha)
			agName := func(a toolserver.AgentSummary) string { return a.Name }
			if g := names(fa.Agents, agName); !slices.Equal(g, []string{"finance/invoice-agent"}) || fa.Agents[0].Skills[0].ID != "reconcile" {
				t.Errorf("finance agents %+v", fa.Agents)
			}
			if g := names(ha.Agents, agName); !slices.Equal(g, []string{"hr/onboarding-agent"}) {
				t.Errorf("hr agents %v", g)
			}

			var fsk, hsk toolserver.ListSkillsOut
			call(t, fin, "list_skills", nil, &fsk)
			call(t, hr, "list_skills", nil, &hsk)
			skName := func(s toolserver.SkillSummary) string { return s.Name }
			if g := names(fsk.Skills, skName); !slices.Equal(g, []string{"finance/expense-report"}) {
				t.Errorf("finance skills %v", g)
			}
			if g := names(hsk.Skills, skName); !slices.Equal(g, []string{"hr/onboarding-checklist"}) {
				t.Errorf("hr skills %v", g)
			}

			var sc toolserver.SkillContentOut
			res := call(t, fin, "get_skill_content", map[string]any{"name": "finance/expense-report"}, &sc)
			if sc.Content != expenseSkill || sc.FrontMatter.Name != "expense-report" || text(res) != expenseSkill {
				t.Errorf("get_skill_content: %+v, text %q", sc, text(res))
			}
			if res := call(t, hr, "get_skill_content", map[string]any{"name": "finance/expense-report"}, nil); !res.IsError ||
				text(res) != `skill "finance/expense-report" not found` {
				t.Errorf("hr reads the finance skill: %v %q", res.IsError, text(res))
			}
		})
	}
}

func TestFindToolRanksTheRightToolFirst(t *testing.T) {
	// Invariant: find_tool puts the tool that does the need first, names the server that has it with its gateway
	// endpoint and arguments, and never offers a tool the caller may not call.
	e := newMCPEnv(t)
	admin := e.connect(t, toolserver.Path, e.token(t, "root", "mcpgw-admins"), "", nil)
	fin := e.connect(t, toolserver.Path, e.token(t, "carol", "finance"), "", nil)
	for _, c := range []struct {
		cs           *mcp.ClientSession
		need         string
		tool, server string
	}{
		{admin, "what is the current balance of an account", "get_balance", "finance/ledger"},
		{admin, "move money from one account to another", "transfer", "finance/ledger"},
		{admin, "look up an employee by their name", "find_employee", "hr/people"},
		{admin, "weather forecast for Paris tomorrow", "get_forecast", "tools/weather"},
		{fin, "what is the current balance of an account", "get_balance", "finance/ledger"},
	} {
		var out toolserver.FindToolOut
		call(t, c.cs, "find_tool", map[string]any{"need": c.need}, &out)
		if len(out.Tools) == 0 || out.Tools[0].Tool != c.tool || out.Tools[0].Server != c.server {
			t.Errorf("%q: %+v", c.need, out.Tools)
			continue
		}
		top := out.Tools[0]
		if top.Endpoint != publicURL+"/mcp/"+c.server || top.Description == "" || top.Score <= 0 || top.Score > 1 {
			t.Errorf("%q: top result %+v", c.need, top)
		}
	}
	var out toolserver.FindToolOut
	call(t, fin, "find_tool", map[string]any{"need": "move money from one account to another", "limit": 20}, &out)
	for _, ft := range out.Tools {
		if ft.Tool == "transfer" || ft.Server == "hr/people" {
			t.Errorf("finance was offered %s on %s", ft.Tool, ft.Server)
		}
	}
	if len(out.Tools) > 0 {
		if p, _ := out.Tools[0].InputSchema["properties"].(map[string]any); out.Tools[0].Tool == "get_balance" && p["account"] == nil {
			t.Errorf("get_balance without its arguments: %+v", out.Tools[0])
		}
	}
}

func TestRegistryToolsRefuseBadArguments(t *testing.T) {
	// Invariant: a bad argument is an isError result that names the argument, an unknown tool a JSON-RPC error;
	// neither ends the session.
	e := newMCPEnv(t)
	cs := e.connect(t, toolserver.Path, e.token(t, "carol", "finance"), "2025-11-25", nil)
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"search_registry", map[string]any{"query": "ledger", "types": []any{"bogus"}}, "types"},
		{"search_registry", map[string]any{"query": "   "}, "query"},
		{"search_registry", map[string]any{"query": "ledger", "limit": 1000}, "limit"},
		{"search_registry", map[string]any{}, "query"},
		{"find_tool", map[string]any{"need": ""}, "need"},
		{"find_tool", map[string]any{"need": "balance", "limit": 50}, "limit"},
		{"get_server", map[string]any{"name": "no-slash"}, "namespace/name"},
		{"list_servers", map[string]any{"cursor": "not-a-cursor"}, "cursor"},
		{"list_servers", map[string]any{"namespace": "a/b"}, "namespace"},
		{"list_servers", map[string]any{"unknown": 1}, "unknown"},
	} {
		res := call(t, cs, c.tool, c.args, nil)
		if !res.IsError || !strings.Contains(text(res), c.want) {
			t.Errorf("%s %v: isError %v, %q (want it to mention %q)", c.tool, c.args, res.IsError, text(res), c.want)
		}
	}
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "drop_tables", Arguments: map[string]any{}})
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("unknown tool: %v", err)
	}
	var page toolserver.ListServersOut
	call(t, cs, "list_servers", map[string]any{"limit": 1}, &page)
	if len(page.Servers) != 1 || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	var next toolserver.ListServersOut
	call(t, cs, "list_servers", map[string]any{"limit": 1, "cursor": page.NextCursor}, &next)
	if len(next.Servers) != 1 || next.Servers[0].Name == page.Servers[0].Name || next.NextCursor != "" {
		t.Errorf("second page after %s: %+v", page.Servers[0].Name, next)
	}
}

func TestRegistryToolsNeedAToken(t *testing.T) {
	// Invariant: the endpoint answers nothing without a valid bearer token (401 with a Bearer challenge).
	e := newMCPEnv(t)
	req, _ := http.NewRequest(http.MethodPost, e.url+toolserver.Path,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// tsCaller is what registry/toolserver/testdata/ts/registry_tools.mjs prints per caller.
type tsCaller struct {
	ProtocolVersion string   `json:"protocolVersion"`
	SessionID       string   `json:"sessionId"`
	Tools           []string `json:"tools"`
	Search          []string `json:"search"`
	Servers         []string `json:"servers"`
	GetServer       struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"getServer"`
}

func TestRegistryToolsTypeScriptSDK(t *testing.T) {
	// Invariant: the official TypeScript SDK (the version pinned in test/e2e/ts) gets a 2025-11-25 session from the
	// airegistry-tools server, the seven tools, and per-caller answers: the HR user finds and lists hr/people, the
	// finance user neither finds nor lists it and gets "not found" for it.
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	node, tsHome := tssdk.Node(t)
	e := newMCPEnv(t)
	tokens, _ := json.Marshal(map[string]string{"finance": e.token(t, "carol", "finance"), "hr": e.token(t, "dave", "hr")})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "registry", "toolserver", "testdata", "ts", "registry_tools.mjs"))
	cmd.Env = append(os.Environ(), "MCP_URL="+e.url+toolserver.Path, "MCP_TOKENS="+string(tokens), "MCP_TS_HOME="+tsHome)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var out map[string]tsCaller
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("decode %s: %v", stdout, err)
	}
	want := []string{"find_tool", "get_server", "get_skill_content", "list_agents", "list_servers", "list_skills", "search_registry"}
	for name, c := range out {
		if c.ProtocolVersion != "2025-11-25" || c.SessionID == "" || !slices.Equal(c.Tools, want) {
			t.Errorf("%s: revision %q session %q tools %v", name, c.ProtocolVersion, c.SessionID, c.Tools)
		}
	}
	fin, hr := out["finance"], out["hr"]
	if slices.Contains(fin.Search, "hr/people") || slices.Contains(fin.Servers, "hr/people") ||
		!fin.GetServer.IsError || fin.GetServer.Text != `server "hr/people" not found` {
		t.Errorf("finance: %+v", fin)
	}
	if len(hr.Search) == 0 || hr.Search[0] != "hr/people" || !slices.Contains(hr.Servers, "hr/people") || hr.GetServer.IsError {
		t.Errorf("hr: %+v", hr)
	}
}
