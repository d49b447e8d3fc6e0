package mcp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var testExt = map[string]string{ExtKind: "server", ExtServer: "io.example/weather", ExtVersion: "1.2.0"}

var testTarget = Target{Kind: "server", Server: "io.example/weather", Version: "1.2.0"}

func mustParser(t testing.TB, cfg Config) *Parser {
	t.Helper()
	p, err := NewParser(cfg)
	if err != nil {
		t.Fatalf("NewParser: %v", err)
	}
	return p
}

// modern returns headers of a stateless (2026-07-28) request.
func modern(kv ...string) map[string]string {
	h := map[string]string{"mcp-protocol-version": "2026-07-28"}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func headers(kv ...string) map[string]string {
	h := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// testInput is a request to the test route; an empty method means POST, nil headers mean none.
func testInput(method string, h map[string]string, body string) Input {
	if method == "" {
		method = http.MethodPost
	}
	if h == nil {
		h = map[string]string{}
	}
	return Input{Method: method, Path: "/mcp/io.example/weather", Headers: h, Body: []byte(body), ContextExtensions: testExt}
}

const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestParseAccepts(t *testing.T) {
	// Invariant: every well-formed request of every revision parses into exactly the messages its body (or, for a
	// stateless headers-only POST, its headers) carries, with method, name and arguments read from the right place.
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		body    string
		want    Request
	}{
		{
			name: "legacy tools/call without version header assumes 2025-03-26",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris","days":3}}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("1"),
				Method: MethodToolsCall, Known: true, Name: "get_weather", NameKind: NameTool,
				Arguments: raw(`{"city":"Paris","days":3}`)}}},
		},
		{
			name: "legacy initialize takes the version the client proposes",
			body: `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
			want: Request{ProtocolVersion: "2025-11-25", Messages: []Message{{Kind: KindRequest, ID: raw("0"),
				Method: MethodInitialize, Known: true}}},
		},
		{
			name:    "session id and version header of 2025-11-25",
			headers: headers("mcp-protocol-version", "2025-11-25", "mcp-session-id", "1868a90c-2a6f-4f67"),
			body:    `{"jsonrpc":"2.0","id":"a-1","method":"tools/list","params":{"cursor":"x"}}`,
			want: Request{ProtocolVersion: "2025-11-25", SessionID: "1868a90c-2a6f-4f67", Messages: []Message{{
				Kind: KindRequest, ID: raw(`"a-1"`), Method: MethodToolsList, Known: true}}},
		},
		{
			name: "notification",
			body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindNotification,
				Method: "notifications/initialized", Known: true}}},
		},
		{
			name: "any notifications/ method is known",
			body: `{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"t"}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindNotification,
				Method: "notifications/tasks/status", Known: true}}},
		},
		{
			name: "client answers an elicitation request",
			body: `{"jsonrpc":"2.0","id":7,"result":{"action":"accept","content":{"ok":true}}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindResponse, ID: raw("7")}}},
		},
		{
			name: "client error response with null id",
			body: `{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"declined"}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindResponse, IsError: true}}},
		},
		{
			name: "batch of a call, a notification and a response",
			body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{}}},
			        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":2}},
			        {"jsonrpc":"2.0","id":"s1","result":{}}]`,
			want: Request{ProtocolVersion: "2025-03-26", Batch: true, Messages: []Message{
				{Kind: KindRequest, ID: raw("1"), Method: MethodToolsCall, Known: true, Name: "a", NameKind: NameTool, Arguments: raw("{}")},
				{Kind: KindNotification, Method: "notifications/progress", Known: true},
				{Kind: KindResponse, ID: raw(`"s1"`)},
			}},
		},
		{
			name: "resources/read names the uri",
			body: `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///etc/app.json"}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("2"),
				Method: MethodResourcesRead, Known: true, Name: "file:///etc/app.json", NameKind: NameResource}}},
		},
		{
			name: "resources/subscribe and unsubscribe name the uri",
			body: `[{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"db://t"}},{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"db://t"}}]`,
			want: Request{ProtocolVersion: "2025-03-26", Batch: true, Messages: []Message{
				{Kind: KindRequest, ID: raw("3"), Method: MethodResourcesSubscribe, Known: true, Name: "db://t", NameKind: NameResource},
				{Kind: KindRequest, ID: raw("4"), Method: MethodResourcesUnsubscribe, Known: true, Name: "db://t", NameKind: NameResource},
			}},
		},
		{
			name: "prompts/get with arguments",
			body: `{"jsonrpc":"2.0","id":5,"method":"prompts/get","params":{"name":"review","arguments":{"code":"x := 1"}}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("5"),
				Method: MethodPromptsGet, Known: true, Name: "review", NameKind: NamePrompt, Arguments: raw(`{"code":"x := 1"}`)}}},
		},
		{
			name: "completion/complete of a prompt and of a resource",
			body: `[{"jsonrpc":"2.0","id":6,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"lang","value":"g"}}},
			        {"jsonrpc":"2.0","id":7,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///{path}"},"argument":{"name":"path","value":"a"}}}]`,
			want: Request{ProtocolVersion: "2025-03-26", Batch: true, Messages: []Message{
				{Kind: KindRequest, ID: raw("6"), Method: MethodCompletionComplete, Known: true, Name: "review", NameKind: NamePrompt},
				{Kind: KindRequest, ID: raw("7"), Method: MethodCompletionComplete, Known: true, Name: "file:///{path}", NameKind: NameResource},
			}},
		},
		{
			name: "list methods, ping and logging",
			body: `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"resources/list","params":null},
			        {"jsonrpc":"2.0","id":3,"method":"resources/templates/list"},{"jsonrpc":"2.0","id":4,"method":"prompts/list"},
			        {"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"debug"}}]`,
			want: Request{ProtocolVersion: "2025-03-26", Batch: true, Messages: []Message{
				{Kind: KindRequest, ID: raw("1"), Method: MethodPing, Known: true},
				{Kind: KindRequest, ID: raw("2"), Method: MethodResourcesList, Known: true},
				{Kind: KindRequest, ID: raw("3"), Method: MethodResourcesTemplatesList, Known: true},
				{Kind: KindRequest, ID: raw("4"), Method: MethodPromptsList, Known: true},
				{Kind: KindRequest, ID: raw("5"), Method: MethodLoggingSetLevel, Known: true},
			}},
		},
		{
			name: "unknown method is parsed with a best-effort name",
			body: `{"jsonrpc":"2.0","id":9,"method":"vendor/run","params":{"name":"job-1"}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("9"),
				Method: "vendor/run", Name: "job-1"}}},
		},
		{
			name: "escapes in method and name are decoded before use",
			body: `{"jsonrpc":"2\u002e0","id":-1.5e3,"method":"tools\/call","params":{"name":"get\u005fweather\ud83d\ude00"}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("-1.5e3"),
				Method: MethodToolsCall, Known: true, Name: "get_weather\U0001F600", NameKind: NameTool}}},
		},
		{
			name: "equal keys in different objects and unknown members are fine",
			body: `{"jsonrpc":"2.0","id":1,"x-trace":{"name":1},"method":"tools/call","params":{"name":"n","arguments":{"name":"inner","arguments":[{"name":1},{"name":2}]}}}`,
			want: Request{ProtocolVersion: "2025-03-26", Messages: []Message{{Kind: KindRequest, ID: raw("1"),
				Method: MethodToolsCall, Known: true, Name: "n", NameKind: NameTool,
				Arguments: raw(`{"name":"inner","arguments":[{"name":1},{"name":2}]}`)}}},
		},
		{
			name:    "legacy client mirroring headers that agree",
			headers: headers("mcp-protocol-version", "2025-11-25", "mcp-method", "tools/call", "mcp-name", "get_weather"),
			body:    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather"}}`,
			want: Request{ProtocolVersion: "2025-11-25", Messages: []Message{{Kind: KindRequest, ID: raw("1"),
				Method: MethodToolsCall, Known: true, Name: "get_weather", NameKind: NameTool}}},
		},
		{
			name:    "stateless tools/call",
			headers: modern("mcp-method", "tools/call", "mcp-name", "get_weather", "mcp-session-id", "ignored"),
			body:    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Seattle, WA"},` + meta + `}}`,
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindRequest, ID: raw("1"),
				Method: MethodToolsCall, Known: true, Name: "get_weather", NameKind: NameTool,
				Arguments: raw(`{"location":"Seattle, WA"}`)}}},
		},
		{
			name: "stateless Mcp-Name in the Base64 sentinel form",
			headers: modern("mcp-method", "resources/read",
				"mcp-name", "=?base64?"+base64.StdEncoding.EncodeToString([]byte("file:///données/é.txt"))+"?="),
			body: `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///données/é.txt",` + meta + `}}`,
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindRequest, ID: raw("2"),
				Method: MethodResourcesRead, Known: true, Name: "file:///données/é.txt", NameKind: NameResource}}},
		},
		{
			name:    "stateless discover and listen need no Mcp-Name",
			headers: modern("mcp-method", "server/discover"),
			body:    `{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{` + meta + `}}`,
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindRequest, ID: raw(`"d"`),
				Method: MethodServerDiscover, Known: true}}},
		},
		{
			name:    "stateless notification may omit headers and _meta",
			headers: modern(),
			body:    `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindNotification,
				Method: "notifications/cancelled", Known: true}}},
		},
		{
			name:    "stateless headers-only tools/call",
			headers: modern("mcp-method", "tools/call", "mcp-name", "get_weather"),
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindRequest,
				Method: MethodToolsCall, Known: true, Name: "get_weather", NameKind: NameTool}}},
		},
		{
			name:    "stateless headers-only notification",
			headers: modern("mcp-method", "notifications/roots/list_changed"),
			want: Request{ProtocolVersion: "2026-07-28", Stateless: true, Messages: []Message{{Kind: KindNotification,
				Method: "notifications/roots/list_changed", Known: true}}},
		},
		{
			name:    "GET opens the legacy SSE stream",
			method:  http.MethodGet,
			headers: headers("mcp-protocol-version", "2025-06-18", "mcp-session-id", "s-1"),
			want:    Request{ProtocolVersion: "2025-06-18", SessionID: "s-1", Op: OpOpenStream},
		},
		{
			name:    "DELETE ends the legacy session",
			method:  http.MethodDelete,
			headers: headers("mcp-session-id", "s-1"),
			want:    Request{ProtocolVersion: "2025-03-26", SessionID: "s-1", Op: OpEndSession},
		},
		{
			name:    "stateless GET is passed on for the server to refuse",
			method:  http.MethodGet,
			headers: modern(),
			want:    Request{ProtocolVersion: "2026-07-28", Stateless: true, Op: OpOpenStream},
		},
	}
	p := mustParser(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(tc.method, tc.headers, tc.body)
			got, err := p.Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want
			want.Target, want.HTTPMethod, want.Path = testTarget, in.Method, in.Path
			if want.Op == "" {
				want.Op = OpMessages
			}
			want.BodyInspected = want.Op == OpMessages && tc.body != ""
			if diff := cmp.Diff(&want, got, cmpopts.IgnoreUnexported(Request{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	// Invariant: every malformed, ambiguous or inconsistent request is refused with a typed *Error whose HTTP status
	// and JSON-RPC code say why, echoing the offending message's id whenever it could be read.
	deep := strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70)
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"b":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}}`
	batch65 := "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","method":"ping","id":1},`, 65), ",") + "]"
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		body    string
		status  int
		code    int
		id      string // expected echoed id; "" means null
	}{
		{name: "PUT", method: http.MethodPut, body: `{}`, status: 405, code: CodeInvalidRequest},
		{name: "empty legacy body", status: 400, code: CodeParseError},
		{name: "truncated JSON", body: `{"jsonrpc":"2.0","id":1,"method":`, status: 400, code: CodeParseError},
		{name: "trailing data", body: `{"jsonrpc":"2.0","id":1,"method":"ping"} {}`, status: 400, code: CodeParseError},
		{name: "duplicate method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`, status: 400, code: CodeParseError},
		{name: "duplicate name via escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","n\u0061me":"b"}}`, status: 400, code: CodeParseError},
		{name: "duplicate key deep in arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":[{"k":1,"k":2}]}}}`, status: 400, code: CodeParseError},
		{name: "duplicate key in a large object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{` + manyKeys(40) + `,"k7":0}}}`, status: 400, code: CodeParseError},
		// Go's encoding/json (most Go MCP servers) matches member names case-insensitively, with Unicode simple
		// folding (U+017F folds to "s", U+212A to "k"), and lets the last match win.
		{name: "method differing only in case", body: `{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call","params":{"name":"a"}}`, status: 400, code: CodeParseError},
		{name: "name differing only in case", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","NAME":"danger"}}`, status: 400, code: CodeParseError},
		{name: "params folded via long s", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe"},"param\u017f":{"name":"danger"}}`, status: 400, code: CodeParseError},
		{name: "case-folded keys in a large object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{` + manyKeys(40) + `,"K7":0}}}`, status: 400, code: CodeParseError},
		{name: "method only in another case on a response", body: `{"jsonrpc":"2.0","id":1,"result":{},"Method":"tools/call","Params":{"name":"danger"}}`, status: 400, code: CodeParseError},
		{name: "invalid UTF-8", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\xff\"}}", status: 400, code: CodeParseError},
		{name: "lone surrogate", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\ud800"}}`, status: 400, code: CodeParseError},
		{name: "too deep", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"d":` + deep + `}}}`, status: 400, code: CodeParseError},
		{name: "body over the limit", body: big, status: 413, code: CodeInvalidRequest},
		{name: "partial body from Envoy", headers: headers("x-envoy-auth-partial-body", "true"), body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, status: 413, code: CodeInvalidRequest},
		{name: "number body", body: `42`, status: 400, code: CodeInvalidRequest},
		{name: "null body", body: `null`, status: 400, code: CodeInvalidRequest},
		{name: "empty batch", body: `[]`, status: 400, code: CodeInvalidRequest},
		{name: "batch over the limit", body: batch65, status: 400, code: CodeInvalidRequest},
		{name: "batch element not an object", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"},1]`, status: 400, code: CodeInvalidRequest},
		{name: "batch with malformed tail is a parse error", body: `[1,{"jsonrpc":"2.0","id":1,"method":"ping"},]`, status: 400, code: CodeParseError},
		{name: "wrong jsonrpc version", body: `{"jsonrpc":"1.0","id":3,"method":"ping"}`, status: 400, code: CodeInvalidRequest, id: "3"},
		{name: "missing jsonrpc", body: `{"id":"x","method":"ping"}`, status: 400, code: CodeInvalidRequest, id: `"x"`},
		{name: "method not a string", body: `{"jsonrpc":"2.0","id":1,"method":7}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "empty method", body: `{"jsonrpc":"2.0","id":1,"method":""}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "id is a boolean", body: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, status: 400, code: CodeInvalidRequest},
		{name: "request id null", body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, status: 400, code: CodeInvalidRequest},
		{name: "method and result", body: `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "result and error", body: `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "nothing", body: `{"jsonrpc":"2.0","id":1}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "response without id", body: `{"jsonrpc":"2.0","result":{}}`, status: 400, code: CodeInvalidRequest},
		{name: "result with null id", body: `{"jsonrpc":"2.0","id":null,"result":{}}`, status: 400, code: CodeInvalidRequest},
		{name: "error not an object", body: `{"jsonrpc":"2.0","id":1,"error":"bad"}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "tools/call without name", body: `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}}`, status: 400, code: CodeInvalidParams, id: "4"},
		{name: "tools/call without params", body: `{"jsonrpc":"2.0","id":4,"method":"tools/call"}`, status: 400, code: CodeInvalidParams, id: "4"},
		{name: "tools/call name not a string", body: `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":["a"]}}`, status: 400, code: CodeInvalidParams, id: "4"},
		{name: "tools/call arguments array", body: `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"a","arguments":[1]}}`, status: 400, code: CodeInvalidParams, id: "4"},
		{name: "resources/read without uri", body: `{"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"name":"x"}}`, status: 400, code: CodeInvalidParams, id: `"r"`},
		{name: "completion/complete bad ref type", body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/tool","name":"x"}}}`, status: 400, code: CodeInvalidParams, id: "1"},
		{name: "completion/complete ref without name", body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt"}}}`, status: 400, code: CodeInvalidParams, id: "1"},
		{name: "params array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}`, status: 400, code: CodeInvalidParams, id: "1"},
		{name: "semantic error of a later batch message echoes its id", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call"}]`, status: 400, code: CodeInvalidParams, id: "2"},
		{name: "unsupported version", headers: headers("mcp-protocol-version", "1900-01-01"), body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, status: 400, code: CodeUnsupportedProtocolVersion},
		{name: "version with control characters", headers: headers("mcp-protocol-version", "2025-11-25\x01"), body: `{}`, status: 400, code: CodeHeaderMismatch},
		{name: "stateless batch", headers: modern("mcp-method", "ping"), body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, status: 400, code: CodeInvalidRequest},
		{name: "stateless response", headers: modern(), body: `{"jsonrpc":"2.0","id":1,"result":{}}`, status: 400, code: CodeInvalidRequest, id: "1"},
		{name: "stateless without Mcp-Method", headers: modern(), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Method differs", headers: modern("mcp-method", "tools/list"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a",` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Method differs only by case", headers: modern("mcp-method", "Tools/List"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless without Mcp-Name", headers: modern("mcp-method", "tools/call"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a",` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Name differs", headers: modern("mcp-method", "tools/call", "mcp-name", "safe_tool"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all",` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Name bad Base64", headers: modern("mcp-method", "tools/call", "mcp-name", "=?base64?***?="), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a",` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Name non-ASCII raw", headers: modern("mcp-method", "tools/call", "mcp-name", "é"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"é",` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless Mcp-Name on a method without a name", headers: modern("mcp-method", "tools/list", "mcp-name", "x"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless body without _meta version", headers: modern("mcp-method", "tools/list"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "stateless _meta version differs", headers: modern("mcp-method", "tools/list"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "_meta version not a string", headers: modern("mcp-method", "tools/list"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}}`, status: 400, code: CodeInvalidParams, id: "1"},
		{name: "modern body without version header", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "legacy mirrored Mcp-Method differs", headers: headers("mcp-method", "tools/list"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "legacy mirrored Mcp-Name differs", headers: headers("mcp-name", "a"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b"}}`, status: 400, code: CodeHeaderMismatch, id: "1"},
		{name: "legacy batch with Mcp-Method", headers: headers("mcp-method", "ping"), body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, status: 400, code: CodeHeaderMismatch},
		{name: "headers-only without Mcp-Method", headers: modern(), status: 400, code: CodeHeaderMismatch},
		{name: "headers-only tools/call without Mcp-Name", headers: modern("mcp-method", "tools/call"), status: 400, code: CodeHeaderMismatch},
		{name: "headers-only Mcp-Method with control characters", headers: modern("mcp-method", "tools/call\x7f"), status: 400, code: CodeHeaderMismatch},
		{name: "DELETE without session", method: http.MethodDelete, status: 400, code: CodeInvalidRequest},
		{name: "session id with a space", headers: headers("mcp-session-id", "a b"), body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, status: 400, code: CodeInvalidRequest},
	}
	p := mustParser(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Parse(testInput(tc.method, tc.headers, tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %+v, %v; want *Error", got, err)
			}
			if got != nil {
				t.Errorf("Parse returned a request with an error")
			}
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("error = %d %d %q; want status %d code %d", e.Status, e.Code, e.Message, tc.status, tc.code)
			}
			if string(e.ID) != tc.id {
				t.Errorf("error id = %q; want %q", e.ID, tc.id)
			}
			body := e.Body()
			if !json.Valid(body) {
				t.Errorf("error body is not JSON: %s", body)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`":0`)
	}
	return b.String()
}

func TestParseUnsupportedVersionData(t *testing.T) {
	// Invariant: an unsupported version is answered with the supported list and the requested value, so a client can
	// retry with a version both sides speak.
	p := mustParser(t, Config{SupportedVersions: []string{"2025-11-25", "2026-07-28"}})
	_, err := p.Parse(Input{Method: http.MethodPost, Headers: headers("mcp-protocol-version", "2025-06-18"),
		Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), ContextExtensions: testExt})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnsupportedProtocolVersion {
		t.Fatalf("Parse error = %v; want UnsupportedProtocolVersion", err)
	}
	want := `{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25","2026-07-28"],"requested":"2025-06-18"}}}`
	if got := string(e.Body()); got != want {
		t.Errorf("Body =\n%s\nwant\n%s", got, want)
	}
}

func TestParseRequireVersionHeader(t *testing.T) {
	// Invariant: with RequireVersionHeader, only a legacy initialize may omit MCP-Protocol-Version.
	p := mustParser(t, Config{RequireVersionHeader: true})
	_, err := p.Parse(Input{Method: http.MethodPost, Headers: map[string]string{},
		Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), ContextExtensions: testExt})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeHeaderMismatch || string(e.ID) != "1" {
		t.Fatalf("tools/list without header: err = %v; want HeaderMismatch with id 1", err)
	}
	r, err := p.Parse(Input{Method: http.MethodPost, Headers: map[string]string{},
		Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`), ContextExtensions: testExt})
	if err != nil || r.ProtocolVersion != "2025-11-25" {
		t.Fatalf("initialize without header: %+v, %v", r, err)
	}
}

func TestParseNoTarget(t *testing.T) {
	// Invariant: a route without a server is the gateway's fault: ErrNoTarget, never a client *Error; a route
	// without a kind serves a server.
	p := mustParser(t, Config{})
	r, err := p.Parse(Input{Method: http.MethodGet, ContextExtensions: map[string]string{ExtServer: "x"}})
	if err != nil || r.Target != (Target{Kind: DefaultKind, Server: "x"}) {
		t.Errorf("route without kind: %+v, %v", r, err)
	}
	for _, ext := range []map[string]string{nil, {ExtKind: "server"}, {ExtKind: "virtual", ExtVersion: "1"}} {
		_, err := p.Parse(Input{Method: http.MethodPost, Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), ContextExtensions: ext})
		var e *Error
		if !errors.Is(err, ErrNoTarget) || errors.As(err, &e) {
			t.Errorf("ext %v: err = %v; want ErrNoTarget", ext, err)
		}
	}
}

func TestTargetFromRequest(t *testing.T) {
	// Invariant: ExtFromRequest resolves the server from the path /mcp/{namespace}/{name} (any suffix or query
	// ignored) and the version from Mcp-Server-Version; a path naming no server is ErrNoTarget.
	from := map[string]string{ExtKind: "server", ExtServer: ExtFromRequest, ExtVersion: ExtFromRequest}
	pinned := map[string]string{headerServerVersion: "2.1.0"}
	tests := []struct {
		path string
		want Target
	}{
		{"/mcp/finance/ledger", Target{Kind: "server", Server: "finance/ledger", Version: "2.1.0"}},
		{"/mcp/finance/ledger/", Target{Kind: "server", Server: "finance/ledger", Version: "2.1.0"}},
		{"/mcp/finance/ledger/sse/x?y=1", Target{Kind: "server", Server: "finance/ledger", Version: "2.1.0"}},
		{"/mcp/finance/ledger?session=1", Target{Kind: "server", Server: "finance/ledger", Version: "2.1.0"}},
	}
	for _, tc := range tests {
		got, err := TargetOf(Input{Path: tc.path, Headers: pinned, ContextExtensions: from})
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
	for _, path := range []string{"", "/", "/mcp/", "/mcp/finance", "/mcp/finance/", "/mcp//ledger", "/api/v1/servers", "/mcpx/a/b"} {
		if _, err := TargetOf(Input{Path: path, Headers: pinned, ContextExtensions: from}); !errors.Is(err, ErrNoTarget) {
			t.Errorf("%q: err = %v; want ErrNoTarget", path, err)
		}
	}
	// Without the header the version is the default one.
	got, err := TargetOf(Input{Path: "/mcp/a/b", ContextExtensions: from})
	if err != nil || got.Version != "" {
		t.Errorf("no header: %+v, %v", got, err)
	}
}

func TestConfigValidate(t *testing.T) {
	// Invariant: a configuration that could not parse real traffic is refused at start, naming every problem.
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "zero value", cfg: Config{}, ok: true},
		{name: "explicit", cfg: Config{MaxBodyBytes: 4096, MaxBatch: 1, MaxDepth: 8, SupportedVersions: []string{"2026-07-28"}}, ok: true},
		{name: "negative body", cfg: Config{MaxBodyBytes: -1}},
		{name: "negative batch", cfg: Config{MaxBatch: -1}},
		{name: "depth too large", cfg: Config{MaxDepth: 10000}},
		{name: "depth too small for arguments", cfg: Config{MaxDepth: 2}},
		{name: "malformed version", cfg: Config{SupportedVersions: []string{"latest"}}},
		{name: "empty versions", cfg: Config{SupportedVersions: []string{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewParser(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("NewParser(%+v) err = %v; want ok=%v", tc.cfg, err, tc.ok)
			}
		})
	}
}

func TestMessageClassAndArguments(t *testing.T) {
	// Invariant: Class names known methods, folds unknown ones into "other" and responses into "response"; the
	// argument map equals what encoding/json decodes from the same bytes, numbers kept exact.
	p := mustParser(t, Config{})
	r, err := p.Parse(Input{Method: http.MethodPost, ContextExtensions: testExt, Body: []byte(`[
		{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":12345678901234567890,"f":1.5,"s":"\u00e9\n","a":[true,null,{"x":{}}]}}},
		{"jsonrpc":"2.0","id":2,"method":"vendor/x"},
		{"jsonrpc":"2.0","id":3,"result":{}}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{r.Messages[0].Class(), r.Messages[1].Class(), r.Messages[2].Class()}; !cmp.Equal(got, []string{"tools/call", ClassOther, ClassResponse}) {
		t.Errorf("classes = %v", got)
	}
	got, err := r.Messages[0].ArgumentMap()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(r.Messages[0].Arguments)))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ArgumentMap mismatch (-encoding/json +got):\n%s", diff)
	}
	if m, err := r.Messages[1].ArgumentMap(); m != nil || err != nil {
		t.Errorf("no arguments: %v, %v", m, err)
	}
	tampered := Message{Arguments: raw(`[1]`)}
	if _, err := tampered.ArgumentMap(); err == nil {
		t.Errorf("ArgumentMap of a non-object succeeded")
	}
}

func TestParseDoesNotAliasAcrossCalls(t *testing.T) {
	// Invariant: a Request owns its messages; parsing another body does not change an earlier result.
	p := mustParser(t, Config{})
	in := func(name string) Input {
		return Input{Method: http.MethodPost, ContextExtensions: testExt,
			Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + name + `"}}`)}
	}
	a, err := p.Parse(in("first"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(in("second")); err != nil {
		t.Fatal(err)
	}
	if a.Messages[0].Name != "first" {
		t.Errorf("first request changed: %q", a.Messages[0].Name)
	}
}
