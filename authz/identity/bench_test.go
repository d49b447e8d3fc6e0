package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/mcpgw/mcpgw/authz/identity"
)

// BenchmarkVerify measures Verify for a typical access token (about a dozen claims, three groups, two scopes):
// "cached" is a client re-sending its token, the ext_authz steady state; the other cases verify the signature
// and decode the claims on every call.
func BenchmarkVerify(b *testing.B) {
	idp := newFakeIdP(b)
	keys := map[string]signingKey{
		"RS256": idp.addKey(b, jwa.RS256),
		"ES256": idp.addKey(b, jwa.ES256),
		"EdDSA": idp.addKey(b, jwa.EdDSA),
	}
	clk := newClock()
	cfg := identity.Config{Issuers: []identity.IssuerConfig{{
		Issuer: idp.issuer(), Audiences: []string{"mcpgw"},
		Claims: identity.ClaimsConfig{Groups: []identity.ClaimPath{"groups", "realm_access.roles"}},
	}}}
	claims := map[string]any{
		"iss": idp.issuer(), "aud": []string{"mcpgw", "account"}, "sub": "4a1f0c2e-0b8a-4d4c-9f57-7e1d2c3b4a59",
		"azp": "mcp-cli", "iat": clk.Now().Unix(), "exp": clk.Now().Add(time.Hour).Unix(), "jti": "b1c2d3e4",
		"scope": "openid tools:read", "groups": []string{"/eng", "/eng/platform"}, "email": "alice@example.com",
		"realm_access": map[string]any{"roles": []string{"mcp-user"}}, "preferred_username": "alice",
	}
	ctx := context.Background()
	run := func(b *testing.B, alg string, cacheSize int) {
		v, err := identity.NewVerifier(cfg, identity.Options{Now: clk.Now, CacheSize: cacheSize})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		tok := keys[alg].sign(b, claims, nil)
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached", func(b *testing.B) { run(b, "ES256", 0) })
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run("uncached/"+alg, func(b *testing.B) { run(b, alg, -1) })
	}
	b.Run("cached/parallel", func(b *testing.B) {
		v, err := identity.NewVerifier(cfg, identity.Options{Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		tok := keys["ES256"].sign(b, claims, nil)
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
