# mcpgw discovery visibility.
#
# Which catalog assets, and which tools inside them, a caller may see. The
# registry evaluates data.mcpgw.authz.visible once for a whole batch of
# assets (input.assets) per distinct scope set and caches the answer.
package mcpgw.authz

# visible maps the position of every asset in input.assets the caller may see
# to the tools of that asset the caller may call: a tool is listed exactly
# when tools/call of it would be allowed.
visible[i] := [t | some t in input.assets[i].tools; [i, t] in callable_tools] if {
	some i in visible_positions
}

# The engine sends input.index, the asset positions grouped by name,
# namespace (the text before the first "/") and visibility. The rules below
# start from the caller's grants and look assets up, so a restricted caller
# costs in proportion to what it may see, not to the catalog; only a grant
# whose glob is not confined to a namespace ("*", "*-internal") scans every
# asset.
#
# grant_hits are [position, scope, grant index] for each of the caller's
# grants and each asset it targets (kind and server pattern match, as in
# grant_check "kind" and "server").
grant_hits contains [i, s, gi] if {
	some [s, gi, g] in principal_grants
	not data.mcpgw.globs[g.server]
	some i in input.index.names[g.server]
	kind_matches(g.kind, input.assets[i].kind)
}

grant_hits contains [i, s, gi] if {
	some [s, gi, g] in principal_grants
	ns := data.mcpgw.glob_namespaces[g.server]
	some i in input.index.namespaces[ns]
	a := input.assets[i]
	kind_matches(g.kind, a.kind)
	glob.match(g.server, null, a.name)
}

grant_hits contains [i, s, gi] if {
	some [s, gi, g] in principal_grants
	data.mcpgw.globs[g.server]
	not data.mcpgw.glob_namespaces[g.server]
	some i, a in input.assets
	kind_matches(g.kind, a.kind)
	glob.match(g.server, null, a.name)
}

# An asset is visible to admins, to everyone when its visibility is "public",
# and otherwise when a grant of the caller targets it.
visible_positions contains i if {
	is_admin
	some i, _ in input.assets
}

visible_positions contains i if some i in input.index.visibility.public

visible_positions contains i if some [i, _, _] in grant_hits

# callable_tools are the [position, tool] pairs the caller may tools/call,
# computed once (a complete rule: a partial set looked up by key would be
# re-evaluated per lookup):
# every tool for admins; otherwise the tools a grant targeting the asset
# allows (its methods match tools/call and its tools match the name, as in
# grant_check "method" and "name").
callable_tools := admin_tools | granted_tools

admin_tools := {[i, t] |
	is_admin
	some i, a in input.assets
	some t in a.tools
}

granted_tools := {[i, t] |
	some [i, s, gi] in grant_hits
	g := data.mcpgw.scopes[s].grants[gi]
	match_any(g.methods, "tools/call")
	some t in input.assets[i].tools
	match_any(g.tools, t)
}
