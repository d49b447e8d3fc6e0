package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestCRUDRoundTrips(t *testing.T) {
	// Invariant: for every kind, create answers 201 with the stored object, its ETag and its Location; the Location
	// reads it back; a second create conflicts; PUT and PATCH honour If-Match (412 when stale) and change the rev and
	// ETag; the object is listed; DELETE honours If-Match, and afterwards the object is gone.
	e := newEnv(t)
	e.create(t, "/api/v1/servers", serverBody("finance/pay"))
	e.create(t, "/api/v1/scopes", scopeBody("finance-write"))
	e.create(t, "/api/v1/entity-types", entityTypeBody("ledger"))
	cases := []struct {
		kind       string
		collection string
		location   string
		body       obj
		put        obj
		patch      obj
		probe      func(obj) string
		wantPut    string
		wantPatch  string
	}{
		{"server", "/api/v1/servers", "/api/v1/servers/ns/x", serverBody("ns/x"),
			with(serverBody("ns/x"), "title", "Put"), obj{"title": "Patched"},
			func(o obj) string { return fmt.Sprint(o["title"]) }, "Put", "Patched"},
		{"agent", "/api/v1/agents", "/api/v1/agents/ns/a", agentBody("ns/a"),
			with(agentBody("ns/a"), "description", "Put"), obj{"description": "Patched"},
			func(o obj) string { return fmt.Sprint(o["description"]) }, "Put", "Patched"},
		{"skill", "/api/v1/skills", "/api/v1/skills/ns/s", skillBody("ns/s"),
			with(skillBody("ns/s"), "tags", arr{"put"}), obj{"tags": arr{"patched", "PATCHED"}},
			func(o obj) string { return fmt.Sprint(o["tags"]) }, "[put]", "[patched]"},
		{"entity type", "/api/v1/entity-types", "/api/v1/entity-types/dataset", entityTypeBody("dataset"),
			with(entityTypeBody("dataset"), "plural", "data"), obj{"description": "Patched"},
			func(o obj) string { return fmt.Sprint(o["plural"], " ", o["description"]) }, "data Data sets", "data Patched"},
		{"entity", "/api/v1/entities/ledger", "/api/v1/entities/ledger/ns/d", entityBody("ns/d"),
			with(entityBody("ns/d"), "fields", obj{"owner": "ops"}), obj{"fields": obj{"rows": 7}},
			func(o obj) string { return fmt.Sprint(o["type"], " ", o["fields"]) }, "ledger map[owner:ops]",
			"ledger map[owner:ops rows:7]"},
		{"virtual server", "/api/v1/virtual-servers", "/api/v1/virtual-servers/v", virtualBody("v", "finance/pay"),
			with(virtualBody("v", "finance/pay"), "visibility", "public"), obj{"status": "disabled"},
			func(o obj) string { return fmt.Sprint(o["visibility"], " ", o["status"]) }, "public enabled", "public disabled"},
		{"scope", "/api/v1/scopes", "/api/v1/scopes/finance-read", scopeBody("finance-read"),
			with(scopeBody("finance-read"), "publish", arr{"finance", "ops"}), obj{"grants": nil},
			func(o obj) string { return fmt.Sprint(o["publish"], " ", len(asArr(o["grants"]))) }, "[finance ops] 1",
			"[finance ops] 0"},
		{"group mapping", "/api/v1/group-mappings", "/api/v1/group-mappings/finance", groupMappingBody("finance", "finance-write"),
			groupMappingBody("finance", "finance-write", "mcpgw-admin"), obj{"scopes": arr{"mcpgw-admin"}},
			func(o obj) string { return fmt.Sprint(o["scopes"]) }, "[finance-write mcpgw-admin]", "[mcpgw-admin]"},
		{"client mapping", "/api/v1/client-mappings", "/api/v1/client-mappings/ci-bot", clientMappingBody("ci-bot", "finance-write"),
			clientMappingBody("ci-bot", "finance-write", "mcpgw-admin"), obj{"scopes": arr{"mcpgw-admin"}},
			func(o obj) string { return fmt.Sprint(o["scopes"]) }, "[finance-write mcpgw-admin]", "[mcpgw-admin]"},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			r := e.do(t, http.MethodPost, c.collection, c.body).want(t, http.StatusCreated)
			created := r.object(t)
			r1 := rev(t, created)
			if got := r.Header.Get("Location"); got != c.location {
				t.Fatalf("Location %q, want %q", got, c.location)
			}
			if got := r.Header.Get("ETag"); got != etag(r1) {
				t.Fatalf("ETag %q, want %q", got, etag(r1))
			}

			got := e.do(t, http.MethodGet, c.location, nil).want(t, http.StatusOK)
			if got.Header.Get("ETag") != etag(r1) || rev(t, got.object(t)) != r1 {
				t.Fatalf("read back: ETag %q, body %s", got.Header.Get("ETag"), got.Body)
			}
			nm := e.do(t, http.MethodGet, c.location, nil, header("If-None-Match", etag(r1))).want(t, http.StatusNotModified)
			if len(nm.Body) != 0 || nm.Header.Get("ETag") != etag(r1) {
				t.Fatalf("304: ETag %q, body %q", nm.Header.Get("ETag"), nm.Body)
			}
			e.do(t, http.MethodGet, c.location, nil, header("If-None-Match", etag(r1+1000))).want(t, http.StatusOK)

			if p := e.do(t, http.MethodPost, c.collection, c.body).want(t, http.StatusConflict).problem(t); p.Type != ptype("conflict") {
				t.Fatalf("duplicate: problem %q", p.Type)
			}

			// advanced checks a successful write: a higher rev, the ETag naming it, and the change made.
			advanced := func(what string, r reply, prev int64, want string) (obj, int64) {
				t.Helper()
				o := r.want(t, http.StatusOK).object(t)
				n := rev(t, o)
				if n <= prev || r.Header.Get("ETag") != etag(n) {
					t.Fatalf("%s: rev %d after %d, ETag %q", what, n, prev, r.Header.Get("ETag"))
				}
				if got := c.probe(o); got != want {
					t.Fatalf("after %s: %q, want %q", what, got, want)
				}
				return o, n
			}

			e.do(t, http.MethodPut, c.location, c.put, header("If-Match", etag(r1+1000))).want(t, http.StatusPreconditionFailed)
			putObj, r2 := advanced("PUT", e.do(t, http.MethodPut, c.location, c.put, header("If-Match", etag(r1))), r1, c.wantPut)
			if putObj["created_at"] != created["created_at"] || putObj["created_by"] != "alice" || putObj["updated_by"] != "alice" {
				t.Fatalf("PUT changed the creation metadata or did not record the writer: %v", putObj)
			}

			e.do(t, http.MethodPatch, c.location, c.patch, header("Content-Type", "application/merge-patch+json"),
				header("If-Match", etag(r1))).want(t, http.StatusPreconditionFailed)
			patchedObj, r3 := advanced("PATCH", e.do(t, http.MethodPatch, c.location, c.patch,
				header("Content-Type", "application/merge-patch+json"), header("If-Match", etag(r2))), r2, c.wantPatch)

			var list struct {
				Items []obj `json:"items"`
			}
			e.do(t, http.MethodGet, c.collection, nil).want(t, http.StatusOK).decode(t, &list)
			if !slices.ContainsFunc(list.Items, func(o obj) bool { return o["rev"] == patchedObj["rev"] }) {
				t.Fatalf("the listing lacks the object: %v", list.Items)
			}

			e.do(t, http.MethodDelete, c.location, nil, header("If-Match", etag(r2))).want(t, http.StatusPreconditionFailed)
			e.do(t, http.MethodDelete, c.location, nil, header("If-Match", etag(r3))).want(t, http.StatusNoContent)
			e.do(t, http.MethodGet, c.location, nil).want(t, http.StatusNotFound)
			e.do(t, http.MethodDelete, c.location, nil).want(t, http.StatusNotFound)
			e.do(t, http.MethodPut, c.location, c.put).want(t, http.StatusNotFound)
		})
	}
}

func asArr(v any) arr {
	a, _ := v.(arr)
	return a
}

func TestMappingKeys(t *testing.T) {
	// Invariant: a mapping limited to one issuer is named by its group (which may hold slashes and spaces, as
	// Keycloak group paths do) and ?issuer=; the Location the API answers is a valid URI reference that reads it
	// back, and the same group for another issuer (or for every issuer) is a different mapping.
	e := newEnv(t)
	const issuer = "https://kc.example.com/realms/corp"
	body := groupMappingBody("/corp/Finance Team", "mcpgw-admin")
	body["issuer"] = issuer
	r := e.do(t, http.MethodPost, "/api/v1/group-mappings", body).want(t, http.StatusCreated)
	loc := r.Header.Get("Location")
	if want := "/api/v1/group-mappings//corp/Finance%20Team?issuer=" + url.QueryEscape(issuer); loc != want {
		t.Fatalf("Location %q, want %q", loc, want)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q is not a URI reference: %v", loc, err)
	}
	if u.Path != "/api/v1/group-mappings//corp/Finance Team" || u.Query().Get("issuer") != issuer {
		t.Fatalf("Location %q names path %q, issuer %q", loc, u.Path, u.Query().Get("issuer"))
	}
	got := e.do(t, http.MethodGet, loc, nil).want(t, http.StatusOK).object(t)
	if got["group"] != "/corp/Finance Team" || got["issuer"] != issuer {
		t.Fatalf("read back %v", got)
	}
	// Without the issuer it is another mapping, which does not exist yet.
	e.do(t, http.MethodGet, "/api/v1/group-mappings//corp/Finance%20Team", nil).want(t, http.StatusNotFound)
	e.create(t, "/api/v1/group-mappings", groupMappingBody("/corp/Finance Team", "mcpgw-admin"))
	e.do(t, http.MethodGet, "/api/v1/group-mappings//corp/Finance%20Team", nil).want(t, http.StatusOK)

	cm := clientMappingBody("svc/ci", "mcpgw-admin")
	cm["issuer"] = issuer
	r = e.do(t, http.MethodPost, "/api/v1/client-mappings", cm).want(t, http.StatusCreated)
	e.do(t, http.MethodGet, r.Header.Get("Location"), nil).want(t, http.StatusOK)
	e.do(t, http.MethodDelete, r.Header.Get("Location"), nil).want(t, http.StatusNoContent)
}
