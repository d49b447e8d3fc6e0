package mcpgw.authz_test

import data.mcpgw.authz

# base is a data.mcpgw document in the shape authz/policy generates, but
# for the target index, which with_index derives the way the engine does.
base := {
	"scopes": {
		"finance-read": {
			"description": "read balances",
			"grants": [{
				"kind": "server", "server": "finance/ledger",
				"methods": ["tools/list", "tools/call"], "tools": ["get_balance"],
				"prompts": [], "resources": [],
			}],
			"publish": [],
		},
		"finance-write": {
			"description": "move money",
			"grants": [{
				"kind": "server", "server": "finance/*",
				"methods": ["tools/*"], "tools": ["transfer", "get_*"],
				"prompts": [], "resources": [],
			}],
			"publish": ["finance"],
		},
		"docs": {
			"description": "documentation servers",
			"grants": [
				{
					"kind": "server", "server": "docs/wiki",
					"methods": ["resources/*", "prompts/*", "completion/complete", "logging/setLevel"], "tools": [],
					"prompts": ["summarize"], "resources": ["wiki://public/*"],
				},
				{
					"kind": "server", "server": "docs/manuals",
					"methods": ["resources/read", "prompts/get"], "tools": [],
					"prompts": [], "resources": [],
				},
				{
					"kind": "skill", "server": "*-handbook",
					"methods": [], "tools": [],
					"prompts": [], "resources": [],
				},
			],
			"publish": ["docs", "team-*"],
		},
		"agents": {
			"description": "any virtual server and agent of the support team",
			"grants": [
				{
					"kind": "virtual", "server": "support",
					"methods": ["*"], "tools": ["*"],
					"prompts": [], "resources": [],
				},
				{
					"kind": "*", "server": "support/*",
					"methods": [], "tools": [],
					"prompts": [], "resources": [],
				},
				{
					"kind": "*", "server": "support",
					"methods": [], "tools": [],
					"prompts": [], "resources": [],
				},
			],
			"publish": [],
		},
		"reports": {
			"description": "machine reporting jobs",
			"grants": [{
				"kind": "server", "server": "finance/ledger",
				"methods": ["tools/call"], "tools": ["get_balance", "export"],
				"prompts": [], "resources": [],
			}],
			"publish": [],
		},
	},
	"groups": {
		"finance": {"": ["finance-read"]},
		"treasury": {"https://corp.example": ["finance-write"]},
		"writers": {"": ["docs"], "https://partner.example": ["agents"]},
	},
	"clients": {
		"report-job": {"https://hydra.example": ["reports"]},
		"any-issuer-job": {"": ["docs"]},
	},
	"admin_groups": {"mcpgw-admins": true},
	"admin_scope": "mcpgw-admin",
	"globs": {
		"finance/*": true, "tools/*": true, "get_*": true, "resources/*": true,
		"prompts/*": true, "wiki://public/*": true, "*": true, "support/*": true,
		"team-*": true, "*-handbook": true,
	},
}

fixture := with_index(base)

with_index(f) := object.union(f, {
	"targets": target_index(f),
	"glob_namespaces": {p: ns | some p, _ in f.globs; ns := literal_namespace(p)},
})

# target_index partitions grant references [scope, index] by server pattern:
# literal patterns by name, globs with a literal namespace by namespace, and
# the other globs.
target_index(f) := {"exact": exact, "by_namespace": by_namespace, "globs": others} if {
	refs := [[s, i, g.server] | some s, def in f.scopes; some i, g in def.grants]
	exact := {p: [[s, i] | some [s, i, q] in refs; q == p] |
		some [_, _, p] in refs
		not f.globs[p]
	}
	by_namespace := {ns: [[s, i] | some [s, i, q] in refs; f.globs[q]; literal_namespace(q) == ns] |
		some [_, _, p] in refs
		f.globs[p]
		ns := literal_namespace(p)
	}
	others := [[s, i] |
		some [s, i, p] in refs
		f.globs[p]
		not literal_namespace(p)
	]
}

literal_namespace(p) := ns if {
	ns := authz.namespace(p)
	not regex.match(`[*?\[\]{}\\]`, ns)
}

user(groups) := {"issuer": "https://corp.example", "subject": "alice", "client_id": "", "groups": groups, "scopes": []}

partner(groups) := object.union(user(groups), {"issuer": "https://partner.example"})

machine(client, issuer, scopes) := {"issuer": issuer, "subject": "", "client_id": client, "groups": [], "scopes": scopes}

req(principal, kind, server, method, name) := {
	"principal": principal,
	"target": {"kind": kind, "server": server, "version": ""},
	"mcp": {"method": method, "name": name, "arguments": {}, "http_method": "POST"},
}

call(principal, server, method, name) := req(principal, "server", server, method, name)

http(principal, server, verb) := {
	"principal": principal,
	"target": {"kind": "server", "server": server, "version": ""},
	"mcp": {"method": "", "name": "", "arguments": {}, "http_method": verb},
}

# The fixture is mocked key by key: "with data.mcpgw as ..." would also
# replace the rules under data.mcpgw (this package included).
decide_with(x, f) := d if {
	d := authz.decision with input as x
		with data.mcpgw.scopes as f.scopes
		with data.mcpgw.groups as f.groups
		with data.mcpgw.clients as f.clients
		with data.mcpgw.admin_groups as f.admin_groups
		with data.mcpgw.admin_scope as f.admin_scope
		with data.mcpgw.globs as f.globs
		with data.mcpgw.targets as f.targets
		with data.mcpgw.glob_namespaces as f.glob_namespaces
}

decide(x) := decide_with(x, fixture)

scopes_of(p) := s if {
	s := authz.effective_scopes with input as call(p, "x/y", "ping", "")
		with data.mcpgw.scopes as fixture.scopes
		with data.mcpgw.groups as fixture.groups
		with data.mcpgw.clients as fixture.clients
		with data.mcpgw.admin_groups as fixture.admin_groups
		with data.mcpgw.admin_scope as fixture.admin_scope
		with data.mcpgw.globs as fixture.globs
		with data.mcpgw.targets as fixture.targets
		with data.mcpgw.glob_namespaces as fixture.glob_namespaces
}

sources_of(p) := s if {
	s := authz.scope_sources with input as call(p, "x/y", "ping", "")
		with data.mcpgw.scopes as fixture.scopes
		with data.mcpgw.groups as fixture.groups
		with data.mcpgw.clients as fixture.clients
		with data.mcpgw.admin_groups as fixture.admin_groups
		with data.mcpgw.admin_scope as fixture.admin_scope
		with data.mcpgw.globs as fixture.globs
		with data.mcpgw.targets as fixture.targets
		with data.mcpgw.glob_namespaces as fixture.glob_namespaces
}

allowed(x) if decide(x).allow

# The acceptance contract: a finance user may call get_balance and is denied
# transfer with 403 and a challenge naming the scope that would allow it.
test_finance_user_calls_get_balance if {
	d := decide(call(user(["finance"]), "finance/ledger", "tools/call", "get_balance"))
	d.allow
	d.status == 200
	d.rule == "grant"
	d.scope == "finance-read"
	d.headers == {"x-mcpgw-subject": "alice"}
	contains(d.reason, `scope "finance-read" grant #0`)
}

test_finance_user_denied_transfer if {
	d := decide(call(user(["finance"]), "finance/ledger", "tools/call", "transfer"))
	not d.allow
	d.status == 403
	d.rule == "default_deny"
	d.required_scopes == ["finance-write"]
	d.headers["www-authenticate"] == `Bearer error="insufficient_scope", scope="finance-write"`
	contains(d.reason, `tools/call of "transfer" on server finance/ledger denied`)
	endswith(d.reason, `; scopes that would: ["finance-write"]`)
}

test_challenge_without_any_scope if {
	d := decide(call(user(["finance"]), "finance/ledger", "tools/call", "drop_tables"))
	d.status == 403
	d.required_scopes == []
	d.headers["www-authenticate"] == `Bearer error="insufficient_scope"`
	endswith(d.reason, `; no defined scope would (only "mcpgw-admin")`)
}

test_tools_list_needs_the_method if {
	allowed(call(user(["finance"]), "finance/ledger", "tools/list", ""))
	not allowed(call(user(["docs"]), "docs/wiki", "tools/list", ""))
	not allowed(call(machine("report-job", "https://hydra.example", []), "finance/ledger", "tools/list", ""))
}

test_unauthenticated_is_401 if {
	d := decide(call({"issuer": "", "subject": "", "client_id": "", "groups": ["mcpgw-admins"], "scopes": []}, "finance/ledger", "tools/list", ""))
	d.status == 401
	d.rule == "unauthenticated"
	d.headers == {"www-authenticate": "Bearer"}
}

test_default_deny_without_scopes if {
	d := decide(call(user([]), "finance/ledger", "tools/list", ""))
	d.status == 403
	d.scopes == []
	d.required_scopes == ["finance-read", "finance-write"]
}

# Session plumbing needs any grant on the target server, whatever its methods.
test_session_plumbing if {
	every m in ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover", "tasks/get"] {
		allowed(call(user(["finance"]), "finance/ledger", m, ""))
		not allowed(call(user(["finance"]), "finance/other", m, ""))
	}
	every verb in ["GET", "DELETE", "POST"] {
		allowed(http(user(["finance"]), "finance/ledger", verb))
		not allowed(http(user(["finance"]), "hr/payroll", verb))
	}
	not allowed(http(user(["finance"]), "finance/ledger", "PUT"))

	# a grant without any method still opens the session
	allowed(req(partner(["writers"]), "agent", "support/triage", "initialize", ""))
}

test_reason_texts if {
	d := decide(http(user(["finance"]), "finance/ledger", "GET"))
	d.reason == `HTTP GET on server finance/ledger allowed by scope "finance-read" grant #0 (server finance/ledger, methods ["tools/list", "tools/call"], tools ["get_balance"])`
	e := decide(call(user(["finance"]), "finance/ledger", "ping", ""))
	startswith(e.reason, "ping on server finance/ledger allowed")
}

test_glob_grants if {
	allowed(call(user(["treasury"]), "finance/ledger", "tools/call", "transfer"))
	allowed(call(user(["treasury"]), "finance/payments", "tools/call", "get_rates"))
	allowed(call(user(["treasury"]), "finance/payments", "tools/list", ""))
	not allowed(call(user(["treasury"]), "finance/ledger", "tools/call", "delete_account"))
	not allowed(call(user(["treasury"]), "finance/ledger", "resources/list", ""))
	not allowed(call(user(["treasury"]), "financeledger", "tools/call", "transfer"))
}

# A literal pattern is never treated as a glob even if it contains glob
# syntax: only patterns the engine lists in data.mcpgw.globs are.
test_literal_patterns_are_not_globs if {
	d := with_index(json.patch(base, [{"op": "replace", "path": "/globs", "value": {}}]))
	not decide_with(call(user(["treasury"]), "finance/ledger", "tools/call", "transfer"), d).allow
	decide_with(call(user(["treasury"]), "finance/*", "tools/*", "transfer"), d).allow
}

test_prompt_and_resource_filters if {
	docs := user(["writers"])
	allowed(call(docs, "docs/wiki", "prompts/get", "summarize"))
	not allowed(call(docs, "docs/wiki", "prompts/get", "translate"))
	allowed(call(docs, "docs/wiki", "resources/read", "wiki://public/handbook"))
	allowed(call(docs, "docs/wiki", "resources/subscribe", "wiki://public/news"))
	not allowed(call(docs, "docs/wiki", "resources/read", "wiki://private/salaries"))
	not allowed(call(docs, "docs/wiki", "resources/unsubscribe", "wiki://private/salaries"))

	# empty filters allow every name
	allowed(call(docs, "docs/manuals", "prompts/get", "anything"))
	allowed(call(docs, "docs/manuals", "resources/read", "file:///any"))
	not allowed(call(docs, "docs/manuals", "prompts/list", ""))
}

# completion/complete names the prompt or the resource (template) whose
# argument it completes; the grant's prompt or resource filter applies to it.
completion(principal, server, kind, name) := json.patch(call(principal, server, "completion/complete", name), [{"op": "add", "path": "/mcp/name_kind", "value": kind}])

test_completion_follows_prompt_and_resource_filters if {
	docs := user(["writers"])
	allowed(completion(docs, "docs/wiki", "prompt", "summarize"))
	not allowed(completion(docs, "docs/wiki", "prompt", "translate"))
	allowed(completion(docs, "docs/wiki", "resource", "wiki://public/{page}"))
	not allowed(completion(docs, "docs/wiki", "resource", "wiki://private/{page}"))
}

test_methods_without_names if {
	docs := user(["writers"])
	every m in ["resources/list", "resources/templates/list", "prompts/list", "completion/complete", "logging/setLevel"] {
		allowed(call(docs, "docs/wiki", m, ""))
	}
	not allowed(call(docs, "docs/wiki", "tools/call", "anything"))
	not allowed(call(docs, "docs/wiki", "sampling/createMessage", ""))
}

test_kinds if {
	w := partner(["writers"])
	allowed(req(w, "virtual", "support", "tools/call", "open_ticket"))
	not allowed(req(w, "server", "support", "tools/call", "open_ticket"))
	allowed(req(w, "skill", "support/runbooks", "ping", ""))
	allowed(req(w, "agent", "support", "ping", ""))
	allowed(req(user(["writers"]), "skill", "eng-handbook", "ping", ""))
	not allowed(req(user(["writers"]), "server", "eng-handbook", "ping", ""))

	# the kind "*" grant has no methods: plumbing only
	not allowed(req(w, "server", "support/runbooks", "tools/list", ""))
}

test_admin_group_allows_everything if {
	d := decide(call(user(["mcpgw-admins"]), "hr/payroll", "tools/call", "raise_salary"))
	d.allow
	d.rule == "admin"
	d.scope == "mcpgw-admin"
	d.scopes == ["mcpgw-admin"]
}

test_admin_token_scope if {
	allowed(call(machine("ops-bot", "https://hydra.example", ["mcpgw-admin"]), "hr/payroll", "tools/call", "x"))
}

test_admin_groups_are_configurable if {
	d := with_index(json.patch(base, [{"op": "replace", "path": "/admin_groups", "value": {"platform": true}}]))
	decide_with(call(user(["platform"]), "hr/payroll", "tools/list", ""), d).allow
	not decide_with(call(user(["mcpgw-admins"]), "hr/payroll", "tools/list", ""), d).allow
}

test_client_mappings_are_issuer_scoped if {
	good := machine("report-job", "https://hydra.example", [])
	d := decide(call(good, "finance/ledger", "tools/call", "export"))
	d.allow
	d.scope == "reports"
	d.headers == {"x-mcpgw-client-id": "report-job"}
	not allowed(call(machine("report-job", "https://other.example", []), "finance/ledger", "tools/call", "export"))

	# "" maps a client id of any issuer
	allowed(call(machine("any-issuer-job", "https://whoever.example", []), "docs/manuals", "prompts/get", "p"))
}

test_group_mappings_are_issuer_scoped if {
	allowed(call(user(["treasury"]), "finance/ledger", "tools/call", "transfer"))
	not allowed(call(partner(["treasury"]), "finance/ledger", "tools/call", "transfer"))

	# "writers" maps docs for every issuer and agents only for the partner
	scopes_of(user(["writers"])) == {"docs"}
	scopes_of(partner(["writers"])) == {"docs", "agents"}
}

test_token_scopes_name_defined_scopes if {
	bot := machine("unmapped", "https://hydra.example", ["openid", "finance-read", "profile"])
	scopes_of(bot) == {"finance-read"}
	allowed(call(bot, "finance/ledger", "tools/call", "get_balance"))
	not allowed(call(bot, "finance/ledger", "tools/call", "transfer"))
}

test_scope_sources if {
	p := {"issuer": "https://corp.example", "subject": "bob", "client_id": "report-job", "groups": ["finance", "mcpgw-admins"], "scopes": ["docs"]}
	sources_of(p) == {
		{"scope": "finance-read", "source": "group", "group": "finance", "issuer": ""},
		{"scope": "mcpgw-admin", "source": "admin_group", "group": "mcpgw-admins"},
		{"scope": "docs", "source": "token"},
	}
}

test_deny_rules_veto_every_grant if {
	d := decide(call(user(["mcpgw-admins"]), "hr/payroll", "tools/list", "")) with data.mcpgw.authz.deny as {"maintenance window", "freeze"}

	not d.allow
	d.status == 403
	d.rule == "deny"
	d.reason == "tools/list on server hr/payroll vetoed by a deny rule: freeze; maintenance window"
}

# The index the engine builds partitions patterns as the fixture shows.
test_target_index if {
	fixture.targets.exact["finance/ledger"] == [["finance-read", 0], ["reports", 0]]
	fixture.targets.by_namespace.finance == [["finance-write", 0]]
	fixture.targets.globs == [["docs", 2]]
}

# effective_scopes (on the request path) and scope_sources (for explanations)
# state the same sources twice: they must agree for every kind of caller.
test_scope_sources_agree_with_effective_scopes if {
	every p in [
		user([]),
		user(["finance", "treasury", "writers", "mcpgw-admins"]),
		partner(["writers", "treasury"]),
		machine("report-job", "https://hydra.example", ["docs", "openid", "mcpgw-admin"]),
		machine("report-job", "https://other.example", []),
		machine("any-issuer-job", "", ["finance-read"]),
	] {
		scopes_of(p) == {x.scope | some x in sources_of(p)}
	}
}
