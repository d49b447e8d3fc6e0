package mcp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// fuzzHeaders decodes "name: value" lines into the lower-cased map Envoy delivers.
func fuzzHeaders(s string) map[string]string {
	h := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return h
}

// FuzzParse proves that Parse never panics, that every failure is a typed *Error whose body is valid JSON-RPC, and
// that every success is internally consistent.
func FuzzParse(f *testing.F) {
	const v26 = "mcp-protocol-version: 2026-07-28\n"
	const v25 = "mcp-protocol-version: 2025-11-25\n"
	seeds := []struct {
		method, headers, body string
	}{
		// every method, legacy
		{"POST", "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`},
		{"POST", v25, `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris","n":[1,2.5,{"x":null}]}}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"resources/list"}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///a"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe","params":{"uri":"file:///a"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"prompts/list"}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p","arguments":{"a":"b"}}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"b"}}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///{x}"}}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":"e1","result":{"action":"accept"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"no"}}`},
		{"POST", v25, `{"jsonrpc":"2.0","id":1,"method":"vendor/x","params":{"name":"n"}}`},
		// batches
		{"POST", "", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","method":"notifications/progress"},{"jsonrpc":"2.0","id":2,"result":{}}]`},
		{"POST", "", `[]`},
		{"POST", "", `[1,2]`},
		{"POST", "mcp-method: ping\n", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`},
		// stateless, with and without body
		{"POST", v26 + "mcp-method: tools/call\nmcp-name: get_weather\n", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Seattle"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: resources/read\nmcp-name: =?base64?" + base64.StdEncoding.EncodeToString([]byte("file:///é")) + "?=\n", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///é","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: server/discover\n", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: subscriptions/listen\n", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: tools/call\nmcp-name: get_weather\n", ``},
		{"POST", v26 + "mcp-method: prompts/get\nmcp-name: =?base64?cA==?=\n", ``},
		{"POST", v26, ``},
		// mismatches
		{"POST", v26 + "mcp-method: tools/list\n", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: tools/call\nmcp-name: a\n", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", v26 + "mcp-method: tools/call\nmcp-name: a\n", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`},
		{"POST", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{"POST", "mcp-protocol-version: 1900-01-01\n", `{}`},
		// malformed
		{"POST", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"x"}`},
		{"POST", "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}"},
		{"POST", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800"}}`},
		{"POST", "", strings.Repeat("[", 100)},
		{"POST", "", `{"jsonrpc":"2.0","id":{},"method":"ping"}`},
		// other HTTP methods
		{"GET", "mcp-session-id: s-1\n" + v25, ``},
		{"DELETE", "mcp-session-id: s-1\n", ``},
		{"DELETE", "", ``},
		{"PATCH", "", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.headers, []byte(s.body))
	}
	p, err := NewParser(Config{MaxBatch: 8, MaxDepth: 16, MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, hdrs string, body []byte) {
		in := Input{Method: method, Headers: fuzzHeaders(hdrs), Body: body, ContextExtensions: testExt}
		r, err := p.Parse(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if r != nil {
				t.Fatalf("request returned with an error")
			}
			switch e.Status {
			case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d", e.Status)
			}
			switch e.Code {
			case CodeParseError, CodeInvalidRequest, CodeInvalidParams, CodeHeaderMismatch, CodeUnsupportedProtocolVersion:
			default:
				t.Fatalf("code %d", e.Code)
			}
			if !json.Valid(e.Body()) {
				t.Fatalf("error body is not JSON: %s", e.Body())
			}
			return
		}
		if r.Target != testTarget {
			t.Fatalf("target %+v", r.Target)
		}
		if r.Stateless && (r.Batch || r.SessionID != "") {
			t.Fatalf("stateless request with batch or session: %+v", r)
		}
		if r.Op == OpMessages && len(r.Messages) == 0 || r.Op != OpMessages && len(r.Messages) != 0 {
			t.Fatalf("op %s with %d messages", r.Op, len(r.Messages))
		}
		if len(r.Messages) > 8 || !r.Batch && len(r.Messages) > 1 {
			t.Fatalf("%d messages, batch=%v", len(r.Messages), r.Batch)
		}
		if !r.BodyInspected && r.Op == OpMessages && !r.Stateless {
			t.Fatalf("legacy POST accepted without a body")
		}
		for i := range r.Messages {
			m := &r.Messages[i]
			switch m.Kind {
			case KindRequest:
				if r.BodyInspected && !validID(m.ID) || m.Method == "" {
					t.Fatalf("request without id or method: %+v", m)
				}
			case KindNotification:
				if m.ID != nil || m.Method == "" {
					t.Fatalf("notification with id or without method: %+v", m)
				}
			case KindResponse:
				if m.Method != "" || m.ID != nil && !validID(m.ID) {
					t.Fatalf("bad response: %+v", m)
				}
			default:
				t.Fatalf("kind %v", m.Kind)
			}
			if m.Arguments != nil {
				if _, err := m.ArgumentMap(); err != nil {
					t.Fatalf("arguments do not decode: %v", err)
				}
			}
			if m.Known && m.Class() == ClassOther {
				t.Fatalf("known method classed other")
			}
		}
		if !json.Valid(r.ErrorBody(-32001, "denied", nil)) {
			t.Fatalf("request error body is not JSON")
		}
	})
}
