package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// collections are the create endpoints the fuzzer posts to.
var collections = []string{"/api/v1/servers", "/api/v1/agents", "/api/v1/skills", "/api/v1/entity-types",
	"/api/v1/entities/dataset", "/api/v1/virtual-servers", "/api/v1/scopes", "/api/v1/group-mappings",
	"/api/v1/client-mappings", "/api/v1/servers/ns/x/versions"}

func FuzzCreate(f *testing.F) {
	// Invariant: whatever body a client posts to a create endpoint, the answer is a documented one (env.do checks
	// the contract and fails any 500): 201 with the object, or a problem among 400, 404 (the entity type went
	// away), 409, 413, 415 and 422.
	e := newEnv(f)
	e.create(f, "/api/v1/servers", serverBody("ns/x"))
	e.create(f, "/api/v1/entity-types", entityTypeBody("dataset"))
	e.create(f, "/api/v1/scopes", scopeBody("finance-read"))
	seeds := []any{serverBody("ns/a"), agentBody("ns/a"), skillBody("ns/a"), entityTypeBody("dt"), entityBody("ns/a"),
		virtualBody("v", "ns/x"), scopeBody("s"), groupMappingBody("g", "finance-read"), clientMappingBody("c", "finance-read"),
		obj{"version": "2.0.0", "url": "http://127.0.0.1:9/mcp"}}
	for i, s := range seeds {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte(`{"name":"ns/b","versions":[{"version":"1.0.0","url":"http://h/x","tools":[{"name":"t","inputSchema":{"type":"object"}}]}]}`))
	f.Add(uint8(2), []byte(`{"name":"ns/b","content":"---\nname: x\ndescription: y\nmetadata: {a: [1]}\n---\n"}`))
	f.Add(uint8(3), []byte(`{"name":"t","schema":{"type":"object","$defs":{"a":{"$ref":"#/$defs/a"}},"properties":{"p":{"$ref":"#/$defs/a"}}}}`))
	f.Add(uint8(1), []byte(`{"name":"ns/b","card":{"name":"n","description":"d","url":"http://h","version":"1","security":[{"a":[]}]}}`))
	f.Add(uint8(0), []byte(`{"name":"ns/b"}{"name":"ns/c"}`))
	f.Add(uint8(0), []byte(`[]`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		r := e.do(t, http.MethodPost, collections[int(which)%len(collections)], body)
		if r.Status == http.StatusCreated {
			return
		}
		p := r.problem(t)
		if !slices.Contains([]int{400, 404, 409, 413, 415, 422}, p.Status) {
			t.Fatalf("status %d: %+v", p.Status, p)
		}
	})
}
