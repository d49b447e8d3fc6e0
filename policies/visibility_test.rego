package mcpgw.authz_test

import data.mcpgw.authz

assets := [
	{"kind": "server", "name": "finance/ledger", "visibility": "", "tools": ["get_balance", "transfer", "export"]},
	{"kind": "server", "name": "finance/payments", "visibility": "", "tools": ["get_rates", "pay"]},
	{"kind": "server", "name": "hr/payroll", "visibility": "", "tools": ["raise_salary"]},
	{"kind": "server", "name": "public/time", "visibility": "public", "tools": ["now"]},
	{"kind": "agent", "name": "support/triage", "visibility": "", "tools": []},
	{"kind": "virtual", "name": "support", "visibility": "", "tools": ["open_ticket"]},
	{"kind": "skill", "name": "finance/ledger", "visibility": "", "tools": []},
	{"kind": "skill", "name": "eng-handbook", "visibility": "", "tools": []},
	{"kind": "agent", "name": "support", "visibility": "", "tools": []},
]

# assets_input builds the visibility input as the engine does: the assets
# and their positions grouped by name, namespace and visibility.
assets_input(p, list) := {
	"principal": p,
	"assets": list,
	"index": {
		"names": {n: [i | some i, a in list; a.name == n] | some a in list; n := a.name},
		"namespaces": {ns: [i | some i, a in list; authz.namespace(a.name) == ns] | some a in list; ns := authz.namespace(a.name)},
		"visibility": {v: [i | some i, a in list; a.visibility == v] | some a in list; v := a.visibility},
	},
}

visible_to(p) := v if {
	v := authz.visible with input as assets_input(p, assets)
		with data.mcpgw.scopes as fixture.scopes
		with data.mcpgw.groups as fixture.groups
		with data.mcpgw.clients as fixture.clients
		with data.mcpgw.admin_groups as fixture.admin_groups
		with data.mcpgw.admin_scope as fixture.admin_scope
		with data.mcpgw.globs as fixture.globs
		with data.mcpgw.targets as fixture.targets
		with data.mcpgw.glob_namespaces as fixture.glob_namespaces
}

# An asset is listed when a grant matches its kind and name (or it is public),
# and its tools are exactly those the caller may tools/call.
test_visible_for_finance if {
	visible_to(user(["finance"])) == {
		0: ["get_balance"],
		3: [],
	}
}

test_visible_with_globs if {
	visible_to(user(["treasury"])) == {
		0: ["get_balance", "transfer"],
		1: ["get_rates"],
		3: [],
	}
}

test_visible_kinds if {
	visible_to(partner(["writers"])) == {
		3: [],
		4: [],
		5: ["open_ticket"],
		7: [],
		8: [],
	}
}

test_visible_tools_agree_with_decisions if {
	p := user(["treasury"])
	v := visible_to(p)
	every i, a in assets {
		every t in a.tools {
			listed := t in object.get(v, i, [])
			decide(req(p, a.kind, a.name, "tools/call", t)).allow == listed
		}
	}
}

test_visible_for_admin if {
	v := visible_to(user(["mcpgw-admins"]))
	count(v) == count(assets)
	v[2] == ["raise_salary"]
}

test_visible_for_nobody_but_public if {
	visible_to(user([])) == {3: []}
}

test_machine_identities_are_filtered_the_same_way if {
	visible_to(machine("report-job", "https://hydra.example", [])) == {
		0: ["get_balance", "export"],
		3: [],
	}
}
