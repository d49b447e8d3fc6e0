package mcp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// JSON-RPC 2.0 and MCP error codes used in the answers ext_authz renders.
const (
	CodeParseError     = -32700 // the body is not valid JSON (or not JSON this package accepts)
	CodeInvalidRequest = -32600 // valid JSON, but not a valid JSON-RPC message for this transport
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602 // params of a known method have the wrong shape (e.g. tools/call without a name)
	CodeInternalError  = -32603

	// CodeHeaderMismatch: the Mcp-Method, Mcp-Name or MCP-Protocol-Version headers are missing, malformed, or disagree
	// with the body (MCP 2026-07-28, Streamable HTTP "Server Validation").
	CodeHeaderMismatch = -32020
	// CodeMissingRequiredClientCapability is defined by MCP 2026-07-28; this package never produces it.
	CodeMissingRequiredClientCapability = -32021
	// CodeUnsupportedProtocolVersion: MCP-Protocol-Version names a version the gateway does not accept. The error's
	// Data lists the supported versions, as the specification requires.
	CodeUnsupportedProtocolVersion = -32022
)

// ErrNoTarget means the route's ext_authz context_extensions do not name a server. That is a gateway
// configuration fault, not the client's: the Check server must fail closed with a gRPC error rather than a 400.
var ErrNoTarget = errors.New("route names no mcpgw target")

// Error is a client fault found while parsing an MCP request. ext_authz answers it with HTTP Status and a JSON-RPC
// error body built by Body. Every error Parse returns is an *Error except ErrNoTarget.
type Error struct {
	Status  int             // HTTP status: 400, 405 or 413
	Code    int             // JSON-RPC error code, one of the Code constants
	Message string          // safe to send to the client; never contains internal details
	ID      json.RawMessage // id of the offending message when it could be read; nil renders as null
	Data    any             // optional error data (UnsupportedProtocolVersion carries {supported, requested})
}

func (e *Error) Error() string {
	return "mcp request: " + e.Message + " (" + strconv.Itoa(e.Code) + ")"
}

// Body renders the error as a JSON-RPC error response echoing e.ID.
func (e *Error) Body() []byte {
	return ErrorBody(e.ID, e.Code, e.Message, e.Data)
}

// UnsupportedVersionData is the data member of an UnsupportedProtocolVersion error.
type UnsupportedVersionData struct {
	Supported []string `json:"supported"`
	Requested string   `json:"requested"`
}

func parseError(err error) *Error {
	msg := "Parse error"
	switch {
	case errors.Is(err, errDepth):
		msg = "Parse error: JSON nesting too deep"
	case errors.Is(err, errDuplicateKey):
		msg = "Parse error: duplicate object key"
	case errors.Is(err, errCaseVariant):
		msg = "Parse error: member name differs from a JSON-RPC or MCP member only in case"
	case errors.Is(err, errInvalidUTF8):
		msg = "Parse error: invalid UTF-8"
	case errors.Is(err, errLoneSurrogate):
		msg = "Parse error: unpaired surrogate escape"
	case errors.Is(err, errTrailingData):
		msg = "Parse error: data after the JSON value"
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeParseError, Message: msg}
}

func invalidRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "Invalid Request: " + msg}
}

func invalidParams(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "Invalid params: " + msg}
}

func headerMismatch(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeHeaderMismatch, Message: "Header mismatch: " + msg}
}

// ErrorBody renders a JSON-RPC 2.0 error response: {"jsonrpc":"2.0","id":<id>,"error":{"code":..,"message":..,"data":..}}.
// id is echoed verbatim when it is a JSON string or number (as Message.ID holds it); anything else, including nil,
// renders as null, which is what JSON-RPC prescribes when the id could not be determined. data is omitted when nil or
// when it cannot be marshalled. Invalid UTF-8 in message is replaced, so the body is always valid JSON.
func ErrorBody(id json.RawMessage, code int, message string, data any) []byte {
	b := make([]byte, 0, 96+len(message))
	return appendErrorObject(b, id, code, message, data)
}

func appendErrorObject(b []byte, id json.RawMessage, code int, message string, data any) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	if validID(id) {
		b = append(b, id...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	if data != nil {
		if d, err := json.Marshal(data); err == nil {
			b = append(b, `,"data":`...)
			b = append(b, d...)
		}
	}
	return append(b, "}}"...)
}

// validID reports whether id is a single JSON string or number that may be echoed as a JSON-RPC id.
func validID(id json.RawMessage) bool {
	if len(id) == 0 || len(id) > maxIDBytes {
		return false
	}
	if c := id[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
		return false
	}
	return validateJSON(id, 1) == nil
}

// maxIDBytes bounds the id this package echoes; a longer id is not a plausible request id.
const maxIDBytes = 256

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal, escaping quotes, backslashes and control characters and
// replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
