package policy_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/authz/policy"
)

func TestDecide(t *testing.T) {
	// Invariant: a call is allowed exactly when a grant of the caller's
	// effective scopes (from issuer-matched group mappings, client mappings,
	// token scopes naming defined scopes, admin groups) matches the target
	// and the method (and, for tools/call, the tool); admins may do
	// everything; anything else is 403 naming the scopes that would allow it.
	e := newEngine(t, testData(t))
	partner := user("writers")
	partner.Issuer = "https://partner.example"
	tests := []struct {
		name     string
		in       policy.Input
		allow    bool
		status   int
		rule     string
		scope    string
		required []string
	}{
		{"acceptance: finance user calls get_balance", call(user("finance"), "finance/ledger", "tools/call", "get_balance"), true, 200, "grant", "finance-read", nil},
		{"acceptance: finance user denied transfer", call(user("finance"), "finance/ledger", "tools/call", "transfer"), false, 403, "default_deny", "", []string{"finance-write"}},
		{"acceptance: tools/list", call(user("finance"), "finance/ledger", "tools/list", ""), true, 200, "grant", "finance-read", nil},
		{"plumbing needs any grant on the server", call(user("finance"), "finance/ledger", "initialize", ""), true, 200, "grant", "finance-read", nil},
		{"plumbing elsewhere is denied", call(user("finance"), "hr/payroll", "initialize", ""), false, 403, "default_deny", "", nil},
		{"notifications", call(user("finance"), "finance/ledger", "notifications/initialized", ""), true, 200, "grant", "finance-read", nil},
		{"sse GET", policy.Input{Principal: user("finance"), Target: policy.Target{Server: "finance/ledger"}, MCP: policy.MCP{HTTPMethod: "GET"}}, true, 200, "grant", "finance-read", nil},
		{"session DELETE", policy.Input{Principal: user("finance"), Target: policy.Target{Server: "finance/ledger"}, MCP: policy.MCP{HTTPMethod: "DELETE"}}, true, 200, "grant", "finance-read", nil},
		{"method not granted", call(user("finance"), "finance/ledger", "resources/list", ""), false, 403, "default_deny", "", nil},
		{"glob server, method and tool", call(user("treasury"), "finance/payments", "tools/call", "get_rates"), true, 200, "grant", "finance-write", nil},
		{"group mapping of another issuer", call(policy.Principal{Issuer: "https://evil.example", Subject: "mallory", Groups: []string{"treasury"}}, "finance/ledger", "tools/call", "transfer"), false, 403, "default_deny", "", []string{"finance-write"}},
		{"any-issuer group mapping", call(policy.Principal{Issuer: "https://other.example", Subject: "bob", Groups: []string{"finance"}}, "finance/ledger", "tools/call", "get_balance"), true, 200, "grant", "finance-read", nil},
		{"prompt filter allows", call(user("writers"), "docs/wiki", "prompts/get", "summarize"), true, 200, "grant", "docs", nil},
		{"prompt filter denies", call(user("writers"), "docs/wiki", "prompts/get", "translate"), false, 403, "default_deny", "", nil},
		{"resource filter allows", call(user("writers"), "docs/wiki", "resources/read", "wiki://public/faq"), true, 200, "grant", "docs", nil},
		{"resource filter denies", call(user("writers"), "docs/wiki", "resources/read", "wiki://hr/salaries"), false, 403, "default_deny", "", nil},
		{"tool: prefix names a tool but tools/call is not granted", call(user("writers"), "docs/wiki", "tools/call", "search"), false, 403, "default_deny", "", nil},
		{"virtual server", policy.Input{Principal: partner, Target: policy.Target{Kind: policy.KindVirtual, Server: "support"}, MCP: policy.MCP{Method: "tools/call", Name: "open_ticket", HTTPMethod: "POST"}}, true, 200, "grant", "support", nil},
		{"virtual grant does not cover a server of the same name", call(partner, "support", "tools/call", "open_ticket"), false, 403, "default_deny", "", nil},
		{"client mapping", call(machine("https://hydra.example", "report-job"), "finance/ledger", "tools/call", "export"), true, 200, "grant", "reports", nil},
		{"client mapping of another issuer", call(machine("https://other.example", "report-job"), "finance/ledger", "tools/call", "export"), false, 403, "default_deny", "", []string{"reports"}},
		{"token scope naming a defined scope", call(machine("https://hydra.example", "bot", "openid", "finance-read"), "finance/ledger", "tools/call", "get_balance"), true, 200, "grant", "finance-read", nil},
		{"token scope naming nothing", call(machine("https://hydra.example", "bot", "openid", "finance"), "finance/ledger", "tools/call", "get_balance"), false, 403, "default_deny", "", []string{"finance-read", "finance-write", "reports"}},
		{"admin group", call(user("mcpgw-admins"), "hr/payroll", "tools/call", "raise"), true, 200, "admin", "mcpgw-admin", nil},
		{"admin token scope", call(machine("https://hydra.example", "ops", "mcpgw-admin"), "hr/payroll", "tools/call", "raise"), true, 200, "admin", "mcpgw-admin", nil},
		{"anonymous", call(policy.Principal{Groups: []string{"mcpgw-admins"}}, "finance/ledger", "tools/list", ""), false, 401, "unauthenticated", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(t.Context(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow || d.Status != tt.status || d.Rule != tt.rule || d.Scope != tt.scope {
				t.Fatalf("got allow=%t status=%d rule=%s scope=%q (%s), want allow=%t status=%d rule=%s scope=%q",
					d.Allow, d.Status, d.Rule, d.Scope, d.Reason, tt.allow, tt.status, tt.rule, tt.scope)
			}
			if tt.required == nil {
				tt.required = []string{}
			}
			if diff := cmp.Diff(tt.required, d.RequiredScopes); diff != "" {
				t.Errorf("required scopes (-want +got):\n%s", diff)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestDecideAcceptanceDetails(t *testing.T) {
	// Invariant: a denial carries the insufficient_scope challenge naming the
	// scopes that would allow the call; an allow carries identity headers and
	// a reason naming the scope and grant.
	e := newEngine(t, testData(t))
	deny, err := e.Decide(t.Context(), call(user("finance"), "finance/ledger", "tools/call", "transfer"))
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Decision{
		Allow:          false,
		Status:         403,
		Rule:           "default_deny",
		Reason:         `tools/call of "transfer" on server finance/ledger denied: no grant of scopes ["finance-read"] allows it; scopes that would: ["finance-write"]`,
		Scopes:         []string{"finance-read"},
		RequiredScopes: []string{"finance-write"},
		Headers:        map[string]string{"www-authenticate": `Bearer error="insufficient_scope", scope="finance-write"`},
	}
	if diff := cmp.Diff(want, deny); diff != "" {
		t.Errorf("deny (-want +got):\n%s", diff)
	}
	allow, err := e.Decide(t.Context(), call(user("finance"), "finance/ledger", "tools/call", "get_balance"))
	if err != nil {
		t.Fatal(err)
	}
	if allow.Headers["x-mcpgw-subject"] != "alice" || !strings.Contains(allow.Reason, `scope "finance-read" grant #0`) {
		t.Errorf("allow = %+v", allow)
	}
}

func TestDecideRepeatedUse(t *testing.T) {
	// Invariant: one prepared engine gives the same answer every time, for
	// interleaved callers and calls (the request path keeps no state).
	e := newEngine(t, testData(t))
	calls := []policy.Input{
		call(user("finance"), "finance/ledger", "tools/call", "get_balance"),
		call(user("finance"), "finance/ledger", "tools/call", "transfer"),
		call(machine("https://hydra.example", "report-job"), "finance/ledger", "tools/call", "export"),
		call(user("mcpgw-admins"), "x/y", "tools/call", "z"),
	}
	want := []bool{true, false, true, true}
	for round := range 50 {
		for i, in := range calls {
			d, err := e.Decide(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != want[i] {
				t.Fatalf("round %d call %d: allow=%t (%s)", round, i, d.Allow, d.Reason)
			}
		}
	}
}

func TestDecideInvalidInput(t *testing.T) {
	// Invariant: a malformed Input is ErrInvalidInput, never a decision.
	e := newEngine(t, testData(t))
	tests := []struct {
		name string
		in   policy.Input
	}{
		{"empty server", policy.Input{Principal: user("finance"), MCP: policy.MCP{Method: "ping"}}},
		{"unknown kind", policy.Input{Principal: user("finance"), Target: policy.Target{Kind: "agent", Server: "a/b"}, MCP: policy.MCP{Method: "ping"}}},
		{"no method at all", policy.Input{Principal: user("finance"), Target: policy.Target{Server: "a/b"}}},
		{"arguments that are not JSON", policy.Input{Principal: user("finance"), Target: policy.Target{Server: "a/b"}, MCP: policy.MCP{Method: "tools/call", Arguments: map[string]any{"f": func() {}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Decide(t.Context(), tt.in); !errors.Is(err, policy.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
		})
	}
}

func TestEffectiveScopes(t *testing.T) {
	// Invariant: effective scopes are the union of issuer-matched group
	// mappings, client mappings, defined token scopes and admin, sorted.
	e := newEngine(t, testData(t))
	tests := []struct {
		name string
		p    policy.Principal
		want []string
	}{
		{"nothing", user(), []string{}},
		{"groups of the corp issuer", user("finance", "treasury", "writers"), []string{"docs", "finance-read", "finance-write"}},
		{"partner issuer", policy.Principal{Issuer: "https://partner.example", Subject: "p", Groups: []string{"writers", "treasury"}}, []string{"docs", "support"}},
		{"client and token scopes", machine("https://hydra.example", "report-job", "docs", "email"), []string{"docs", "reports"}},
		{"admin group", user("mcpgw-admins"), []string{"mcpgw-admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.EffectiveScopes(t.Context(), tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func visibilityAssets() []policy.Asset {
	return []policy.Asset{
		{Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "transfer", "export"}},
		{Kind: "server", Name: "finance/payments", Tools: []string{"get_rates", "pay"}},
		{Kind: "server", Name: "hr/payroll", Tools: []string{"raise"}},
		{Kind: "server", Name: "public/clock", Visibility: "public", Tools: []string{"now"}},
		{Kind: "agent", Name: "support/triage"},
		{Kind: "virtual", Name: "support", Tools: []string{"open_ticket"}},
		{Kind: "skill", Name: "finance/ledger"},
		{Kind: "skill", Name: "eng-handbook"},
	}
}

func TestVisible(t *testing.T) {
	// Invariant: an asset is visible when a grant matches its kind and name,
	// when it is public, or to admins; its listed tools are exactly those the
	// caller may tools/call. Machine identities are filtered the same way.
	e := newEngine(t, testData(t))
	partner := user("writers")
	partner.Issuer = "https://partner.example"
	assets := visibilityAssets()
	tests := []struct {
		name string
		p    policy.Principal
		want []policy.VisibleAsset
	}{
		{"finance", user("finance"), []policy.VisibleAsset{
			{Index: 0, Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance"}},
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
		}},
		{"treasury globs", user("treasury"), []policy.VisibleAsset{
			{Index: 0, Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "transfer"}},
			{Index: 1, Kind: "server", Name: "finance/payments", Tools: []string{"get_rates"}},
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
		}},
		{"kinds", partner, []policy.VisibleAsset{
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
			{Index: 4, Kind: "agent", Name: "support/triage", Tools: []string{}},
			{Index: 5, Kind: "virtual", Name: "support", Tools: []string{"open_ticket"}},
			{Index: 7, Kind: "skill", Name: "eng-handbook", Tools: []string{}},
		}},
		{"machine", machine("https://hydra.example", "report-job"), []policy.VisibleAsset{
			{Index: 0, Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "export"}},
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
		}},
		{"general glob", user("writers"), []policy.VisibleAsset{
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
			{Index: 7, Kind: "skill", Name: "eng-handbook", Tools: []string{}},
		}},
		{"nobody", user(), []policy.VisibleAsset{
			{Index: 3, Kind: "server", Name: "public/clock", Tools: []string{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Visible(t.Context(), tt.p, assets)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The listed tools agree with Decide, tool by tool.
			for _, a := range got {
				for _, tool := range assets[a.Index].Tools {
					d, err := e.Decide(t.Context(), policy.Input{
						Principal: tt.p,
						Target:    policy.Target{Kind: a.Kind, Server: a.Name},
						MCP:       policy.MCP{Method: "tools/call", Name: tool, HTTPMethod: "POST"},
					})
					if err != nil {
						if a.Kind != policy.KindServer && a.Kind != policy.KindVirtual {
							continue // not callable through the gateway
						}
						t.Fatal(err)
					}
					if d.Allow != slices.Contains(a.Tools, tool) {
						t.Errorf("%s %s: decide allow=%t, visible tools %v", a.Name, tool, d.Allow, a.Tools)
					}
				}
			}
		})
	}

	admin, err := e.Visible(t.Context(), user("mcpgw-admins"), assets)
	if err != nil {
		t.Fatal(err)
	}
	if len(admin) != len(assets) || !slices.Equal(admin[2].Tools, []string{"raise"}) {
		t.Errorf("admin sees %+v", admin)
	}
}

func TestVisibilityDependsOnlyOnEffectiveScopes(t *testing.T) {
	// Invariant: Principal{Scopes: EffectiveScopes(p)} sees exactly what p
	// sees, so the registry may cache visibility per scope set.
	e := newEngine(t, testData(t))
	assets := visibilityAssets()
	for _, p := range []policy.Principal{
		user("finance", "treasury"), user("mcpgw-admins"), machine("https://hydra.example", "report-job", "docs"), user(),
	} {
		scopes, err := e.EffectiveScopes(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := e.Visible(t.Context(), p, assets)
		if err != nil {
			t.Fatal(err)
		}
		viaScopes, err := e.Visible(t.Context(), policy.Principal{Subject: "cache", Scopes: scopes}, assets)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(direct, viaScopes); diff != "" {
			t.Errorf("%+v (scopes %v) (-direct +via scopes):\n%s", p, scopes, diff)
		}
	}
}

func TestVisibleInReusesABatch(t *testing.T) {
	// Invariant: one AssetBatch evaluated for different callers, also
	// concurrently, gives each caller what Visible gives it.
	e := newEngine(t, testData(t))
	assets := visibilityAssets()
	batch, err := policy.NewAssetBatch(assets)
	if err != nil {
		t.Fatal(err)
	}
	if batch.Len() != len(assets) {
		t.Fatalf("Len = %d", batch.Len())
	}
	assets[0].Name = "mutated/after-batching" // the batch keeps its own copy
	callers := []policy.Principal{user("finance"), user("treasury"), user("mcpgw-admins"), machine("https://hydra.example", "report-job"), user()}
	want := make([][]policy.VisibleAsset, len(callers))
	for i, p := range callers {
		if want[i], err = e.Visible(t.Context(), p, visibilityAssets()); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, p := range callers {
				got, err := e.VisibleIn(t.Context(), p, batch)
				if err != nil {
					t.Error(err)
					return
				}
				if diff := cmp.Diff(want[i], got); diff != "" {
					t.Errorf("caller %d (-Visible +VisibleIn):\n%s", i, diff)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := policy.NewAssetBatch([]policy.Asset{{Name: "kindless"}}); !errors.Is(err, policy.ErrInvalidInput) {
		t.Fatalf("kindless asset: err = %v", err)
	}
}

func TestVisibleTools(t *testing.T) {
	// Invariant: the tools of one asset are those tools/call allows; an
	// invisible asset yields none.
	e := newEngine(t, testData(t))
	ledger := policy.Asset{Kind: "server", Name: "finance/ledger", Tools: []string{"get_balance", "transfer"}}
	got, err := e.VisibleTools(t.Context(), user("finance"), ledger)
	if err != nil || !slices.Equal(got, []string{"get_balance"}) {
		t.Fatalf("VisibleTools = %v, %v", got, err)
	}
	got, err = e.VisibleTools(t.Context(), user("writers"), ledger)
	if err != nil || got != nil {
		t.Fatalf("invisible asset: VisibleTools = %v, %v", got, err)
	}
	if _, err := e.VisibleTools(t.Context(), user(), policy.Asset{Kind: "server"}); !errors.Is(err, policy.ErrInvalidInput) {
		t.Fatalf("nameless asset: err = %v", err)
	}
}

func TestCanManage(t *testing.T) {
	// Invariant: catalog kinds are managed by admins and by scopes whose
	// publish globs cover the name's namespace; everything else is
	// admin-only.
	e := newEngine(t, testData(t))
	tests := []struct {
		name   string
		p      policy.Principal
		action policy.Action
		kind   string
		entry  string
		allow  bool
		status int
		rule   string
	}{
		{"publisher creates in namespace", user("treasury"), policy.ActionCreate, "server", "finance/fx", true, 200, "publish"},
		{"publisher deletes in namespace", user("treasury"), policy.ActionDelete, "agent", "finance/bot", true, 200, "publish"},
		{"publisher outside namespace", user("treasury"), policy.ActionUpdate, "server", "hr/payroll", false, 403, "default_deny"},
		{"reader is no publisher", user("finance"), policy.ActionCreate, "server", "finance/fx", false, 403, "default_deny"},
		{"scopes are admin-only", user("treasury"), policy.ActionCreate, "scope", "finance/new", false, 403, "default_deny"},
		{"admin manages scopes", user("mcpgw-admins"), policy.ActionDelete, "group_mapping", "finance", true, 200, "admin"},
		{"anonymous", policy.Principal{}, policy.ActionCreate, "server", "finance/fx", false, 401, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.CanManage(t.Context(), tt.p, tt.action, tt.kind, tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow || d.Status != tt.status || d.Rule != tt.rule {
				t.Fatalf("got allow=%t status=%d rule=%s (%s)", d.Allow, d.Status, d.Rule, d.Reason)
			}
		})
	}
	if _, err := e.CanManage(t.Context(), user("mcpgw-admins"), "read", "server", "a/b"); !errors.Is(err, policy.ErrInvalidInput) {
		t.Fatalf("read action: err = %v, want ErrInvalidInput", err)
	}
}

func TestExplain(t *testing.T) {
	// Invariant: the explanation embeds the decision Decide returns and
	// names, per grant, the check that failed.
	e := newEngine(t, testData(t))
	in := call(user("finance", "treasury"), "finance/ledger", "tools/call", "delete_account")
	ex, err := e.Explain(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, ex.Decision); diff != "" {
		t.Errorf("decision (-Decide +Explain):\n%s", diff)
	}
	wantGrants := []policy.GrantCheck{
		{
			Scope: "finance-read", Index: 0, Kind: "server", Server: "finance/ledger",
			Methods: []string{"tools/list", "tools/call"}, Tools: []string{"get_balance"}, Prompts: []string{}, Resources: []string{},
			Passed: []string{"kind", "server", "method"}, Failed: []string{"name"},
		},
		{
			Scope: "finance-write", Index: 0, Kind: "server", Server: "finance/*",
			Methods: []string{"tools/*"}, Tools: []string{"transfer", "get_*"}, Prompts: []string{}, Resources: []string{},
			Passed: []string{"kind", "server", "method"}, Failed: []string{"name"},
		},
	}
	if diff := cmp.Diff(wantGrants, ex.Grants); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	wantSources := []policy.ScopeSource{
		{Scope: "finance-read", Source: "group", Group: "finance"},
		{Scope: "finance-write", Source: "group", Group: "treasury", Issuer: "https://corp.example"},
	}
	if diff := cmp.Diff(wantSources, ex.ScopeSources); diff != "" {
		t.Errorf("scope sources (-want +got):\n%s", diff)
	}
	if len(ex.Trace) == 0 || !strings.Contains(strings.Join(ex.Trace, "\n"), "authz.rego") {
		t.Errorf("trace does not point into the policy: %q", ex.Trace)
	}
}

func TestSetDataRejectsInvalidData(t *testing.T) {
	// Invariant: invalid data is rejected with ErrInvalidData naming where
	// the problem is, and the previous data stays in force.
	tests := []struct {
		name  string
		data  policy.Data
		where string
	}{
		{"bad glob", policy.Data{Scopes: []policy.Scope{{Name: "s", Grants: []policy.Grant{{Server: "finance/[a-"}}}}}, "scopes[0](s).grants[0].server"},
		{"empty server", policy.Data{Scopes: []policy.Scope{{Name: "s", Grants: []policy.Grant{{Methods: []string{"*"}}}}}}, "grants[0].server"},
		{"unknown kind", policy.Data{Scopes: []policy.Scope{{Name: "s", Grants: []policy.Grant{{Kind: "mcp", Server: "*"}}}}}, "grants[0].kind"},
		{"scope name with a space", policy.Data{Scopes: []policy.Scope{{Name: "finance read"}}}, "scopes[0].name"},
		{"scope name with a quote", policy.Data{Scopes: []policy.Scope{{Name: `a"b`}}}, "scopes[0].name"},
		{"duplicate scope", policy.Data{Scopes: []policy.Scope{{Name: "s"}, {Name: "s"}}}, "scopes[1].name"},
		{"empty prefixed tool", policy.Data{Scopes: []policy.Scope{{Name: "s", Grants: []policy.Grant{{Server: "a/b", Tools: []string{"prompt:"}}}}}}, "grants[0].tools[0]"},
		{"bad method glob", policy.Data{Scopes: []policy.Scope{{Name: "s", Grants: []policy.Grant{{Server: "a/b", Methods: []string{"tools/{call"}}}}}}, "grants[0].methods[0]"},
		{"bad publish glob", policy.Data{Scopes: []policy.Scope{{Name: "s", Publish: []string{"["}}}}, "scopes[0].publish[0]"},
		{"empty group", policy.Data{GroupMappings: []policy.GroupMapping{{Scopes: []string{"s"}}}}, "group_mappings[0].group"},
		{"bad mapped scope", policy.Data{ClientMappings: []policy.ClientMapping{{Client: "c", Scopes: []string{""}}}}, "client_mappings[0].scopes[0]"},
		{"empty client", policy.Data{ClientMappings: []policy.ClientMapping{{Scopes: []string{"s"}}}}, "client_mappings[0].client"},
		{"empty admin group", policy.Data{AdminGroups: []string{""}}, "admin_groups[0]"},
		{"bad admin scope", policy.Data{AdminScope: "admin scope"}, "admin_scope"},
	}
	e := newEngine(t, testData(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gen := e.Generation()
			err := e.SetData(t.Context(), tt.data)
			if !errors.Is(err, policy.ErrInvalidData) || !strings.Contains(err.Error(), tt.where) {
				t.Fatalf("err = %v, want ErrInvalidData at %s", err, tt.where)
			}
			if e.Generation() != gen {
				t.Fatal("generation changed on rejected data")
			}
			d, err := e.Decide(t.Context(), call(user("finance"), "finance/ledger", "tools/call", "get_balance"))
			if err != nil || !d.Allow {
				t.Fatalf("previous data lost: %+v, %v", d, err)
			}
		})
	}
}

func TestGrantJSON(t *testing.T) {
	// Invariant: "name" is an alias of "server"; both must agree when given.
	g := mustJSON[policy.Grant](t, `{"name":"finance/*","methods":["*"]}`)
	if g.Server != "finance/*" {
		t.Fatalf("alias: %+v", g)
	}
	g = mustJSON[policy.Grant](t, `{"server":"a/b","name":"a/b"}`)
	if g.Server != "a/b" {
		t.Fatalf("agreeing alias: %+v", g)
	}
	var bad policy.Grant
	if err := bad.UnmarshalJSON([]byte(`{"server":"a/b","name":"c/d"}`)); !errors.Is(err, policy.ErrInvalidData) {
		t.Fatalf("disagreeing alias: err = %v", err)
	}
	if err := bad.UnmarshalJSON([]byte(`[]`)); err == nil {
		t.Fatal("array accepted as a grant")
	}
}

func TestAdminDefaults(t *testing.T) {
	// Invariant: nil AdminGroups means mcpgw-admins, an empty list means no
	// admin group, and AdminScope renames the admin scope.
	d := testData(t)
	d.AdminGroups = []string{}
	d.AdminScope = "root"
	e := newEngine(t, d)
	dec, err := e.Decide(t.Context(), call(user("mcpgw-admins"), "hr/payroll", "tools/list", ""))
	if err != nil || dec.Allow {
		t.Fatalf("mcpgw-admins still admin: %+v, %v", dec, err)
	}
	dec, err = e.Decide(t.Context(), call(machine("https://hydra.example", "ops", "root"), "hr/payroll", "tools/list", ""))
	if err != nil || !dec.Allow || dec.Scope != "root" {
		t.Fatalf("renamed admin scope: %+v, %v", dec, err)
	}
}
