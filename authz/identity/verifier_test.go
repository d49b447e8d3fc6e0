package identity_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func newVerifier(t testing.TB, clk *clock, issuers ...identity.IssuerConfig) *identity.Verifier {
	t.Helper()
	v, err := identity.NewVerifier(identity.Config{Issuers: issuers}, identity.Options{Logger: testLogger(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	// Invariant: a token is accepted only when it is signed by a current key of the issuer its "iss" names, with an
	// algorithm that issuer allows, inside its validity window (with the issuer's skew) and for one of the issuer's
	// audiences; every other token is rejected with ErrInvalidToken and the specific sentinel.
	idp := newFakeIdP(t)
	rs := idp.addKey(t, jwa.RS256)
	es := idp.addKey(t, jwa.ES256)
	ed := idp.addKey(t, jwa.EdDSA)
	ps := idp.addKey(t, jwa.PS256) // published, but PS256 is not in the issuer's list
	stranger := newSigningKey(t, jwa.ES256, "not-published")
	clk := newClock()
	now := clk.Now().Unix()
	v := newVerifier(t, clk, identity.IssuerConfig{
		Issuer:     idp.issuer(),
		Audiences:  []string{"mcpgw"},
		Algorithms: []string{"RS256", "ES256", "EdDSA"},
		ClockSkew:  identity.Duration(30 * time.Second),
	})
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": idp.issuer(), "aud": "mcpgw", "sub": "alice", "azp": "cli",
			"iat": now - 10, "exp": now + 300, "groups": []string{"eng", "ops"}, "scope": "tools:read tools:call",
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKeys()[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hs256 := func(secret []byte) func(string) []byte {
		return func(in string) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			return m.Sum(nil)
		}
	}
	tampered := func() string {
		tok := rs.sign(t, claims(nil), nil)
		other := rs.sign(t, claims(func(c map[string]any) { c["sub"] = "mallory" }), nil)
		h, p := split3(tok), split3(other)
		return h[0] + "." + p[1] + "." + h[2]
	}

	user := identity.Principal{
		Issuer: idp.issuer(), Subject: "alice", AuthorizedParty: "cli",
		Groups: []string{"eng", "ops"}, Scopes: []string{"tools:read", "tools:call"},
		Expiry: time.Unix(now+300, 0),
	}
	tests := []struct {
		name  string
		token string
		want  identity.Principal
		err   error
	}{
		{name: "RS256", token: rs.sign(t, claims(nil), nil), want: user},
		{name: "ES256", token: es.sign(t, claims(nil), nil), want: user},
		{name: "EdDSA", token: ed.sign(t, claims(nil), nil), want: user},
		{name: "audience in a list", token: rs.sign(t, claims(func(c map[string]any) { c["aud"] = []string{"x", "mcpgw"} }), nil), want: user},
		{name: "expired within skew", token: rs.sign(t, claims(func(c map[string]any) { c["exp"] = now - 20 }), nil),
			want: withExpiry(user, now-20)},
		{name: "nbf within skew", token: rs.sign(t, claims(func(c map[string]any) { c["nbf"] = now + 20 }), nil), want: user},
		{name: "no kid", token: es.sign(t, claims(nil), map[string]any{"kid": ""}), want: user},
		{name: "machine: sub equals client_id", token: rs.sign(t, claims(func(c map[string]any) {
			c["sub"], c["client_id"] = "svc-1", "svc-1"
			delete(c, "groups")
		}), nil), want: identity.Principal{Issuer: idp.issuer(), ClientID: "svc-1", AuthorizedParty: "svc-1", Scopes: user.Scopes, Expiry: user.Expiry}},

		{name: "empty", token: "", err: identity.ErrNoToken},
		{name: "garbage", token: "not a token", err: identity.ErrMalformedToken},
		{name: "two parts", token: "eyJhbGciOiJSUzI1NiJ9.e30", err: identity.ErrMalformedToken},
		{name: "JWE shape", token: "a.b.c.d.e", err: identity.ErrMalformedToken},
		{name: "bad base64 payload", token: "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln", err: identity.ErrMalformedToken},
		{name: "payload not an object", token: unsigned(t, map[string]any{"alg": "RS256"}, nil, nil), err: identity.ErrMissingClaim},
		{name: "alg none", token: unsigned(t, map[string]any{"alg": "none", "kid": rs.key.KeyID()}, claims(nil), nil),
			err: identity.ErrAlgorithmNotAllowed},
		{name: "HS256 keyed with the public key", token: unsigned(t, map[string]any{"alg": "HS256", "kid": rs.key.KeyID()},
			claims(nil), hs256(pubDER)), err: identity.ErrAlgorithmNotAllowed},
		{name: "alg outside the issuer's list", token: ps.sign(t, claims(nil), nil), err: identity.ErrAlgorithmNotAllowed},
		{name: "crit header", token: rs.sign(t, claims(nil), map[string]any{"crit": []string{"exp"}}), err: identity.ErrMalformedToken},
		{name: "unknown kid", token: stranger.sign(t, claims(nil), nil), err: identity.ErrUnknownKey},
		{name: "kid of a key of another type", token: unsignedWithKid(t, rs, es.key.KeyID(), claims(nil)), err: identity.ErrBadSignature},
		{name: "tampered payload", token: tampered(), err: identity.ErrBadSignature},
		{name: "unknown issuer", token: rs.sign(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil),
			err: identity.ErrUnknownIssuer},
		{name: "no iss", token: rs.sign(t, claims(func(c map[string]any) { delete(c, "iss") }), nil), err: identity.ErrMissingClaim},
		{name: "expired beyond skew", token: rs.sign(t, claims(func(c map[string]any) { c["exp"] = now - 31 }), nil), err: identity.ErrExpired},
		{name: "nbf beyond skew", token: rs.sign(t, claims(func(c map[string]any) { c["nbf"] = now + 31 }), nil), err: identity.ErrNotYetValid},
		{name: "iat in the future", token: rs.sign(t, claims(func(c map[string]any) { c["iat"] = now + 3600 }), nil), err: identity.ErrNotYetValid},
		{name: "no exp", token: rs.sign(t, claims(func(c map[string]any) { delete(c, "exp") }), nil), err: identity.ErrMissingClaim},
		{name: "exp not a number", token: rs.sign(t, claims(func(c map[string]any) { c["exp"] = "tomorrow" }), nil), err: identity.ErrMissingClaim},
		{name: "wrong audience", token: rs.sign(t, claims(func(c map[string]any) { c["aud"] = "other" }), nil), err: identity.ErrAudience},
		{name: "no audience", token: rs.sign(t, claims(func(c map[string]any) { delete(c, "aud") }), nil), err: identity.ErrAudience},
		{name: "neither subject nor client", token: rs.sign(t, claims(func(c map[string]any) { delete(c, "sub"); delete(c, "azp") }), nil),
			err: identity.ErrMissingClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tc.token)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Verify error = %v, want %v", err, tc.err)
				}
				if !errors.Is(tc.err, identity.ErrNoToken) && !errors.Is(err, identity.ErrInvalidToken) {
					t.Fatalf("Verify error %v does not match ErrInvalidToken", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(identity.Principal{}, "Claims")); diff != "" {
				t.Errorf("Principal mismatch (-want +got):\n%s", diff)
			}
			if got.Claims["iss"] != idp.issuer() {
				t.Errorf("Claims do not hold the payload: %v", got.Claims)
			}
		})
	}
}

func withExpiry(p identity.Principal, exp int64) identity.Principal {
	p.Expiry = time.Unix(exp, 0)
	return p
}

func split3(tok string) [3]string {
	var out [3]string
	parts := slices.Collect(func(yield func(string) bool) {
		start := 0
		for i := 0; i < len(tok); i++ {
			if tok[i] == '.' {
				if !yield(tok[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(tok[start:])
	})
	copy(out[:], parts)
	return out
}

// unsignedWithKid signs with k but names another key's kid in the header.
func unsignedWithKid(t testing.TB, k signingKey, kid string, claims map[string]any) string {
	t.Helper()
	return k.sign(t, claims, map[string]any{"kid": kid})
}

func TestVerifyCachedTokenHonoursExpiry(t *testing.T) {
	// Invariant: caching never extends a token's life: once exp+skew has passed, a token verified before is rejected.
	idp := newFakeIdP(t)
	k := idp.addKey(t, jwa.ES256)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{Issuer: idp.issuer(), Audiences: []string{"mcpgw"}, ClockSkew: identity.Duration(time.Second)})
	tok := k.sign(t, map[string]any{"iss": idp.issuer(), "aud": "mcpgw", "sub": "bob", "exp": clk.Now().Unix() + 60}, nil)
	for range 2 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(61 * time.Second) // exactly exp+skew: still valid
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("at exp+skew: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("after expiry: %v, want ErrExpired", err)
	}
}

func TestKeyRotation(t *testing.T) {
	// Invariant: a key added at the issuer is used without a restart (an unknown kid refreshes the key set), a
	// removed key stops verifying at the next refresh even for tokens verified before, and unknown kids cause at
	// most one fetch per MinRefreshInterval.
	idp := newFakeIdP(t)
	old := idp.addKey(t, jwa.RS256)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{
		Issuer: idp.issuer(), Audiences: []string{"mcpgw"},
		MinRefreshInterval: identity.Duration(10 * time.Second),
	})
	ctx := context.Background()
	claims := map[string]any{"iss": idp.issuer(), "aud": "mcpgw", "sub": "carol", "exp": clk.Now().Unix() + 3600}
	oldTok := old.sign(t, claims, nil)
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	if got := idp.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times for the first token, want 1", got)
	}

	// Forged kids inside the rate-limit window: no fetch at all.
	clk.Advance(11 * time.Second)
	stranger := newSigningKey(t, jwa.ES256, "forged")
	if _, err := v.Verify(ctx, stranger.sign(t, claims, nil)); !errors.Is(err, identity.ErrUnknownKey) {
		t.Fatalf("forged kid: %v, want ErrUnknownKey", err)
	}
	for range 5 {
		if _, err := v.Verify(ctx, stranger.sign(t, claims, map[string]any{"kid": randomKid(t)})); !errors.Is(err, identity.ErrUnknownKey) {
			t.Fatalf("forged kid: %v, want ErrUnknownKey", err)
		}
	}
	if got := idp.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times after 6 forged kids, want 2 (one refresh, then rate-limited)", got)
	}

	// Rotation: the issuer publishes a new key and signs with it.
	clk.Advance(11 * time.Second)
	fresh := idp.addKey(t, jwa.ES256)
	p, err := v.Verify(ctx, fresh.sign(t, claims, nil))
	if err != nil {
		t.Fatalf("token of the rotated-in key: %v", err)
	}
	if p.Subject != "carol" {
		t.Fatalf("subject %q", p.Subject)
	}

	// Retirement: the old key leaves the set; the cached old token must stop working after the refresh.
	idp.removeKey(old.key.KeyID())
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, identity.ErrUnknownKey) {
		t.Fatalf("token of a removed key: %v, want ErrUnknownKey", err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	// Invariant: when the issuer's keys cannot be fetched the error is ErrKeysUnavailable, never ErrInvalidToken
	// (it is the server's fault), and a key set fetched before keeps serving while the issuer is down.
	idp := newFakeIdP(t)
	k := idp.addKey(t, jwa.ES256)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{Issuer: idp.issuer(), Audiences: []string{"mcpgw"}})
	tok := k.sign(t, map[string]any{"iss": idp.issuer(), "aud": "mcpgw", "sub": "dan", "exp": clk.Now().Unix() + 60}, nil)

	idp.setStatus(http.StatusServiceUnavailable)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, identity.ErrKeysUnavailable) || errors.Is(err, identity.ErrInvalidToken) {
		t.Fatalf("issuer down: %v, want ErrKeysUnavailable only", err)
	}
	if err := v.Refresh(context.Background()); !errors.Is(err, identity.ErrKeysUnavailable) {
		t.Fatalf("Refresh with the issuer down: %v", err)
	}

	idp.setStatus(0)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	idp.setStatus(http.StatusServiceUnavailable)
	if err := v.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with the issuer down succeeded")
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("cached key set must keep serving: %v", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	// Invariant: a discovery document that names another issuer is not trusted (OIDC Discovery §4.3).
	idp := newFakeIdP(t)
	idp.addKey(t, jwa.ES256)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{
		Issuer: "https://idp.example.com", DiscoveryURL: idp.issuer() + "/.well-known/openid-configuration",
		Audiences: []string{"mcpgw"},
	})
	if err := v.Refresh(context.Background()); !errors.Is(err, identity.ErrKeysUnavailable) {
		t.Fatalf("Refresh: %v, want ErrKeysUnavailable", err)
	}
}

func TestRunRefreshesInBackground(t *testing.T) {
	// Invariant: Run fetches every remote key set at once (discovery only once) and again every RefreshInterval,
	// and returns nil when its context ends.
	idp := newFakeIdP(t)
	idp.addKey(t, jwa.ES256)
	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{{
		Issuer: idp.issuer(), Audiences: []string{"mcpgw"},
		RefreshInterval: identity.Duration(20 * time.Millisecond), MinRefreshInterval: identity.Duration(5 * time.Millisecond),
	}}}, identity.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	waitFor(t, "the first fetch", func() bool { return idp.jwksHits.Load() >= 1 })
	if got := idp.discoveryHits.Load(); got != 1 {
		t.Errorf("discovery fetched %d times, want once", got)
	}
	k := idp.addKey(t, jwa.EdDSA)
	seen := idp.jwksHits.Load()
	waitFor(t, "a periodic refresh", func() bool { return idp.jwksHits.Load() > seen+1 })
	tok := k.sign(t, map[string]any{"iss": idp.issuer(), "aud": "mcpgw", "sub": "erin", "exp": time.Now().Unix() + 60}, nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestJWKSFileRotation(t *testing.T) {
	// Invariant: a jwksFile issuer re-reads the file on refresh, so replacing the file rotates the keys.
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	a := newSigningKey(t, jwa.ES256, "a")
	b := newSigningKey(t, jwa.ES256, "b")
	write := func(k signingKey) {
		pub, err := k.key.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		data, err := jsonMarshal(map[string]any{"keys": []any{pub}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{Issuer: "file-issuer", JWKSFile: path, Audiences: []string{"mcpgw"}})
	claims := map[string]any{"iss": "file-issuer", "aud": "mcpgw", "sub": "fay", "exp": clk.Now().Unix() + 60}
	if _, err := v.Verify(context.Background(), a.sign(t, claims, nil)); err != nil {
		t.Fatal(err)
	}
	write(b)
	clk.Advance(time.Minute) // past the rate limit of on-demand refreshes
	if _, err := v.Verify(context.Background(), b.sign(t, claims, nil)); err != nil {
		t.Fatalf("after replacing the file: %v", err)
	}
	if _, err := v.Verify(context.Background(), a.sign(t, claims, map[string]any{"jti": "new"})); !errors.Is(err, identity.ErrUnknownKey) {
		t.Fatalf("key removed from the file: %v, want ErrUnknownKey", err)
	}
}

func TestConcurrentColdStart(t *testing.T) {
	// Invariant: concurrent Verify calls that all need the key set share one fetch; a caller whose context ends
	// stops waiting (ErrKeysUnavailable wrapping its context error) without cancelling the fetch the others wait for.
	idp := newFakeIdP(t)
	k := idp.addKey(t, jwa.ES256)
	clk := newClock()
	v := newVerifier(t, clk, identity.IssuerConfig{Issuer: idp.issuer(), JWKSURI: idp.srv.URL + "/jwks", Audiences: []string{"mcpgw"}})
	tok := k.sign(t, map[string]any{"iss": idp.issuer(), "aud": "mcpgw", "sub": "gil", "exp": clk.Now().Unix() + 60}, nil)
	release := idp.hold()
	defer release()

	impatient, cancel := context.WithCancel(context.Background())
	impatientErr := make(chan error, 1)
	go func() {
		_, err := v.Verify(impatient, tok)
		impatientErr <- err
	}()
	waitFor(t, "the fetch to reach the issuer", func() bool { return idp.jwksHits.Load() == 1 })
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	cancel()
	if err := <-impatientErr; !errors.Is(err, identity.ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want ErrKeysUnavailable and context.Canceled", err)
	}
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("waiting caller: %v", err)
		}
	}
	if got := idp.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}
}
