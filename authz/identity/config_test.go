package identity_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func TestParseConfig(t *testing.T) {
	// Invariant: the YAML form decodes field by field into Config, durations as Go duration strings.
	cfg, err := identity.ParseConfig([]byte(`
issuers:
  - name: keycloak
    issuer: https://kc.example.com/realms/prod
    audiences: [mcpgw]
    algorithms: [RS256, PS256]
    clockSkew: 45s
    refreshInterval: 5m
    minRefreshInterval: 15s
    claims:
      subject: sub
      groups: [groups, realm_access.roles]
      clientID: [azp]
      scopes: [scope]
      machine:
        - claim: preferred_username
          prefix: service-account-
  - issuer: http://keycloak.internal:8080/realms/dev
    allowHTTP: true
    jwksURI: http://keycloak.internal:8080/realms/dev/protocol/openid-connect/certs
    audiences: [mcpgw]
    audienceClaim: azp
`))
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Config{Issuers: []identity.IssuerConfig{{
		Name: "keycloak", Issuer: "https://kc.example.com/realms/prod", Audiences: []string{"mcpgw"},
		Algorithms: []string{"RS256", "PS256"}, ClockSkew: identity.Duration(45 * time.Second),
		RefreshInterval: identity.Duration(5 * time.Minute), MinRefreshInterval: identity.Duration(15 * time.Second),
		Claims: identity.ClaimsConfig{
			Subject: "sub", Groups: []identity.ClaimPath{"groups", "realm_access.roles"},
			ClientID: []identity.ClaimPath{"azp"}, Scopes: []identity.ClaimPath{"scope"},
			Machine: []identity.MachineRule{{Claim: "preferred_username", Prefix: "service-account-"}},
		},
	}, {
		Issuer: "http://keycloak.internal:8080/realms/dev", AllowHTTP: true,
		JWKSURI:   "http://keycloak.internal:8080/realms/dev/protocol/openid-connect/certs",
		Audiences: []string{"mcpgw"}, AudienceClaim: "azp",
	}}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("config mismatch (-want +got):\n%s", diff)
	}

	// The same document as JSON round-trips through the JSON tags.
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"clockSkew":"45s"`) {
		t.Errorf("JSON form: %s", data)
	}
	var back identity.Config
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	fromJSON, err := identity.ParseConfig(data)
	if err != nil {
		t.Fatalf("ParseConfig of the JSON form: %v", err)
	}
	if diff := cmp.Diff(cfg, fromJSON); diff != "" {
		t.Errorf("ParseConfig(JSON) (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	// Invariant: every unsafe or inconsistent issuer entry is refused with ErrInvalidConfig, naming the problem;
	// "none", HMAC and missing audiences can never be configured.
	priv := newSigningKey(t, jwa.ES256, "k1")
	privSet, err := json.Marshal(map[string]any{"keys": []any{priv.key}})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	pubSet, err := json.Marshal(map[string]any{"keys": []jwk.Key{pub}})
	if err != nil {
		t.Fatal(err)
	}
	ok := identity.IssuerConfig{Issuer: "https://idp.example.com", Audiences: []string{"mcpgw"}}
	with := func(mod func(*identity.IssuerConfig)) []identity.IssuerConfig {
		ic := ok
		mod(&ic)
		return []identity.IssuerConfig{ic}
	}
	tests := []struct {
		name    string
		issuers []identity.IssuerConfig
		want    string // substring of the error; empty: valid
	}{
		{"minimal", with(func(*identity.IssuerConfig) {}), ""},
		{"loopback http discovery", with(func(c *identity.IssuerConfig) { c.Issuer = "http://127.0.0.1:4444" }), ""},
		{"http with allowHTTP", with(func(c *identity.IssuerConfig) { c.Issuer = "http://kc:8080/realms/x"; c.AllowHTTP = true }), ""},
		{"inline public jwks, non-URL issuer", with(func(c *identity.IssuerConfig) { c.Issuer = "mcpgw-dev"; c.JWKS = string(pubSet) }), ""},
		{"no issuers", nil, "no issuers"},
		{"no issuer", with(func(c *identity.IssuerConfig) { c.Issuer = "" }), "issuer is required"},
		{"duplicate issuer", append(with(func(*identity.IssuerConfig) {}), ok), "is also issuers[0]"},
		{"duplicate name", []identity.IssuerConfig{
			{Name: "a", Issuer: "https://a.example", Audiences: []string{"x"}},
			{Name: "a", Issuer: "https://b.example", Audiences: []string{"x"}}}, `name "a"`},
		{"http issuer", with(func(c *identity.IssuerConfig) { c.Issuer = "http://idp.example.com" }), "plain http"},
		{"non-URL issuer needs a key source", with(func(c *identity.IssuerConfig) { c.Issuer = "mcpgw-dev" }), "not an absolute URL"},
		{"two key sources", with(func(c *identity.IssuerConfig) { c.JWKSURI = "https://idp.example.com/keys"; c.JWKSFile = "k.json" }), "mutually exclusive"},
		{"discovery and jwks", with(func(c *identity.IssuerConfig) {
			c.DiscoveryURL = "https://idp.example.com/d"
			c.JWKS = string(pubSet)
		}), "discoveryURL cannot"},
		{"bad inline jwks", with(func(c *identity.IssuerConfig) { c.JWKS = `{"keys":[]}` }), "jwks"},
		{"private key in jwks", with(func(c *identity.IssuerConfig) { c.JWKS = string(privSet) }), "private key"},
		{"ftp jwks uri", with(func(c *identity.IssuerConfig) { c.JWKSURI = "ftp://idp.example.com/keys" }), "scheme must be https"},
		{"no audience", with(func(c *identity.IssuerConfig) { c.Audiences = nil }), "at least one audience"},
		{"empty audience", with(func(c *identity.IssuerConfig) { c.Audiences = []string{""} }), "empty audience"},
		{"alg none", with(func(c *identity.IssuerConfig) { c.Algorithms = []string{"none"} }), `"none" is not allowed`},
		{"alg HS256", with(func(c *identity.IssuerConfig) { c.Algorithms = []string{"RS256", "HS256"} }), `"HS256" is not allowed`},
		{"alg lowercase", with(func(c *identity.IssuerConfig) { c.Algorithms = []string{"rs256"} }), `"rs256" is not allowed`},
		{"skew too large", with(func(c *identity.IssuerConfig) { c.ClockSkew = identity.Duration(time.Hour) }), "clockSkew"},
		{"negative skew", with(func(c *identity.IssuerConfig) { c.ClockSkew = identity.Duration(-time.Second) }), "clockSkew"},
		{"min refresh above refresh", with(func(c *identity.IssuerConfig) {
			c.RefreshInterval = identity.Duration(time.Second)
			c.MinRefreshInterval = identity.Duration(time.Minute)
		}), "exceeds refreshInterval"},
		{"bad group path", with(func(c *identity.IssuerConfig) { c.Claims.Groups = []identity.ClaimPath{"ext..groups"} }), "claims.groups"},
		{"bad audience claim", with(func(c *identity.IssuerConfig) { c.AudienceClaim = "." }), "audienceClaim"},
		{"machine rule without a test", with(func(c *identity.IssuerConfig) {
			c.Claims.Machine = []identity.MachineRule{{Claim: "idtyp"}}
		}), "exactly one of equals and prefix"},
		{"machine rule with both tests", with(func(c *identity.IssuerConfig) {
			c.Claims.Machine = []identity.MachineRule{{Claim: "idtyp", Equals: "app", Prefix: "a"}}
		}), "exactly one of equals and prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := identity.Config{Issuers: tc.issuers}.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, identity.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
			if _, err := identity.NewVerifier(identity.Config{Issuers: tc.issuers}, identity.Options{}); !errors.Is(err, identity.ErrInvalidConfig) {
				t.Fatalf("NewVerifier accepted an invalid config: %v", err)
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	// Invariant: unknown fields and malformed values are errors, not silently ignored settings.
	for name, doc := range map[string]string{
		"unknown field":  "issuers:\n  - issuer: https://a.example\n    audiences: [x]\n    audience: [y]\n",
		"bad duration":   "issuers:\n  - issuer: https://a.example\n    audiences: [x]\n    clockSkew: soon\n",
		"not a list":     "issuers: {issuer: https://a.example}\n",
		"invalid config": "issuers:\n  - issuer: https://a.example\n",
		"empty":          "",
	} {
		if _, err := identity.ParseConfig([]byte(doc)); !errors.Is(err, identity.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestLoadConfigResolvesJWKSFile(t *testing.T) {
	// Invariant: a relative jwksFile is relative to the configuration file, not to the process's directory.
	dir := t.TempDir()
	k := newSigningKey(t, jwa.EdDSA, "ed")
	pub, err := k.key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(map[string]any{"keys": []jwk.Key{pub}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "jwks.json"), set, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "identity.yaml")
	if err := os.WriteFile(path, []byte("issuers:\n  - issuer: local\n    jwksFile: keys/jwks.json\n    audiences: [mcpgw]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := identity.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Issuers[0].JWKSFile, filepath.Join(dir, "keys", "jwks.json"); got != want {
		t.Fatalf("jwksFile = %q, want %q", got, want)
	}
	if _, err := identity.LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil || errors.Is(err, identity.ErrInvalidConfig) {
		t.Fatalf("missing file: %v", err)
	}
}
