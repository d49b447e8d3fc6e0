package extauthz_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/test/oidc"
)

// TestHydra runs the Check server against a real OIDC provider: Ory Hydra signs the user and client-credentials
// tokens, its discovery document and JWKS feed the verifier, and its admin API rotates the signing key while the
// server runs.
func TestHydra(t *testing.T) {
	hydra := oidc.Start(t)

	// A clock the test can move, starting at the real time because Hydra stamps real iat and exp.
	var offset atomic.Int64
	verifier, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{{
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
	}}}, identity.Options{Logger: testLogger(t), Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{verifier: verifier})

	// A user of group finance signed in through the authorization code flow, and a machine client whose token
	// carries the mcpgw scope finance-read as an OAuth scope.
	app := hydra.NewUserClient(t, nil, []string{"mcpgw"})
	userToken := hydra.UserToken(t, app, oidc.User{Subject: "alice", Groups: []string{"finance"}, Audience: []string{"mcpgw"}})
	machine := hydra.NewMachineClient(t, []string{"finance-read"}, []string{"mcpgw", "other-api"})
	machineToken := hydra.ClientCredentialsToken(t, machine, []string{"finance-read"}, []string{"mcpgw"})

	allowed := toolsCall(1, "get_balance", `{"account":"42"}`)
	forbidden := toolsCall(2, "transfer", `{"to":"mallory","amount":1000000}`)
	bearer := func(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }

	t.Run("allowed tool", func(t *testing.T) {
		// Invariant: get_balance is OK for the finance user and for the machine holding finance-read, each
		// identified upstream as what it is.
		a := e.check(t, call{headers: bearer(userToken), body: allowed})
		if !a.ok || a.headers["x-mcpgw-subject"] != "alice" {
			t.Errorf("user: ok=%v %d %s %v", a.ok, a.status, a.body, a.headers)
		}
		a = e.check(t, call{headers: bearer(machineToken), body: allowed})
		if !a.ok || a.headers["x-mcpgw-client-id"] != machine.ID {
			t.Errorf("machine: ok=%v %d %s %v", a.ok, a.status, a.body, a.headers)
		}
		recs := e.audit.take()
		if len(recs) != 2 || recs[0].Subject != "alice" || recs[0].Client != app.ID || recs[0].Issuer != hydra.Issuer ||
			recs[1].Client != machine.ID || recs[1].Subject != "" {
			t.Errorf("audit %+v", recs)
		}
	})

	t.Run("forbidden tool", func(t *testing.T) {
		// Invariant: transfer is 403 with the scope that would allow it in the challenge.
		for _, tok := range []string{userToken, machineToken} {
			a := e.check(t, call{headers: bearer(tok), body: forbidden})
			if a.ok || a.status != 403 || !strings.Contains(a.headers["www-authenticate"], `scope="finance-write"`) {
				t.Errorf("ok=%v %d %v", a.ok, a.status, a.headers)
			}
		}
		e.audit.take()
	})

	t.Run("batch hiding a forbidden call", func(t *testing.T) {
		// Invariant: a forbidden tools/call behind an allowed one denies the whole batch.
		a := e.check(t, call{headers: bearer(userToken), body: "[" + allowed + "," + forbidden + "]"})
		if a.ok || a.status != 403 {
			t.Errorf("ok=%v %d %s", a.ok, a.status, a.body)
		}
		e.audit.take()
	})

	// Material for forged tokens: the claims of a real Hydra token and Hydra's real public key.
	var claims map[string]any
	if err := json.Unmarshal(segment(t, machineToken, 1), &claims); err != nil {
		t.Fatal(err)
	}
	hydraKey := firstKey(t, hydra.JWKS(t))

	rejected := []struct {
		name  string
		token func(t *testing.T) string
		desc  string // the challenge's error_description; "" for a missing token
	}{
		{"no token", func(*testing.T) string { return "" }, ""},
		{"expired", func(t *testing.T) string {
			offset.Store(int64(3 * time.Hour))
			t.Cleanup(func() { offset.Store(0) })
			return machineToken
		}, "the token has expired"},
		{"wrong audience", func(t *testing.T) string {
			return hydra.ClientCredentialsToken(t, machine, []string{"finance-read"}, []string{"other-api"})
		}, "the token is not meant for this resource"},
		{"unknown kid", func(t *testing.T) string {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			jk, err := jwk.FromRaw(key)
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.NewHeaders()
			if err := hdr.Set(jws.KeyIDKey, "not-at-hydra"); err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(claims)
			tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256, jk, jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatal(err)
			}
			return string(tok)
		}, "the token's signing key is unknown"},
		{"alg none", func(t *testing.T) string {
			return compact(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
		}, "the token's signature algorithm is not accepted"},
		{"HS256 signed with the public key", func(t *testing.T) string {
			var raw any
			if err := hydraKey.Raw(&raw); err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(raw)
			if err != nil {
				t.Fatal(err)
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return compact(t, map[string]any{"alg": "HS256", "kid": hydraKey.KeyID(), "typ": "JWT"}, claims, func(in string) []byte {
				m := hmac.New(sha256.New, secret)
				m.Write([]byte(in))
				return m.Sum(nil)
			})
		}, "the token's signature algorithm is not accepted"},
	}
	for _, tc := range rejected {
		t.Run("401 "+tc.name, func(t *testing.T) {
			// Invariant: a missing, expired, misdirected or forged token is 401 with resource_metadata, and the
			// challenge says invalid_token exactly when a token was presented.
			c := call{body: allowed}
			if tok := tc.token(t); tok != "" {
				c.headers = bearer(tok)
			}
			a := e.check(t, c)
			if a.ok || a.status != 401 {
				t.Fatalf("ok=%v status %d, want 401", a.ok, a.status)
			}
			ch := a.headers["www-authenticate"]
			if !strings.Contains(ch, `resource_metadata="`+ledgerMetadata+`"`) {
				t.Errorf("challenge %q lacks resource_metadata", ch)
			}
			if tc.desc == "" && strings.Contains(ch, "error=") || tc.desc != "" && !strings.Contains(ch, `error="invalid_token", error_description="`+tc.desc+`"`) {
				t.Errorf("challenge %q, want description %q", ch, tc.desc)
			}
			if recs := e.audit.take(); len(recs) != 1 || recs[0].Allow || recs[0].Rule != "unauthenticated" {
				t.Errorf("audit %+v", recs)
			}
		})
	}

	t.Run("JWKS rotation without restart", func(t *testing.T) {
		// Invariant: after Hydra rotates its signing key, a token signed with the new key is allowed by the same
		// running server; once the old key is deleted at Hydra, its tokens are refused.
		newKid := hydra.RotateKey(t, "ES256")
		rotated := hydra.ClientCredentialsToken(t, machine, []string{"finance-read"}, []string{"mcpgw"})
		var hdr struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(segment(t, rotated, 0), &hdr); err != nil || hdr.Kid != newKid {
			t.Fatalf("Hydra signed with %q after rotation, want %q (%v)", hdr.Kid, newKid, err)
		}
		if a := e.check(t, call{headers: bearer(rotated), body: allowed}); !a.ok {
			t.Fatalf("token of the rotated key: %d %s", a.status, a.body)
		}
		var old struct {
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(segment(t, machineToken, 0), &old); err != nil {
			t.Fatal(err)
		}
		hydra.DeleteKey(t, old.Kid)
		if err := verifier.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if a := e.check(t, call{headers: bearer(machineToken), body: allowed}); a.ok || a.status != 401 {
			t.Errorf("token of a deleted key: ok=%v status %d", a.ok, a.status)
		}
		e.audit.take()
	})
}

// segment decodes part i of a compact JWS.
func segment(t *testing.T, tok string, i int) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compact builds a compact JWS by hand; sign nil leaves the signature empty.
func compact(t *testing.T, header, claims map[string]any, sign func(string) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign(in)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// firstKey returns the first key of a JWKS document.
func firstKey(t *testing.T, doc []byte) jwk.Key {
	t.Helper()
	set, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := set.Key(0)
	if !ok {
		t.Fatal("empty JWKS")
	}
	return k
}
