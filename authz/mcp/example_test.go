package mcp_test

import (
	"errors"
	"fmt"

	"github.com/mcpgw/mcpgw/authz/mcp"
)

func ExampleParser_Parse() {
	p, err := mcp.NewParser(mcp.Config{})
	if err != nil {
		panic(err)
	}
	r, err := p.Parse(mcp.Input{
		Method: "POST",
		Headers: map[string]string{
			"mcp-protocol-version": "2026-07-28",
			"mcp-method":           "tools/call",
			"mcp-name":             "get_weather",
		},
		Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather",` +
			`"arguments":{"location":"Seattle, WA"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`),
		ContextExtensions: map[string]string{mcp.ExtKind: "server", mcp.ExtServer: "io.example/weather"},
	})
	if err != nil {
		panic(err)
	}
	m := r.Messages[0]
	args, _ := m.ArgumentMap()
	fmt.Println(r.Target.Server, r.Stateless, m.Class(), m.NameKind, m.Name, args["location"])

	// A header that disagrees with the body is a typed client error, rendered as a JSON-RPC error body.
	_, err = p.Parse(mcp.Input{
		Method:            "POST",
		Headers:           map[string]string{"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"},
		Body:              []byte(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}`),
		ContextExtensions: map[string]string{mcp.ExtKind: "server", mcp.ExtServer: "io.example/weather"},
	})
	var e *mcp.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, string(e.Body()))
	}
	// Output:
	// io.example/weather true tools/call tool get_weather Seattle, WA
	// 400 {"jsonrpc":"2.0","id":2,"error":{"code":-32020,"message":"Header mismatch: Mcp-Method does not match the body method"}}
}
