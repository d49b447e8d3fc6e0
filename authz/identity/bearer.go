package identity

import (
	"fmt"
	"strings"
)

// BearerToken extracts the token from an Authorization header value ("Bearer <token>", scheme case-insensitive,
// RFC 6750 §2.1). An empty header, or the scheme alone, is ErrNoToken; any other scheme, or a value that is not a single token68, is
// ErrMalformedToken.
func BearerToken(authorization string) (string, error) {
	v := strings.TrimSpace(authorization)
	if v == "" {
		return "", ErrNoToken
	}
	const scheme = "bearer"
	if strings.EqualFold(v, scheme) {
		return "", ErrNoToken // the scheme with no credential
	}
	if len(v) < len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return "", fmt.Errorf("parse authorization header: %w: not a bearer credential", ErrMalformedToken)
	}
	tok := strings.TrimLeft(v[len(scheme):], " \t")
	if tok == "" {
		return "", ErrNoToken
	}
	for i := 0; i < len(tok); i++ {
		if !isToken68(tok[i]) {
			return "", fmt.Errorf("parse authorization header: %w: invalid character in token", ErrMalformedToken)
		}
	}
	return tok, nil
}

// isToken68 reports whether c may appear in a token68 (RFC 9110 §11.2).
func isToken68(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}
