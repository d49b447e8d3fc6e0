package mcp

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestErrorBody(t *testing.T) {
	// Invariant: the body is always one valid JSON-RPC error object; a string or number id is echoed byte for byte,
	// anything else becomes null; data is included only when it marshals.
	tests := []struct {
		name    string
		id      json.RawMessage
		code    int
		message string
		data    any
		want    string
	}{
		{name: "number id", id: raw("42"), code: -32600, message: "Invalid Request",
			want: `{"jsonrpc":"2.0","id":42,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{name: "string id kept verbatim", id: raw(`"a\u0041"`), code: 403, message: "Forbidden",
			want: `{"jsonrpc":"2.0","id":"a\u0041","error":{"code":403,"message":"Forbidden"}}`},
		{name: "nil id", code: -32700, message: "Parse error",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "object id is not echoed", id: raw(`{"x":1}`), code: 1, message: "m",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
		{name: "id with trailing garbage is not echoed", id: raw(`1,"x":2`), code: 1, message: "m",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
		{name: "message is escaped", id: raw("1"), code: 1, message: "a\"b\\c\n\x01\xff",
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"a\"b\\c\n\u0001\ufffd"}}`},
		{name: "data", id: raw("1"), code: -32003, message: "Forbidden", data: map[string]any{"scopes": []string{"tools:call"}},
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"Forbidden","data":{"scopes":["tools:call"]}}}`},
		{name: "data that cannot marshal is dropped", id: raw("1"), code: 1, message: "m", data: make(chan int),
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ErrorBody(tc.id, tc.code, tc.message, tc.data)
			if string(got) != tc.want {
				t.Errorf("ErrorBody =\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON")
			}
		})
	}
}

func TestRequestErrorBody(t *testing.T) {
	// Invariant: a denial answers every request message of a batch with its own id, answers notifications and
	// responses with nothing, and falls back to one null-id error when there is nothing to echo.
	p := mustParser(t, Config{})
	parse := func(method, body string) *Request {
		t.Helper()
		r, err := p.Parse(Input{Method: method, Headers: map[string]string{"mcp-session-id": "s"}, Body: []byte(body), ContextExtensions: testExt})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name string
		req  *Request
		want string
	}{
		{name: "single", req: parse(http.MethodPost, `{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"t"}}`),
			want: `{"jsonrpc":"2.0","id":"x","error":{"code":-32001,"message":"denied"}}`},
		{name: "notification", req: parse(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`),
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"denied"}}`},
		{name: "batch", req: parse(http.MethodPost, `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress"},{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":9,"result":{}}]`),
			want: `[{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"denied"}},{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"denied"}}]`},
		{name: "batch without requests", req: parse(http.MethodPost, `[{"jsonrpc":"2.0","method":"notifications/progress"}]`),
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"denied"}}`},
		{name: "GET", req: parse(http.MethodGet, ``),
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"denied"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.req.ErrorBody(-32001, "denied", nil)); got != tc.want {
				t.Errorf("ErrorBody =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	// Invariant: the error text for logs carries the message and the JSON-RPC code.
	e := &Error{Status: 400, Code: CodeParseError, Message: "Parse error"}
	if got, want := e.Error(), "mcp request: Parse error (-32700)"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}
