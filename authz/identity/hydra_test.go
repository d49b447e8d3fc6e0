package identity_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/test/oidc"
)

// TestHydra runs the verifier against a real OIDC provider: discovery, JWKS, client-credentials and
// authorization-code tokens signed by Ory Hydra, and a key rotation done through Hydra's admin API.
func TestHydra(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Ory Hydra")
	}
	hydra := oidc.Start(t)
	ctx := context.Background()

	// A clock the test can move, starting at the real time because Hydra stamps real iat/exp.
	var offset time.Duration
	now := func() time.Time { return time.Now().Add(offset) }
	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{{
		Name:       "hydra",
		Issuer:     hydra.Issuer,
		Audiences:  []string{"mcpgw"},
		Algorithms: []string{"RS256", "ES256"},
		// Rotation is exercised at test speed; production keeps the 10 s default.
		MinRefreshInterval: identity.Duration(time.Millisecond),
		Claims: identity.ClaimsConfig{
			Groups: []identity.ClaimPath{"ext.groups"},
			Scopes: []identity.ClaimPath{"scp"},
		},
	}}}, identity.Options{Logger: testLogger(t), Now: func() time.Time { return now() }, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(ctx); err != nil {
		t.Fatalf("discovery and JWKS from Hydra: %v", err)
	}

	machine := hydra.NewMachineClient(t, []string{"tools:read", "tools:call"}, []string{"mcpgw", "other-api"})
	ccToken := hydra.ClientCredentialsToken(t, machine, []string{"tools:read", "tools:call"}, []string{"mcpgw"})

	t.Run("client credentials token is a machine principal", func(t *testing.T) {
		// Invariant: a client-credentials token yields the client id and scopes and no user.
		p, err := v.Verify(ctx, ccToken)
		if err != nil {
			t.Fatal(err)
		}
		if !p.IsMachine() || p.Subject != "" || p.ClientID != machine.ID {
			t.Errorf("principal %+v: want machine client %s", p, machine.ID)
		}
		if !slices.Equal(p.Scopes, []string{"tools:read", "tools:call"}) {
			t.Errorf("scopes %v", p.Scopes)
		}
		if p.Issuer != hydra.Issuer || p.Expiry.Before(time.Now()) {
			t.Errorf("issuer %q expiry %v", p.Issuer, p.Expiry)
		}
	})

	t.Run("user token carries subject and groups", func(t *testing.T) {
		// Invariant: an authorization-code token yields the user's subject and the groups Hydra nested under ext.
		app := hydra.NewUserClient(t, []string{"tools:read"}, []string{"mcpgw"})
		tok := hydra.UserToken(t, app, oidc.User{
			Subject: "alice", Groups: []string{"platform", "sre"}, Scopes: []string{"tools:read"}, Audience: []string{"mcpgw"},
		})
		p, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.IsMachine() || p.Subject != "alice" || p.ClientID != "" || p.AuthorizedParty != app.ID {
			t.Errorf("principal %+v: want user alice via %s", p, app.ID)
		}
		if !slices.Equal(p.Groups, []string{"platform", "sre"}) {
			t.Errorf("groups %v", p.Groups)
		}
		if !slices.Contains(p.Scopes, "tools:read") {
			t.Errorf("scopes %v", p.Scopes)
		}
	})

	// Material for forged tokens: the real header and payload of a Hydra token.
	var realClaims map[string]any
	if err := json.Unmarshal(payloadOf(t, ccToken), &realClaims); err != nil {
		t.Fatal(err)
	}
	hydraKey := firstKey(t, hydra.JWKS(t))

	rejections := []struct {
		name  string
		token func(t *testing.T) string
		err   error
	}{
		{"no token", func(*testing.T) string { return "" }, identity.ErrNoToken},
		{"wrong audience", func(t *testing.T) string {
			return hydra.ClientCredentialsToken(t, machine, []string{"tools:read"}, []string{"other-api"})
		}, identity.ErrAudience},
		{"no audience", func(t *testing.T) string {
			return hydra.ClientCredentialsToken(t, machine, []string{"tools:read"}, nil)
		}, identity.ErrAudience},
		{"unknown kid", func(t *testing.T) string {
			k := newSigningKey(t, jwa.RS256, "not-at-hydra")
			return k.sign(t, realClaims, nil)
		}, identity.ErrUnknownKey},
		{"alg none", func(t *testing.T) string {
			return unsigned(t, map[string]any{"alg": "none", "typ": "JWT"}, realClaims, nil)
		}, identity.ErrAlgorithmNotAllowed},
		{"HS256 keyed with the public key", func(t *testing.T) string {
			var raw any
			if err := hydraKey.Raw(&raw); err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(raw)
			if err != nil {
				t.Fatal(err)
			}
			return unsigned(t, map[string]any{"alg": "HS256", "kid": hydraKey.KeyID(), "typ": "JWT"}, realClaims,
				func(in string) []byte {
					m := hmac.New(sha256.New, der)
					m.Write([]byte(in))
					return m.Sum(nil)
				})
		}, identity.ErrAlgorithmNotAllowed},
		{"unknown issuer", func(t *testing.T) string {
			k := newSigningKey(t, jwa.ES256, "elsewhere")
			c := maps(realClaims)
			c["iss"] = "https://other-idp.example"
			return k.sign(t, c, nil)
		}, identity.ErrUnknownIssuer},
	}
	for _, tc := range rejections {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			// Invariant: each forged or unfit token is rejected with its own sentinel.
			_, err := v.Verify(ctx, tc.token(t))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Verify: %v, want %v", err, tc.err)
			}
		})
	}

	t.Run("rejects expired", func(t *testing.T) {
		// Invariant: a real token past exp (plus skew) is rejected; the clock is moved, not the test's wall time.
		offset = 2 * time.Hour
		defer func() { offset = 0 }()
		if _, err := v.Verify(ctx, ccToken); !errors.Is(err, identity.ErrExpired) {
			t.Fatalf("Verify: %v, want ErrExpired", err)
		}
	})

	t.Run("key rotation without restart", func(t *testing.T) {
		// Invariant: after Hydra rotates its access-token key, new tokens verify with the same Verifier, and once
		// the old key is deleted at Hydra its tokens stop verifying.
		oldKid := kidOf(t, ccToken)
		newKid := hydra.RotateKey(t, "ES256")
		tok := hydra.ClientCredentialsToken(t, machine, []string{"tools:read"}, []string{"mcpgw"})
		if got := kidOf(t, tok); got != newKid {
			t.Fatalf("Hydra signed with %q after rotation, want %q", got, newKid)
		}
		p, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("token signed with the rotated key: %v", err)
		}
		if p.ClientID != machine.ID {
			t.Errorf("client %q", p.ClientID)
		}
		if _, err := v.Verify(ctx, ccToken); err != nil {
			t.Fatalf("token of the previous key while it is still published: %v", err)
		}
		hydra.DeleteKey(t, oldKid)
		if err := v.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, ccToken); !errors.Is(err, identity.ErrUnknownKey) {
			t.Fatalf("token of a deleted key: %v, want ErrUnknownKey", err)
		}
	})
}

func payloadOf(t testing.TB, tok string) []byte {
	t.Helper()
	b, err := b64(split3(tok)[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	b, err := b64(split3(tok)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func firstKey(t testing.TB, jwks []byte) jwk.Key {
	t.Helper()
	set, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := set.Key(0)
	if !ok {
		t.Fatal("empty JWKS")
	}
	return k
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
