package mcp

import (
	"net/http"
	"testing"
)

// A tools/call as Claude Code or the Go SDK sends it: a few string and number arguments and a progress token.
const benchToolsCall = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"mcpgw/mcpgw","query":"is:open label:bug ext_authz","limit":20,"include_closed":false},"_meta":{"progressToken":"p-42"}}}`

const benchStateless = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"mcpgw/mcpgw","query":"is:open label:bug ext_authz","limit":20,"include_closed":false},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}`

func benchParse(b *testing.B, in Input) {
	p := mustParser(b, Config{})
	b.SetBytes(int64(len(in.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseToolsCall(b *testing.B) {
	benchParse(b, Input{Method: http.MethodPost, Path: "/mcp/io.example/gh", ContextExtensions: testExt,
		Headers: map[string]string{"mcp-protocol-version": "2025-11-25", "mcp-session-id": "0b1c7c1e-5d0b-4c55-8d4c-8c3a2c1b0f9e",
			"content-type": "application/json", "accept": "application/json, text/event-stream"},
		Body: []byte(benchToolsCall)})
}

func BenchmarkParseToolsCallStateless(b *testing.B) {
	benchParse(b, Input{Method: http.MethodPost, Path: "/mcp/io.example/gh", ContextExtensions: testExt,
		Headers: map[string]string{"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "search_issues",
			"content-type": "application/json", "accept": "application/json, text/event-stream"},
		Body: []byte(benchStateless)})
}

func BenchmarkArgumentMap(b *testing.B) {
	p := mustParser(b, Config{})
	r, err := p.Parse(Input{Method: http.MethodPost, ContextExtensions: testExt, Body: []byte(benchToolsCall)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Messages[0].ArgumentMap(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkErrorBody(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = ErrorBody(raw("42"), -32003, "Forbidden: tools/call search_issues needs scope issues:read", nil)
	}
}
