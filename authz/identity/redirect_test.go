package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpgw/mcpgw/authz/identity"
)

// TestKeyFetchRedirects: the URL rules of the configuration (https, or plain http only on loopback or with
// allowHTTP) hold for every hop of a redirect, and a redirect never leaves https. Before, the HTTP client followed
// any redirect, so an https jwksURI answered with a redirect to http://keys.example.test made the verifier take
// whatever keys the plaintext leg carried: anyone on that path could mint accepted tokens.
func TestKeyFetchRedirects(t *testing.T) {
	attacker := newSigningKey(t, jwa.ES256, "injected")
	legit := newSigningKey(t, jwa.ES256, "legit")
	serveKey := func(w http.ResponseWriter, k signingKey) {
		pub, err := k.key.PublicKey()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		_ = json.NewEncoder(w).Encode(set)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveKey(w, attacker) }))
	t.Cleanup(plain.Close)
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, "http://keys.example.test/jwks", http.StatusFound)
		case "/to-loopback-http":
			http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/keys", http.StatusMovedPermanently)
		case "/keys":
			serveKey(w, legit)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(idp.Close)
	// The client trusts the IdP's certificate and resolves keys.example.test (a non-loopback host name) to the
	// plain-HTTP server, standing in for DNS.
	tr := idp.Client().Transport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "keys.example.test:80" {
			addr = plain.Listener.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}
	client := &http.Client{Transport: tr}
	newV := func(t *testing.T, clk *clock, path string) *identity.Verifier {
		v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{{
			Issuer: idp.URL, JWKSURI: idp.URL + path, Audiences: []string{"mcpgw"},
		}}}, identity.Options{Logger: testLogger(t), Now: clk.Now, HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("https redirect", func(t *testing.T) {
		clk := newClock()
		v := newV(t, clk, "/moved")
		tok := legit.sign(t, map[string]any{"iss": idp.URL, "aud": "mcpgw", "sub": "alice", "exp": clk.Now().Unix() + 60}, nil)
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify after an https redirect: %v", err)
		}
	})

	for _, path := range []string{"/to-http", "/to-loopback-http"} {
		t.Run(path, func(t *testing.T) {
			clk := newClock()
			v := newV(t, clk, path)
			tok := attacker.sign(t, map[string]any{"iss": idp.URL, "aud": "mcpgw", "sub": "mallory",
				"exp": clk.Now().Unix() + 60}, nil)
			p, err := v.Verify(t.Context(), tok)
			if err == nil {
				t.Fatalf("token signed with a key fetched over a downgraded redirect accepted: %+v", p)
			}
			if !errors.Is(err, identity.ErrKeysUnavailable) {
				t.Fatalf("Verify: %v; want ErrKeysUnavailable", err)
			}
		})
	}
}
