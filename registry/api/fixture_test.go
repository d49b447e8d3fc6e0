package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/mcpgw/mcpgw/registry/api"
)

// ptype is the URI of a problem type.
func ptype(name string) string { return api.ProblemBase + name }

// obj is a JSON object under construction.
type obj = map[string]any

// arr is a JSON array under construction.
type arr = []any

// The valid bodies of each kind, as in the contract. Tests copy and break them.

func serverBody(name string) obj {
	return obj{"name": name, "title": "Payments", "description": "Pays invoices", "tags": arr{"finance", "Payments"},
		"versions": arr{obj{"version": "1.0.0", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp",
			"tools": arr{obj{"name": "t", "description": "does t"}}}}}
}

func agentBody(name string) obj {
	return obj{"name": name, "description": "Books travel", "tags": arr{"travel"},
		"card": obj{"name": "Travel agent", "description": "Books flights and hotels", "url": "https://agents.example.com/travel",
			"version": "1.2.0", "capabilities": obj{"streaming": true},
			"skills": arr{obj{"id": "book-flight", "name": "Book a flight", "tags": arr{"flights"}}}}}
}

const skillMarkdown = "---\nname: pdf-forms\ndescription: Fill PDF forms\n---\n# PDF forms\n\nUse the form filler.\n"

func skillBody(name string) obj {
	return obj{"name": name, "description": "", "tags": arr{"documents"}, "content": skillMarkdown}
}

func entityTypeBody(name string) obj {
	return obj{"name": name, "description": "Data sets", "searchable": arr{"owner"},
		"schema": obj{"type": "object", "required": arr{"owner"}, "additionalProperties": false,
			"properties": obj{"owner": obj{"type": "string", "minLength": 1}, "rows": obj{"type": "integer", "minimum": 0}}}}
}

func entityBody(name string) obj {
	return obj{"name": name, "description": "Monthly ledger", "tags": arr{"ledger"}, "fields": obj{"owner": "finance", "rows": 12}}
}

func virtualBody(name, server string) obj {
	return obj{"name": name, "description": "Finance tools", "tools": arr{obj{"server": server, "tool": "t", "alias": "pay"}}}
}

func scopeBody(name string) obj {
	return obj{"name": name, "description": "Read finance", "grants": arr{obj{"server": "finance/*", "tools": arr{"t"}}},
		"publish": arr{"finance"}}
}

func groupMappingBody(group string, scopes ...string) obj {
	return obj{"group": group, "scopes": toArr(scopes)}
}

func clientMappingBody(client string, scopes ...string) obj {
	return obj{"client": client, "scopes": toArr(scopes)}
}

func toArr(s []string) arr {
	out := make(arr, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// with returns a shallow copy of o with the given members set (nil deletes).
func with(o obj, kv ...any) obj {
	c := make(obj, len(o))
	for k, v := range o {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// withVersion returns a server body whose single version has the given members set.
func withVersion(o obj, kv ...any) obj {
	v := o["versions"].(arr)[0].(obj)
	return with(o, "versions", arr{with(v, kv...)})
}

// create posts a body and requires 201.
func (e *env) create(t testing.TB, collection string, body any) obj {
	t.Helper()
	return e.do(t, http.MethodPost, collection, body).want(t, http.StatusCreated).object(t)
}

// rev reads the rev of a decoded object.
func rev(t testing.TB, o obj) int64 {
	t.Helper()
	f, ok := o["rev"].(float64)
	if !ok || f < 1 {
		t.Fatalf("object has no rev: %v", o)
	}
	return int64(f)
}

func etag(n int64) string { return `"` + strconv.FormatInt(n, 10) + `"` }
