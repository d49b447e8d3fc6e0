package mcpgw.authz_test

import data.mcpgw.authz

why_for(x) := w if {
	w := authz.why with input as x
		with data.mcpgw.scopes as fixture.scopes
		with data.mcpgw.groups as fixture.groups
		with data.mcpgw.clients as fixture.clients
		with data.mcpgw.admin_groups as fixture.admin_groups
		with data.mcpgw.admin_scope as fixture.admin_scope
		with data.mcpgw.globs as fixture.globs
		with data.mcpgw.targets as fixture.targets
		with data.mcpgw.glob_namespaces as fixture.glob_namespaces
}

# The explanation embeds the very decision and reports, per grant of the
# caller, which checks failed: a grant allows exactly when none failed.
test_why_names_the_failed_check if {
	x := call(user(["finance", "treasury"]), "finance/ledger", "tools/call", "delete_account")
	w := why_for(x)
	w.decision == decide(x)
	w.admin == false
	w.grants == [
		{
			"scope": "finance-read", "index": 0, "grant": fixture.scopes["finance-read"].grants[0],
			"passed": ["kind", "server", "method"], "failed": ["name"], "allows": false,
		},
		{
			"scope": "finance-write", "index": 0, "grant": fixture.scopes["finance-write"].grants[0],
			"passed": ["kind", "server", "method"], "failed": ["name"], "allows": false,
		},
	]
	w.scope_sources == [
		{"scope": "finance-read", "source": "group", "group": "finance", "issuer": ""},
		{"scope": "finance-write", "source": "group", "group": "treasury", "issuer": "https://corp.example"},
	]
	w.required_scopes == []
}

test_why_for_an_allowed_call if {
	x := call(user(["writers"]), "docs/wiki", "tools/list", "")
	w := why_for(x)
	not w.decision.allow
	[g.failed | some g in w.grants] == [["method"], ["server", "method"], ["kind", "server", "method"]]
	y := call(user(["writers"]), "docs/manuals", "prompts/get", "p")
	[g.allows | some g in why_for(y).grants] == [false, true, false]
}

test_why_for_admin if {
	w := why_for(call(user(["mcpgw-admins"]), "hr/payroll", "tools/call", "x"))
	w.admin == true
	w.decision.rule == "admin"
	w.grants == []
}
