package oidc

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestProvider(t *testing.T) {
	// Invariant: the helpers deliver what their documentation promises: a client-credentials JWT for the requested
	// audience and scopes, a user JWT whose groups sit under ext, and a rotation that changes the signing kid and
	// is published in the JWKS.
	if testing.Short() {
		t.Skip("starts Ory Hydra")
	}
	p := Start(t)
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") {
		t.Fatalf("issuer %q", p.Issuer)
	}

	m := p.NewMachineClient(t, []string{"a", "b"}, []string{"api"})
	h, c := decode(t, p.ClientCredentialsToken(t, m, []string{"a"}, []string{"api"}))
	if c["iss"] != p.Issuer || c["sub"] != m.ID || c["client_id"] != m.ID {
		t.Errorf("client credentials claims %v", c)
	}
	if !slices.Equal(strs(c["aud"]), []string{"api"}) || !slices.Equal(strs(c["scp"]), []string{"a"}) {
		t.Errorf("aud %v scp %v", c["aud"], c["scp"])
	}

	app := p.NewUserClient(t, []string{"a"}, []string{"api"})
	_, u := decode(t, p.UserToken(t, app, User{Subject: "zoe", Groups: []string{"g1", "g2"}, Scopes: []string{"a"}, Audience: []string{"api"}}))
	ext, _ := u["ext"].(map[string]any)
	if u["sub"] != "zoe" || u["client_id"] != app.ID || !slices.Equal(strs(ext["groups"]), []string{"g1", "g2"}) {
		t.Errorf("user token claims %v", u)
	}

	kid := p.RotateKey(t, "ES256")
	h2, _ := decode(t, p.ClientCredentialsToken(t, m, []string{"a"}, []string{"api"}))
	if h2["kid"] != kid || h2["alg"] != "ES256" || h2["kid"] == h["kid"] {
		t.Errorf("after rotation header %v, want kid %s", h2, kid)
	}
	if !strings.Contains(string(p.JWKS(t)), kid) {
		t.Error("rotated key not in the JWKS")
	}
	p.DeleteKey(t, kid)
	if strings.Contains(string(p.JWKS(t)), kid) {
		t.Error("deleted key still in the JWKS")
	}
}

func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func strs(v any) []string {
	var out []string
	arr, _ := v.([]any)
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
