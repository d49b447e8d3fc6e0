package mcpgw.authz_test

import data.mcpgw.authz

manage_as(p, action, kind, name) := d if {
	d := authz.manage with input as {"principal": p, "manage": {"action": action, "kind": kind, "name": name}}
		with data.mcpgw.scopes as fixture.scopes
		with data.mcpgw.groups as fixture.groups
		with data.mcpgw.clients as fixture.clients
		with data.mcpgw.admin_groups as fixture.admin_groups
		with data.mcpgw.admin_scope as fixture.admin_scope
		with data.mcpgw.globs as fixture.globs
		with data.mcpgw.targets as fixture.targets
		with data.mcpgw.glob_namespaces as fixture.glob_namespaces
}

# A publisher scope manages catalog entries only inside its namespaces; scope
# and mapping management is admin-only; admins manage everything.
test_publisher_manages_its_namespace if {
	every action in ["create", "update", "delete"] {
		d := manage_as(user(["treasury"]), action, "server", "finance/ledger")
		d.allow
		d.rule == "publish"
		d.scope == "finance-write"
	}
	manage_as(user(["writers"]), "create", "agent", "team-blue/helper").allow
	manage_as(user(["writers"]), "create", "skill", "docs/pdf").allow
}

test_publisher_denied_elsewhere if {
	d := manage_as(user(["treasury"]), "create", "server", "hr/payroll")
	not d.allow
	d.status == 403
	d.required_scopes == []
	contains(d.reason, `no scope of ["finance-write"] publishes in namespace "hr", and no defined scope does (only "mcpgw-admin")`)

	e := manage_as(user(["finance"]), "update", "server", "finance/ledger")
	not e.allow
	e.required_scopes == ["finance-write"]
	contains(e.reason, `publishes in namespace "finance"; scopes that do: ["finance-write"]`)
}

test_governance_is_admin_only if {
	every kind in ["scope", "group_mapping", "client_mapping", "entity_type"] {
		d := manage_as(user(["treasury"]), "create", kind, "finance/x")
		not d.allow
		d.status == 403
		contains(d.reason, "admin-only")
	}
	manage_as(user(["mcpgw-admins"]), "delete", "scope", "finance-read").allow
	manage_as(user(["mcpgw-admins"]), "create", "server", "anything/at-all").rule == "admin"
}

test_names_without_namespace_are_admin_only if {
	d := manage_as(user(["treasury"]), "create", "skill", "finance")
	not d.allow
	contains(d.reason, "has no namespace")
	not manage_as(user(["treasury"]), "create", "skill", "/finance").allow
}

test_manage_rejects_unknown_actions_and_anonymous if {
	d := manage_as(user(["mcpgw-admins"]), "read", "server", "finance/ledger")
	d.status == 400
	d.rule == "invalid_action"

	a := manage_as({"issuer": "", "subject": "", "client_id": "", "groups": [], "scopes": []}, "create", "server", "finance/x")
	a.status == 401
}
