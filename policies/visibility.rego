# mcpgw discovery visibility.
#
# Which catalog assets, and which tools inside them, a caller may see. The
# registry evaluates data.mcpgw.authz.visible once for a whole batch of
# assets (input.assets) per distinct scope set and caches the answer.
package mcpgw.authz

# visible maps the position of every asset in input.assets the caller may see
# to the tools of that asset the caller may call: a tool is listed exactly
# when tools/call of it would be allowed.
visible[i] := [t | some t in a.tools; tool_callable(a, t)] if {
	some i, a in input.assets
	asset_visible(a)
}

# An asset is visible to admins, to everyone when its visibility is "public",
# and otherwise when a grant of the caller matches its kind and name.
asset_visible(_) if is_admin

asset_visible(a) if a.visibility == "public"

asset_visible(a) if {
	some [_, _, g] in principal_grants
	grant_targets(g, a.kind, a.name)
}

tool_callable(_, _) if is_admin

tool_callable(a, t) if {
	some [_, _, g] in principal_grants
	grant_allows(g, {"kind": a.kind, "server": a.name, "method": "tools/call", "name": t, "http_method": "POST"})
}
