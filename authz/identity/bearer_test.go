package identity_test

import (
	"errors"
	"testing"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func TestBearerToken(t *testing.T) {
	// Invariant: only "Bearer <token68>" yields a token; an absent credential is ErrNoToken and any other shape is
	// ErrMalformedToken.
	tests := []struct {
		header string
		want   string
		err    error
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"bearer abc", "abc", nil},
		{"BEARER   abc-_~+/=", "abc-_~+/=", nil},
		{"  Bearer abc  ", "abc", nil},
		{"", "", identity.ErrNoToken},
		{"   ", "", identity.ErrNoToken},
		{"Bearer ", "", identity.ErrNoToken},
		{"Bearer", "", identity.ErrNoToken},
		{"Token abc", "", identity.ErrMalformedToken},
		{"Basic dXNlcjpwYXNz", "", identity.ErrMalformedToken},
		{"Bearerabc", "", identity.ErrMalformedToken},
		{"Bearer abc def", "", identity.ErrMalformedToken},
		{"Bearer abc\x00", "", identity.ErrMalformedToken},
	}
	for _, tc := range tests {
		got, err := identity.BearerToken(tc.header)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) || got != tc.want {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, err, tc.want, tc.err)
		}
	}
}
