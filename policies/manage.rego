# mcpgw management permissions.
#
# Who may create, update and delete catalog entries and governance data.
# data.mcpgw.authz.manage answers input {principal, manage: {action, kind,
# name}}. Reads are not decided here: they follow visibility.
package mcpgw.authz

# Kinds a publisher scope may manage inside its namespaces. Every other kind
# (scope, group_mapping, client_mapping, entity_type, policy, ...) is
# admin-only.
publisher_kinds := {"server", "agent", "skill", "entity", "virtual"}

manage_actions := {"create", "update", "delete"}

manage_text := sprintf("%s of %s %q", [input.manage.action, input.manage.kind, input.manage.name])

# publish_scopes are the scopes (of all defined ones) whose publish globs
# cover the entry's namespace. A name without a namespace ("x", "/x") has no
# publisher: only admins manage it.
publish_scopes contains s if {
	publisher_kinds[input.manage.kind]
	ns := namespace(input.manage.name)
	some s, def in data.mcpgw.scopes
	some p in def.publish
	pattern_matches(p, ns)
}

# The caller's scopes among them.
publishing contains s if {
	some s in publish_scopes
	s in effective_scopes
}

manage := {
	"allow": false,
	"status": 401,
	"rule": "unauthenticated",
	"reason": "no authenticated subject or client id",
	"scope": "",
	"scopes": [],
	"required_scopes": [],
	"headers": {"www-authenticate": "Bearer"},
} if {
	not authenticated
} else := {
	"allow": false,
	"status": 400,
	"rule": "invalid_action",
	"reason": sprintf("unknown management action %q", [input.manage.action]),
	"scope": "",
	"scopes": sorted_scopes,
	"required_scopes": [],
	"headers": {},
} if {
	not manage_actions[input.manage.action]
} else := {
	"allow": true,
	"status": 200,
	"rule": "admin",
	"reason": sprintf("%s allowed: admin scope %q may manage everything", [manage_text, data.mcpgw.admin_scope]),
	"scope": data.mcpgw.admin_scope,
	"scopes": sorted_scopes,
	"required_scopes": [],
	"headers": {},
} if {
	is_admin
} else := {
	"allow": true,
	"status": 200,
	"rule": "publish",
	"reason": sprintf("%s allowed: scope %q may publish in namespace %q", [manage_text, s, namespace(input.manage.name)]),
	"scope": s,
	"scopes": sorted_scopes,
	"required_scopes": [],
	"headers": {},
} if {
	s := sort(publishing)[0]
} else := {
	"allow": false,
	"status": 403,
	"rule": "default_deny",
	"reason": sprintf("%s denied: %s", [manage_text, manage_denial]),
	"scope": "",
	"scopes": sorted_scopes,
	"required_scopes": sort(publish_scopes),
	"headers": {},
}

manage_denial := sprintf("%s is admin-only (scope %q)", [input.manage.kind, data.mcpgw.admin_scope]) if {
	not publisher_kinds[input.manage.kind]
} else := sprintf("name %q has no namespace; only admins (scope %q) may manage it", [input.manage.name, data.mcpgw.admin_scope]) if {
	not namespace(input.manage.name)
} else := sprintf("no scope of %v publishes in namespace %q; scopes that do: %v", [
	sorted_scopes,
	namespace(input.manage.name),
	sort(publish_scopes),
]) if {
	count(publish_scopes) > 0
} else := sprintf("no scope of %v publishes in namespace %q, and no defined scope does (only %q)", [
	sorted_scopes,
	namespace(input.manage.name),
	data.mcpgw.admin_scope,
])
