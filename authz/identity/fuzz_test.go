package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpgw/mcpgw/authz/identity"
)

// FuzzVerify: Verify never panics on any input, and every outcome is a Principal with exactly one identity or a typed
// error (ErrNoToken or ErrInvalidToken; static keys leave no room for ErrKeysUnavailable).
func FuzzVerify(f *testing.F) {
	clk := newClock()
	dev, err := identity.LoadOrCreateDevIssuer(f.TempDir(), identity.DevOptions{Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	rs := newSigningKey(f, jwa.RS256, "rs")
	pub, err := rs.key.PublicKey()
	if err != nil {
		f.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		f.Fatal(err)
	}
	setJSON, err := jsonMarshal(set)
	if err != nil {
		f.Fatal(err)
	}
	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{
		dev.IssuerConfig(),
		{Issuer: "static", JWKS: string(setJSON), Audiences: []string{"mcpgw"},
			Claims: identity.ClaimsConfig{Groups: []identity.ClaimPath{"ext.groups", "https://x.example/g"}}},
	}}, identity.Options{Now: clk.Now, CacheSize: 16})
	if err != nil {
		f.Fatal(err)
	}
	devTok, err := dev.Issue("alice", []string{"g"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	now := clk.Now().Unix()
	f.Add(devTok)
	f.Add(rs.sign(f, map[string]any{"iss": "static", "aud": "mcpgw", "sub": "s", "exp": now + 60,
		"ext": map[string]any{"groups": []any{"a", 1, nil}}, "https://x.example/g": "b"}, nil))
	f.Add(rs.sign(f, map[string]any{"iss": "static", "aud": []any{1, "mcpgw"}, "exp": 1e300, "nbf": -1}, nil))
	f.Add(unsigned(f, map[string]any{"alg": "none"}, map[string]any{"iss": "static"}, nil))
	f.Add(unsigned(f, map[string]any{"alg": "ES256", "crit": []string{"b64"}, "b64": false}, map[string]any{"iss": "static"}, nil))
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiJ9.bnVsbA.")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, identity.ErrNoToken) && !errors.Is(err, identity.ErrInvalidToken) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if (p.Subject == "") == (p.ClientID == "") {
			t.Fatalf("accepted token must name exactly one of a subject and a machine client: %+v", p)
		}
	})
}

// FuzzBearerToken: the header parser never panics, and what it returns is a non-empty token68.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer a.b.c", "bearer  x", "Basic y", "", "Bearer", "Bearer a b", "Bearer\tq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := identity.BearerToken(h)
		if err != nil {
			if !errors.Is(err, identity.ErrNoToken) && !errors.Is(err, identity.ErrMalformedToken) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if tok == "" {
			t.Fatal("empty token without error")
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c == ' ' || c == '\t' || c < 0x21 || c > 0x7e {
				t.Fatalf("token %q contains %q", tok, c)
			}
		}
	})
}
