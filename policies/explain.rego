# mcpgw decision explanation.
#
# data.mcpgw.authz.why explains data.mcpgw.authz.decision for the same
# input: where each scope of the caller comes from, and for every grant of
# those scopes which of its four checks (kind, server, method, name) passed.
# It is built from the same rules the decision uses, so it cannot disagree
# with it. mcpctl authz explain prints it.
package mcpgw.authz

grant_checks := ["kind", "server", "method", "name"]

# scope_sources restates effective_scopes (authz.rego) with the origin of
# each scope, so that an explanation names the mapping that granted it.
scope_sources contains {"scope": s, "source": "group", "group": g, "issuer": iss} if {
	some g in input.principal.groups
	some iss in {input.principal.issuer, ""}
	some s in data.mcpgw.groups[g][iss]
}

scope_sources contains {"scope": s, "source": "client", "client": c, "issuer": iss} if {
	c := input.principal.client_id
	some iss in {input.principal.issuer, ""}
	some s in data.mcpgw.clients[c][iss]
}

scope_sources contains {"scope": s, "source": "token"} if {
	some s in input.principal.scopes
	defined_scope(s)
}

scope_sources contains {"scope": data.mcpgw.admin_scope, "source": "admin_group", "group": g} if {
	some g in input.principal.groups
	data.mcpgw.admin_groups[g]
}

defined_scope(s) if data.mcpgw.scopes[s]

defined_scope(s) if s == data.mcpgw.admin_scope

why := {
	"decision": decision,
	"scope_sources": sort(scope_sources),
	"grants": [explain_grant(s, i, g) | some [s, i, g] in sort(principal_grants)],
	"vetoes": sort(vetoes),
	"required_scopes": sort(required_scopes),
	"admin": is_admin_bool,
}

default is_admin_bool := false

is_admin_bool if is_admin

explain_grant(s, i, g) := {
	"scope": s,
	"index": i,
	"grant": g,
	"passed": [c | some c in grant_checks; grant_check(c, g, call)],
	"failed": failed,
	"allows": count(failed) == 0,
} if {
	failed := [c | some c in grant_checks; not grant_check(c, g, call)]
}
