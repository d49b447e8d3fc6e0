package toolserver

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

func TestCursorRoundTrip(t *testing.T) {
	// Invariant: a cursor this server issued decodes to the key it encodes; anything else is refused.
	for _, key := range []string{"finance/ledger", "a/b c", "x/ü"} {
		if got, ok := decodeCursor(encodeCursor(key)); !ok || got != key {
			t.Errorf("%q: %q %v", key, got, ok)
		}
	}
	for _, bad := range []string{"", "not base64!", "ZmluYW5jZS9sZWRnZXI", encodeCursor("x")[:3]} {
		if _, ok := decodeCursor(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestVisibleServer(t *testing.T) {
	// Invariant: what get_server shows is a copy with secret references replaced by has_secret and every version's
	// tools cut to the callable ones; the shared catalog object is left untouched.
	srv := &catalog.Server{Name: "finance/ledger", Versions: []catalog.ServerVersion{
		{Version: "2.0.0", URL: "https://l/mcp", EgressAuth: &catalog.EgressAuth{Type: "bearer", SecretRef: "env:TOKEN"},
			Tools: []catalog.Tool{{Name: "get_balance"}, {Name: "transfer"}}},
		{Version: "1.0.0", URL: "https://l/mcp", Tools: []catalog.Tool{{Name: "transfer"}}},
	}}
	before, _ := json.Marshal(srv)
	out := visibleServer(srv, func(t string) bool { return t == "get_balance" })
	if a := out.Versions[0].EgressAuth; a.SecretRef != "" || !a.HasSecret {
		t.Errorf("egress auth %+v", a)
	}
	if got := [][]catalog.Tool{out.Versions[0].Tools, out.Versions[1].Tools}; !cmp.Equal(got, [][]catalog.Tool{{{Name: "get_balance"}}, nil}) {
		t.Errorf("tools %v", got)
	}
	if after, _ := json.Marshal(srv); string(after) != string(before) {
		t.Errorf("the catalog object changed:\n%s\n%s", before, after)
	}
	if all := visibleServer(srv, nil); len(all.Versions[0].Tools) != 2 {
		t.Errorf("nil filter dropped tools: %v", all.Versions[0].Tools)
	}
}

func TestToolDefinitionPrefersTheDefaultVersion(t *testing.T) {
	// Invariant: a tool's definition comes from the default version when it has the tool, else from the newest
	// version that has it.
	srv := &catalog.Server{Name: "a/b", Versions: []catalog.ServerVersion{
		{Version: "3.0.0", Tools: []catalog.Tool{{Name: "x", Description: "newest"}, {Name: "y", Description: "only in 3"}}},
		{Version: "2.0.0", Default: true, Tools: []catalog.Tool{{Name: "x", Description: "default"}}},
	}}
	for _, c := range []struct{ tool, version, desc string }{{"x", "2.0.0", "default"}, {"y", "3.0.0", "only in 3"}, {"z", "", ""}} {
		v, tl := toolDefinition(srv, c.tool)
		got := ""
		if tl != nil {
			got = tl.Description
		}
		if v != c.version || got != c.desc {
			t.Errorf("%s: %q %q", c.tool, v, got)
		}
	}
}
