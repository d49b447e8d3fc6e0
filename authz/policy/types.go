package policy

import (
	"encoding/json"
	"fmt"
)

// Asset kinds a grant or a target may name. A grant's kind may also be
// KindAny. An empty grant kind means KindServer.
const (
	KindServer  = "server"
	KindAgent   = "agent"
	KindSkill   = "skill"
	KindEntity  = "entity"
	KindVirtual = "virtual"
	KindAny     = "*"
)

// Defaults for Data.AdminScope and Data.AdminGroups.
const (
	DefaultAdminScope = "mcpgw-admin"
	DefaultAdminGroup = "mcpgw-admins"
)

// Prefixes of Grant.Tools entries that filter prompt names (prompts/get) and
// resource URIs (resources/read, resources/subscribe, resources/unsubscribe)
// instead of tool names. An unprefixed entry, or one prefixed "tool:", names
// tools.
const (
	PromptPrefix   = "prompt:"
	ResourcePrefix = "resource:"
	ToolPrefix     = "tool:"
)

// Scope is a named set of grants, as defined in the registry.
type Scope struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Grants      []Grant `json:"grants,omitempty"`
	// Publish lists namespace globs in which holders of the scope may
	// create, update and delete catalog entries.
	Publish []string `json:"publish,omitempty"`
}

// Grant allows calls on the assets whose kind and name it matches.
//
// Server, Methods and Tools entries are glob patterns: "*" matches any run of
// characters (including "/" and "."), "?" one character, "[a-z]" a class and
// "{a,b}" alternatives; a pattern without those characters matches only
// itself.
//
// Session plumbing (initialize, ping, notifications/*, the SSE GET, the
// session DELETE) needs only a matching Kind and Server. tools/call needs a
// matching method and a tool entry matching the tool name (an empty Tools
// list grants no tool). Other methods need a matching method; prompts/get and
// resources/read|subscribe|unsubscribe are further filtered by "prompt:" and
// "resource:" entries when the grant has any.
type Grant struct {
	// Kind is the asset kind ("server" when empty), or "*".
	Kind string `json:"kind,omitempty"`
	// Server is a name glob such as "finance/ledger" or "finance/*". JSON
	// also accepts the key "name".
	Server  string   `json:"server"`
	Methods []string `json:"methods,omitempty"`
	Tools   []string `json:"tools,omitempty"`
}

// UnmarshalJSON accepts "name" as an alias of "server".
func (g *Grant) UnmarshalJSON(b []byte) error {
	type plain Grant
	var aux struct {
		plain
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*g = Grant(aux.plain)
	switch {
	case g.Server == "":
		g.Server = aux.Name
	case aux.Name != "" && aux.Name != g.Server:
		return fmt.Errorf("decode grant: server %q and name %q disagree: %w", g.Server, aux.Name, ErrInvalidData)
	}
	return nil
}

// GroupMapping gives the members of a group the listed scopes.
type GroupMapping struct {
	// Issuer restricts the mapping to tokens of one OIDC issuer; "" means
	// any issuer.
	Issuer string   `json:"issuer,omitempty"`
	Group  string   `json:"group"`
	Scopes []string `json:"scopes"`
}

// ClientMapping gives a machine identity (an OAuth client id, typically from
// client credentials) the listed scopes.
type ClientMapping struct {
	// Issuer restricts the mapping to one issuer; "" means any issuer.
	Issuer string   `json:"issuer,omitempty"`
	Client string   `json:"client"`
	Scopes []string `json:"scopes"`
}

// Data is the governance data the policy reads: the registry's scopes and
// mappings.
type Data struct {
	Scopes         []Scope         `json:"scopes,omitempty"`
	GroupMappings  []GroupMapping  `json:"group_mappings,omitempty"`
	ClientMappings []ClientMapping `json:"client_mappings,omitempty"`
	// AdminGroups are groups (of any issuer) whose members hold AdminScope.
	// nil means [DefaultAdminGroup]; an empty non-nil slice means none.
	AdminGroups []string `json:"admin_groups,omitempty"`
	// AdminScope allows everything; "" means DefaultAdminScope.
	AdminScope string `json:"admin_scope,omitempty"`
}

// Principal is the authenticated caller.
type Principal struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	// ClientID is the OAuth client of a machine identity. Client mappings
	// match it, so the identity layer should set it for client-credentials
	// tokens.
	ClientID string   `json:"client_id"`
	Groups   []string `json:"groups"`
	// Scopes are the token's scope values; those naming a defined mcpgw
	// scope (or the admin scope) count as held.
	Scopes []string `json:"scopes"`
}

// Target is the asset a gateway call goes to, from the route's ext_authz
// context extensions.
type Target struct {
	// Kind is "server" (the default when empty) or "virtual".
	Kind    string `json:"kind"`
	Server  string `json:"server"`
	Version string `json:"version"`
}

// MCP is the MCP message of a gateway call.
type MCP struct {
	// Method is the JSON-RPC method; "" for an SSE GET, a session DELETE or
	// a POST of JSON-RPC responses.
	Method string `json:"method"`
	// Name is params.name (tools/call, prompts/get) or params.uri
	// (resources/read and friends).
	Name string `json:"name"`
	// NameKind says what Name names: "tool", "prompt" or "resource" ("" when nothing). completion/complete names
	// the prompt or the resource whose argument it completes, and the policy filters it like prompts/get or
	// resources/read.
	NameKind   string         `json:"name_kind,omitempty"`
	Arguments  map[string]any `json:"arguments,omitempty"`
	HTTPMethod string         `json:"http_method"`
}

// Input is one gateway call to decide; it mirrors the Rego input document.
type Input struct {
	Principal Principal `json:"principal"`
	Target    Target    `json:"target"`
	MCP       MCP       `json:"mcp"`
}

// Decision is the policy's answer.
type Decision struct {
	Allow bool `json:"allow"`
	// Status is the HTTP status to answer with: 200, 401 or 403 (400 for
	// an unknown management action).
	Status int `json:"status"`
	// Rule names the policy rule that decided: unauthenticated, deny,
	// admin, grant, publish, invalid_action or default_deny.
	Rule string `json:"rule"`
	// Reason is a human-readable sentence naming the call and the rule.
	Reason string `json:"reason"`
	// Scope is the scope that allowed the call ("" on denial).
	Scope string `json:"scope"`
	// Scopes are the caller's effective mcpgw scopes, sorted.
	Scopes []string `json:"scopes"`
	// RequiredScopes, on denial, are the scopes that would allow the call:
	// the scope list of the insufficient_scope challenge.
	RequiredScopes []string `json:"required_scopes"`
	// Headers are response headers on denial (WWW-Authenticate) and
	// upstream headers on allow (x-mcpgw-subject, x-mcpgw-client-id).
	Headers map[string]string `json:"headers"`
}

// Asset is a catalog entry whose visibility the registry asks about.
type Asset struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Visibility "public" makes the asset visible to every caller.
	Visibility string `json:"visibility,omitempty"`
	// Tools are the asset's tool names; Visible reports which of them the
	// caller may call.
	Tools []string `json:"tools,omitempty"`
}

// VisibleAsset is an asset the caller may see.
type VisibleAsset struct {
	// Index is the asset's position in the slice given to Visible.
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	// Tools are the asset's tools the caller may call, in asset order.
	Tools []string `json:"tools"`
}

// Action is a management action.
type Action string

// Management actions CanManage decides. Reads follow visibility instead.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Explanation shows a policy author why a call was decided as it was.
type Explanation struct {
	Decision Decision `json:"decision"`
	// Admin reports whether the caller holds the admin scope.
	Admin bool `json:"admin"`
	// ScopeSources say where each effective scope comes from.
	ScopeSources []ScopeSource `json:"scope_sources"`
	// Grants are the caller's grants, in scope and position order, each
	// with the checks it passed and failed.
	Grants []GrantCheck `json:"grants"`
	// Vetoes are the reasons of deny rules that matched.
	Vetoes []string `json:"vetoes"`
	// RequiredScopes are the defined scopes that would allow the call.
	RequiredScopes []string `json:"required_scopes"`
	// Trace is OPA's evaluation trace of the decision, reduced to the
	// expressions that failed and the rules that led to them.
	Trace []string `json:"trace"`
}

// ScopeSource is one reason the caller holds a scope.
type ScopeSource struct {
	Scope string `json:"scope"`
	// Source is group, client, token or admin_group.
	Source string `json:"source"`
	Group  string `json:"group,omitempty"`
	Client string `json:"client,omitempty"`
	// Issuer is the mapping's issuer ("" = any issuer).
	Issuer string `json:"issuer,omitempty"`
}

// GrantCheck is one grant of the caller, checked against the call.
type GrantCheck struct {
	Scope     string   `json:"scope"`
	Index     int      `json:"index"`
	Kind      string   `json:"kind"`
	Server    string   `json:"server"`
	Methods   []string `json:"methods"`
	Tools     []string `json:"tools"`
	Prompts   []string `json:"prompts"`
	Resources []string `json:"resources"`
	// Passed and Failed partition the checks kind, server, method and name.
	Passed []string `json:"passed"`
	Failed []string `json:"failed"`
	Allows bool     `json:"allows"`
}
