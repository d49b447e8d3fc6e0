package api_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/catalog"
)

// beyondSchema are the refusals the OpenAPI document cannot express: rules that need other objects (the entity's
// type, the scopes, the referenced server), the path, uniqueness by a member, or parsing a member's content. For
// every other 422 of TestBadInput the document must reject the request too, so that it is no looser than the API.
var beyondSchema = map[string]bool{
	"body name differs from path":          true,
	"patch renames":                        true,
	"version differs from path":            true,
	"entity type differs from path":        true,
	"duplicate tool names":                 true,
	"duplicate versions":                   true,
	"card with duplicate skill ids":        true,
	"virtual server exposing a name twice": true,
	"SKILL.md without front matter":        true,
	"SKILL.md without name":                true,
	"SKILL.md with broken YAML":            true,
	"entity failing its schema":            true,
	"entity field of the wrong type":       true,
	"entity of an unknown type":            true,
	"entity type with an invalid schema":   true,
	"entity type with an external ref":     true,
	"searchable field not in schema":       true,
	"virtual server with an unknown tool":  true,
	"URL naming the metadata service":      true,
	"URL with a numeric host":              true,
	"link-local URL in a new version":      true,
	"virtual server of an unknown server":  true,
	"mapping to an unknown scope":          true,
	"mapping body names another group":     true,
	"mapping body names another issuer":    true,
	"patch moves a mapping to an issuer":   true,
	"patch changes an entity's type":       true,
}

func TestBadInput(t *testing.T) {
	// Invariant: every kind of bad input gets the documented client error: its status, its stable problem type,
	// and for a validation failure (422) the field that broke the rule in errors. Bad input never yields a 500 (env.do
	// fails any 500) and every answer matches the OpenAPI document (env.do checks it).
	e := newEnv(t)
	srv := e.create(t, "/api/v1/servers", serverBody("ns/x"))
	e.create(t, "/api/v1/entity-types", entityTypeBody("dataset"))
	e.create(t, "/api/v1/entity-types", entityTypeBody("inuse"))
	e.create(t, "/api/v1/entities/inuse", entityBody("ns/used"))
	e.create(t, "/api/v1/scopes", scopeBody("finance-read"))
	e.create(t, "/api/v1/group-mappings", groupMappingBody("ops", "finance-read"))
	stale := etag(rev(t, srv) + 1000)
	// A real cursor of the server listing, which is no cursor of the audit trail.
	e.create(t, "/api/v1/servers", serverBody("ns/y"))
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	e.do(t, http.MethodGet, "/api/v1/servers?limit=1", nil).want(t, http.StatusOK).decode(t, &page)
	if page.NextCursor == "" {
		t.Fatal("no next_cursor")
	}

	// A token signed by another key under the same issuer name, and one that expired.
	other, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue("alice", []string{"mcpgw-admins"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	past, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{
		Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := past.Issue("alice", []string{"mcpgw-admins"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	valid := serverBody("ns/new")
	big := `{"name":"ns/big","description":"` + strings.Repeat("x", 1<<20) + `"}`
	manyTags := make(arr, catalog.MaxTags+1)
	for i := range manyTags {
		manyTags[i] = "t" + strconv.Itoa(i)
	}
	dupTools := arr{obj{"name": "t"}, obj{"name": "t"}}
	card := agentBody("ns/a")["card"].(obj)
	const (
		servers = "/api/v1/servers"
		item    = "/api/v1/servers/ns/x"
	)
	mergePatch := header("Content-Type", "application/merge-patch+json")

	cases := []struct {
		name   string
		method string
		path   string
		body   any
		opts   []reqOpt
		status int
		ptype  string
		field  string // for 422: a field errors must name
	}{
		// Bodies that are not one JSON document.
		{"malformed JSON", "POST", servers, `{"name":"ns/y",`, nil, 400, "malformed-json", ""},
		{"trailing data", "POST", servers, `{"name":"ns/y"} {"name":"ns/z"}`, nil, 400, "malformed-json", ""},
		{"empty body", "POST", servers, "", []reqOpt{header("Content-Type", "application/json")}, 400, "malformed-json", ""},
		{"body over 1 MiB", "POST", servers, big, nil, 413, "body-too-large", ""},
		{"wrong content type", "POST", servers, valid, []reqOpt{header("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"form content type", "POST", "/api/v1/scopes", "name=x", []reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, 415, "unsupported-media-type", ""},
		{"merge patch on create", "POST", servers, valid, []reqOpt{mergePatch}, 415, "unsupported-media-type", ""},
		{"patch as text", "PATCH", item, `{"title":"x"}`, []reqOpt{header("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"malformed merge patch", "PATCH", item, `{"title":`, []reqOpt{mergePatch}, 400, "malformed-json", ""},

		// Well-formed JSON of the wrong shape.
		{"unknown field", "POST", servers, with(valid, "nmae", "x"), nil, 422, "validation-failed", "nmae"}, //nolint:misspell // a deliberately misspelt field
		{"unknown field in a version", "POST", servers, withVersion(valid, "urls", arr{}), nil, 422, "validation-failed", "urls"},
		{"wrong type", "POST", servers, with(valid, "tags", "finance"), nil, 422, "validation-failed", "tags"},
		{"wrong type in a version", "POST", servers, withVersion(valid, "tools", obj{}), nil, 422, "validation-failed", "versions[0].tools"},
		{"array instead of object", "POST", servers, arr{valid}, nil, 422, "validation-failed", "body"},
		{"null body", "POST", servers, "null", nil, 422, "validation-failed", "name"},
		{"missing name", "POST", servers, with(valid, "name", nil), nil, 422, "validation-failed", "name"},
		{"missing versions", "POST", servers, with(valid, "versions", nil), nil, 422, "validation-failed", "versions"},
		{"merge patch to an array", "PATCH", item, `[1]`, []reqOpt{mergePatch}, 422, "validation-failed", "body"},

		// Names.
		{"upper-case name in body", "POST", servers, with(valid, "name", "NS/X"), nil, 422, "validation-failed", "name"},
		{"name without namespace", "POST", servers, with(valid, "name", "x"), nil, 422, "validation-failed", "name"},
		{"name too long", "POST", servers, with(valid, "name", "ns/"+strings.Repeat("a", catalog.MaxNameLen)), nil, 422, "validation-failed", "name"},
		{"invalid name in path", "GET", "/api/v1/servers/NS/x", nil, nil, 400, "invalid-name", ""},
		{"invalid name in path on write", "PUT", "/api/v1/agents/ns/A", agentBody("ns/a"), nil, 400, "invalid-name", ""},
		{"space in simple name", "GET", "/api/v1/entity-types/a%20b", nil, nil, 400, "invalid-name", ""},
		{"entity type in path too long", "GET", "/api/v1/entities/" + strings.Repeat("a", 64), nil, nil, 400, "invalid-name", ""},
		{"body name differs from path", "PUT", item, serverBody("ns/other"), nil, 422, "validation-failed", "name"},
		{"patch renames", "PATCH", item, obj{"name": "ns/other"}, []reqOpt{mergePatch}, 422, "validation-failed", "name"},

		// Server rules.
		{"bad semver", "POST", servers, withVersion(valid, "version", "1.0"), nil, 422, "validation-failed", "versions[0].version"},
		{"bad URL scheme", "POST", servers, withVersion(valid, "url", "ftp://127.0.0.1/mcp"), nil, 422, "validation-failed", "versions[0].url"},
		{"URL with credentials", "POST", servers, withVersion(valid, "url", "http://u:p@127.0.0.1/mcp"), nil, 422, "validation-failed", "versions[0].url"},
		{"URL naming the metadata service", "POST", servers, withVersion(valid, "url", "http://169.254.169.254/latest/meta-data/"), nil, 422, "validation-failed", "versions[0].url"},
		{"URL with a numeric host", "POST", servers, withVersion(valid, "url", "http://2852039166/mcp"), nil, 422, "validation-failed", "versions[0].url"},
		{"unknown transport", "POST", servers, withVersion(valid, "transport", "websocket"), nil, 422, "validation-failed", "versions[0].transport"},
		{"stdio without launch", "POST", servers, withVersion(valid, "transport", "stdio", "url", nil), nil, 422, "validation-failed", "versions[0].launch.command"},
		{"stdio with a URL", "POST", servers, withVersion(valid, "transport", "stdio", "launch", obj{"command": "npx"}), nil, 422, "validation-failed", "versions[0].url"},
		{"env value instead of name", "POST", servers, withVersion(valid, "transport", "stdio", "url", nil,
			"launch", obj{"command": "npx", "env": arr{"TOKEN=abc"}}), nil, 422, "validation-failed", "versions[0].launch.env[0]"},
		{"literal secret", "POST", servers, withVersion(valid, "egress_auth", obj{"type": "bearer", "secret_ref": "sk-live-0123456789"}), nil, 422, "validation-failed", "versions[0].egress_auth.secret_ref"},
		{"header auth without a header", "POST", servers, withVersion(valid, "egress_auth", obj{"type": "header", "secret_ref": "env:TOKEN"}), nil, 422, "validation-failed", "versions[0].egress_auth.header"},
		{"client credentials without a token URL", "POST", servers, withVersion(valid, "egress_auth", obj{"type": "oauth2-client-credentials", "client_id": "gw", "secret_ref": "env:TOKEN"}), nil, 422, "validation-failed", "versions[0].egress_auth.token_url"},
		{"unknown egress auth type", "POST", servers, withVersion(valid, "egress_auth", obj{"type": "basic", "secret_ref": "env:TOKEN"}), nil, 422, "validation-failed", "versions[0].egress_auth.type"},
		{"duplicate tool names", "POST", servers, withVersion(valid, "tools", dupTools), nil, 422, "validation-failed", "versions[0].tools[1].name"},
		{"tool schema not an object", "POST", servers, withVersion(valid, "tools", arr{obj{"name": "t", "inputSchema": arr{}}}), nil, 422, "validation-failed", "versions[0].tools[0].inputSchema"},
		{"duplicate versions", "POST", servers, with(valid, "versions", arr{valid["versions"].(arr)[0], valid["versions"].(arr)[0]}), nil, 422, "validation-failed", "versions[1].version"},
		{"too many tags", "POST", servers, with(valid, "tags", manyTags), nil, 422, "validation-failed", "tags"},
		{"tag too long", "POST", servers, with(valid, "tags", arr{strings.Repeat("t", catalog.MaxTagLen+1)}), nil, 422, "validation-failed", "tags[0]"},
		{"description too long", "POST", servers, with(valid, "description", strings.Repeat("d", catalog.MaxDescriptionLen+1)), nil, 422, "validation-failed", "description"},
		{"unknown visibility", "POST", servers, with(valid, "visibility", "internal"), nil, 422, "validation-failed", "visibility"},
		{"unknown status", "POST", servers, with(valid, "status", "active"), nil, 422, "validation-failed", "status"},

		// Versions sub-resource.
		{"version of a missing server", "POST", "/api/v1/servers/ns/missing/versions", valid["versions"].(arr)[0], nil, 404, "not-found", ""},
		{"existing version", "POST", item + "/versions", valid["versions"].(arr)[0], nil, 409, "conflict", ""},
		{"bad URL in a new version", "POST", item + "/versions", obj{"version": "2.0.0", "url": "mailto:x@example.com"}, nil, 422, "validation-failed", "url"},
		{"link-local URL in a new version", "POST", item + "/versions", obj{"version": "2.0.0", "url": "http://[fe80::1%25eth0]:80/mcp"}, nil, 422, "validation-failed", "url"},
		{"unknown field in a new version", "POST", item + "/versions", obj{"version": "2.0.0", "url": "http://127.0.0.1:9/mcp", "weight": 2}, nil, 422, "validation-failed", "weight"},
		{"version differs from path", "PUT", item + "/versions/1.0.0", obj{"version": "1.0.1", "url": "http://127.0.0.1:9/mcp"}, nil, 422, "validation-failed", "version"},
		{"missing version", "GET", item + "/versions/9.9.9", nil, nil, 404, "not-found", ""},
		{"last version", "DELETE", item + "/versions/1.0.0", nil, nil, 409, "conflict", ""},

		// Agents and skills.
		{"card without url", "POST", "/api/v1/agents", with(agentBody("ns/a"), "card", with(card, "url", nil)), nil, 422, "validation-failed", "card.url"},
		{"card with duplicate skill ids", "POST", "/api/v1/agents", with(agentBody("ns/a"), "card", with(card, "skills",
			arr{obj{"id": "s", "name": "S"}, obj{"id": "s", "name": "T"}})), nil, 422, "validation-failed", "card.skills[1].id"},
		{"card unknown field", "POST", "/api/v1/agents", with(agentBody("ns/a"), "card", with(card, "endpoint", "x")), nil, 422, "validation-failed", "endpoint"},
		{"SKILL.md without front matter", "POST", "/api/v1/skills", with(skillBody("ns/s"), "content", "# Just Markdown\n"), nil, 422, "validation-failed", "content"},
		{"SKILL.md without name", "POST", "/api/v1/skills", with(skillBody("ns/s"), "content", "---\ndescription: d\n---\nbody\n"), nil, 422, "validation-failed", "content"},
		{"SKILL.md with broken YAML", "POST", "/api/v1/skills", with(skillBody("ns/s"), "content", "---\nname: [x\n---\n"), nil, 422, "validation-failed", "content"},
		{"skill from an unknown source", "POST", "/api/v1/skills", with(skillBody("ns/s"), "source", obj{"type": "s3"}), nil, 422, "validation-failed", "source.type"},

		// Entity types and entities.
		{"entity failing its schema", "POST", "/api/v1/entities/dataset", with(entityBody("ns/d"), "fields", obj{"rows": 1}), nil, 422, "validation-failed", "fields"},
		{"entity field of the wrong type", "POST", "/api/v1/entities/dataset", with(entityBody("ns/d"), "fields", obj{"owner": "o", "rows": "many"}), nil, 422, "validation-failed", "fields.rows"},
		{"entity of an unknown type", "POST", "/api/v1/entities/nosuch", entityBody("ns/d"), nil, 422, "validation-failed", "type"},
		{"entity type differs from path", "POST", "/api/v1/entities/dataset", with(entityBody("ns/d"), "type", "other"), nil, 422, "validation-failed", "type"},
		{"entity type with an invalid schema", "POST", "/api/v1/entity-types", with(entityTypeBody("bad"), "schema",
			obj{"type": "object", "properties": obj{"a": obj{"type": "text"}}}, "searchable", nil), nil, 422, "validation-failed", "schema"},
		{"entity type with an external ref", "POST", "/api/v1/entity-types", with(entityTypeBody("bad"), "schema",
			obj{"type": "object", "properties": obj{"a": obj{"$ref": "https://example.com/s.json"}}}), nil, 422, "validation-failed", "schema"},
		{"entity type not an object", "POST", "/api/v1/entity-types", with(entityTypeBody("bad"), "schema", obj{"type": "string"},
			"searchable", nil), nil, 422, "validation-failed", "schema.type"},
		{"searchable field not in schema", "POST", "/api/v1/entity-types", with(entityTypeBody("bad"), "searchable", arr{"nope"}), nil, 422, "validation-failed", "searchable[0]"},
		{"entity type name", "POST", "/api/v1/entity-types", entityTypeBody("Data_Set"), nil, 422, "validation-failed", "name"},
		{"entity type in use", "DELETE", "/api/v1/entity-types/inuse", nil, nil, 409, "conflict", ""},

		// Virtual servers, scopes and mappings.
		{"virtual server with an unknown tool", "POST", "/api/v1/virtual-servers", with(virtualBody("v", "ns/x"), "tools",
			arr{obj{"server": "ns/x", "tool": "nosuch"}}), nil, 422, "validation-failed", "tools[0].tool"},
		{"virtual server of an unknown server", "POST", "/api/v1/virtual-servers", virtualBody("v", "ns/nosuch"), nil, 422, "validation-failed", "tools[0].server"},
		{"virtual server exposing a name twice", "POST", "/api/v1/virtual-servers", with(virtualBody("v", "ns/x"), "tools",
			arr{obj{"server": "ns/x", "tool": "t"}, obj{"server": "ns/x", "tool": "t"}}), nil, 422, "validation-failed", "tools[1]"},
		{"virtual server on too many gateways", "POST", "/api/v1/virtual-servers", with(virtualBody("v", "ns/x"), "gateways", manyTags), nil, 422, "validation-failed", "gateways"},
		{"grant of an unknown kind", "POST", "/api/v1/scopes", with(scopeBody("s2"), "grants", arr{obj{"kind": "printer", "server": "*"}}), nil, 422, "validation-failed", "grants[0].kind"},
		{"mapping to an unknown scope", "POST", "/api/v1/group-mappings", groupMappingBody("g", "nosuch"), nil, 422, "validation-failed", "scopes[0]"},
		{"mapping body names another group", "PUT", "/api/v1/group-mappings/ops", groupMappingBody("dev", "finance-read"), nil, 422, "validation-failed", "group"},
		{"mapping body names another issuer", "PUT", "/api/v1/group-mappings/ops", with(groupMappingBody("ops", "finance-read"),
			"issuer", "https://idp.example.com"), nil, 422, "validation-failed", "issuer"},
		{"patch moves a mapping to an issuer", "PATCH", "/api/v1/group-mappings/ops", obj{"issuer": "https://idp.example.com"},
			[]reqOpt{mergePatch}, 422, "validation-failed", "issuer"},
		{"patch changes an entity's type", "PATCH", "/api/v1/entities/inuse/ns/used", obj{"type": "dataset"},
			[]reqOpt{mergePatch}, 422, "validation-failed", "type"},
		{"mapping without scopes", "POST", "/api/v1/client-mappings", clientMappingBody("c"), nil, 422, "validation-failed", "scopes"},

		// Query parameters.
		{"limit zero", "GET", servers + "?limit=0", nil, nil, 400, "invalid-query", ""},
		{"limit over 500", "GET", servers + "?limit=501", nil, nil, 400, "invalid-query", ""},
		{"limit not a number", "GET", "/api/v1/agents?limit=ten", nil, nil, 400, "invalid-query", ""},
		{"forged cursor", "GET", servers + "?cursor=bm90LW91cnM", nil, nil, 400, "invalid-query", ""},
		{"cursor not base64", "GET", "/api/v1/skills?cursor=***", nil, nil, 400, "invalid-query", ""},
		{"query not URL-encoded", "GET", "/api/v1/skills?cursor=%zz", nil, nil, 400, "invalid-query", ""},
		{"unknown status filter", "GET", servers + "?status=active", nil, nil, 400, "invalid-query", ""},
		{"namespace on a flat collection", "GET", "/api/v1/scopes?namespace=ns", nil, nil, 400, "invalid-query", ""},
		{"invalid namespace filter", "GET", servers + "?namespace=NS", nil, nil, 400, "invalid-query", ""},
		{"audit kind", "GET", "/api/v1/audit?kind=login", nil, nil, 400, "invalid-query", ""},
		{"audit time", "GET", "/api/v1/audit?from=yesterday", nil, nil, 400, "invalid-query", ""},
		{"audit format", "GET", "/api/v1/audit?format=csv", nil, nil, 400, "invalid-query", ""},
		{"audit query not URL-encoded", "GET", "/api/v1/audit?subject=%zz", nil, nil, 400, "invalid-query", ""},
		{"audit cursor", "GET", "/api/v1/audit?cursor=" + page.NextCursor, nil, nil, 400, "invalid-query", ""},

		// Preconditions and conflicts.
		{"stale If-Match on PUT", "PUT", item, serverBody("ns/x"), []reqOpt{header("If-Match", stale)}, 412, "precondition-failed", ""},
		{"stale If-Match on PATCH", "PATCH", item, obj{"title": "x"}, []reqOpt{mergePatch, header("If-Match", stale)}, 412, "precondition-failed", ""},
		{"stale If-Match on DELETE", "DELETE", item, nil, []reqOpt{header("If-Match", stale)}, 412, "precondition-failed", ""},
		{"weak If-Match", "DELETE", item, nil, []reqOpt{header("If-Match", `W/"1"`)}, 412, "precondition-failed", ""},
		{"stale If-Match on a version", "POST", item + "/versions", obj{"version": "3.0.0", "url": "http://127.0.0.1:9/mcp"},
			[]reqOpt{header("If-Match", stale)}, 412, "precondition-failed", ""},
		{"duplicate", "POST", servers, serverBody("ns/x"), nil, 409, "conflict", ""},
		{"missing object", "GET", "/api/v1/skills/ns/nosuch", nil, nil, 404, "not-found", ""},
		{"patch of a missing object", "PATCH", "/api/v1/skills/ns/nosuch", obj{"title": "x"}, []reqOpt{mergePatch}, 404, "not-found", ""},

		// Routing.
		{"unknown route", "GET", "/api/v1/printers", nil, nil, 404, "not-found", ""},
		{"unknown top-level route", "GET", "/admin", nil, nil, 404, "not-found", ""},
		{"wrong method", "DELETE", servers, nil, nil, 405, "method-not-allowed", ""},
		{"wrong method on an item", "POST", item, valid, nil, 405, "method-not-allowed", ""},

		// Authentication and authorization.
		{"no token", "GET", servers, nil, []reqOpt{as("")}, 401, "unauthorized", ""},
		{"not a bearer credential", "GET", servers, nil, []reqOpt{header("Authorization", "Basic YWxpY2U6cHc=")}, 401, "unauthorized", ""},
		{"garbage token", "GET", servers, nil, []reqOpt{as("not.a.jwt")}, 401, "unauthorized", ""},
		{"forged token", "GET", servers, nil, []reqOpt{as(forged)}, 401, "unauthorized", ""},
		{"expired token", "GET", servers, nil, []reqOpt{as(expired)}, 401, "unauthorized", ""},
		{"no token on a write", "POST", servers, valid, []reqOpt{as("")}, 401, "unauthorized", ""},
		{"non-admin write", "POST", servers, valid, []reqOpt{as(e.user)}, 403, "forbidden", ""},
		{"non-admin scope", "POST", "/api/v1/scopes", scopeBody("mine"), []reqOpt{as(e.user)}, 403, "forbidden", ""},
		{"non-admin reads the audit trail", "GET", "/api/v1/audit", nil, []reqOpt{as(e.user)}, 403, "forbidden", ""},
		{"non-admin reads a restricted server", "GET", item, nil, []reqOpt{as(e.user)}, 404, "not-found", ""},
		{"non-admin deletes a restricted server", "DELETE", item, nil, []reqOpt{as(e.user)}, 404, "not-found", ""},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.method, c.path, c.body, c.opts...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, c.status, truncate(r.Body))
			}
			p := r.problem(t)
			if p.Type != ptype(c.ptype) {
				t.Fatalf("problem type %q, want %q (%s)", p.Type, ptype(c.ptype), p.Detail)
			}
			if want := strings.SplitN(c.path, "?", 2)[0]; p.Instance != want && !strings.Contains(c.path, "%") {
				t.Errorf("instance %q, want %q", p.Instance, want)
			}
			if c.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
			if c.status == 405 && r.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if c.status == http.StatusUnprocessableEntity {
				req, raw := e.request(t, c.method, c.path, c.body, c.opts...)
				docErr := e.contract.requestError(req, raw)
				switch {
				case docErr == nil && !beyondSchema[c.name]:
					t.Errorf("the OpenAPI document accepts this request, which the API refuses: express the rule in openapi.yaml")
				case docErr != nil && beyondSchema[c.name]:
					t.Errorf("the OpenAPI document rejects this request (%s): drop it from beyondSchema", firstLine(docErr.Error()))
				}
			}
			if c.field == "" {
				if len(p.Errors) > 0 {
					t.Errorf("unexpected field errors %v", p.Errors)
				}
				return
			}
			if !slices.ContainsFunc(p.Errors, func(f catalog.FieldError) bool { return f.Field == c.field }) {
				t.Fatalf("errors %v do not name %q", p.Errors, c.field)
			}
		})
	}
	// Nothing above changed the server: bad input is refused before it is written.
	got := e.do(t, http.MethodGet, item, nil).want(t, http.StatusOK).object(t)
	if rev(t, got) != rev(t, srv) {
		t.Fatalf("the server changed from rev %d to %d", rev(t, srv), rev(t, got))
	}
}
