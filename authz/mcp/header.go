package mcp

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Base64 sentinel of the stateless revision: a header value that is not plain visible ASCII (or that looks like the
// sentinel itself) travels as "=?base64?<standard Base64 of the UTF-8 value>?=". The markers are case-sensitive.
const (
	b64Prefix = "=?base64?"
	b64Suffix = "?="
)

// headerSafe reports whether v holds only what RFC 9110 allows in a field value and the specification allows in
// the mirrored headers: visible ASCII, space and horizontal tab.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c > 0x7E {
			return false
		}
	}
	return true
}

// decodeHeaderValue reads a Mcp-Name (or Mcp-Param-*) value, decoding the Base64 sentinel. Unpadded Base64 is
// accepted as well, since the specification does not say whether padding is kept.
func decodeHeaderValue(v string) (string, *Error) {
	if !headerSafe(v) {
		return "", headerMismatch("Mcp-Name has invalid characters")
	}
	if len(v) < len(b64Prefix)+len(b64Suffix) || !strings.HasPrefix(v, b64Prefix) || !strings.HasSuffix(v, b64Suffix) {
		return v, nil
	}
	enc := v[len(b64Prefix) : len(v)-len(b64Suffix)]
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		dec, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil {
		return "", headerMismatch("Mcp-Name has invalid Base64")
	}
	if !utf8.Valid(dec) {
		return "", headerMismatch("Mcp-Name decodes to invalid UTF-8")
	}
	return string(dec), nil
}
