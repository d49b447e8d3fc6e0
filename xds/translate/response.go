package translate

import (
	"encoding/json"
	"net/http"
)

// JSON-RPC error codes of the gateway's own answers, in the implementation-defined server-error range. They are
// documented in docs/xds.md; MCP clients see them in the error of a direct response.
const (
	// CodeServerBlocked: the server is disabled, security-pending or awaiting a scan (HTTP 403).
	CodeServerBlocked = -32030
	// CodeVersionRetired: the pinned version, or every version, is retired (HTTP 410).
	CodeVersionRetired = -32031
	// CodeVersionUnknown: the pinned version does not exist (HTTP 404).
	CodeVersionUnknown = -32032
)

// directAnswer is a gateway-made JSON-RPC error answer.
type directAnswer struct {
	status  uint32
	code    int
	message string
}

func blocked(message string) directAnswer {
	return directAnswer{status: http.StatusForbidden, code: CodeServerBlocked, message: message}
}

func retired(message string) directAnswer {
	return directAnswer{status: http.StatusGone, code: CodeVersionRetired, message: message}
}

func unknownVersion(message string) directAnswer {
	return directAnswer{status: http.StatusNotFound, code: CodeVersionUnknown, message: message}
}

// body renders {"jsonrpc":"2.0","id":null,"error":{"code":...,"message":"..."}}. The id is null because the gateway
// answers before reading the request. encoding/json escapes the message, so any server name is safe in it.
func (a directAnswer) body() string {
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	b, err := json.Marshal(struct {
		JSONRPC string   `json:"jsonrpc"`
		ID      *int     `json:"id"`
		Error   rpcError `json:"error"`
	}{"2.0", nil, rpcError{a.code, a.message}})
	if err != nil { // a struct of strings and ints always marshals
		return `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}`
	}
	return string(b)
}
