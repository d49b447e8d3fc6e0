package identity_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func TestClaimStyles(t *testing.T) {
	// Invariant: each provider's claim layout maps onto the same Principal through configuration alone: subject,
	// client id, merged groups and scopes, and the machine rule (a client acting for itself has no Subject).
	idp := newFakeIdP(t)
	key := idp.addKey(t, jwa.RS256)
	clk := newClock()
	exp := clk.Now().Unix() + 600
	jwks := idp.srv.URL + "/jwks"

	keycloak := identity.IssuerConfig{
		Issuer: "https://kc.example.com/realms/prod", JWKSURI: jwks, Audiences: []string{"mcpgw"},
		Claims: identity.ClaimsConfig{
			Groups:  []identity.ClaimPath{"groups", "realm_access.roles"},
			Machine: []identity.MachineRule{{Claim: "preferred_username", Prefix: "service-account-"}},
		},
	}
	entra := identity.IssuerConfig{
		Issuer: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0", JWKSURI: jwks,
		Audiences: []string{"api://mcpgw"},
		Claims: identity.ClaimsConfig{
			Subject: "oid",
			Groups:  []identity.ClaimPath{"groups", "roles"},
			Scopes:  []identity.ClaimPath{"scp"},
			Machine: []identity.MachineRule{{Claim: "idtyp", Equals: "app"}},
		},
	}
	okta := identity.IssuerConfig{
		Issuer: "https://dev-1.okta.com/oauth2/default", JWKSURI: jwks, Audiences: []string{"api://mcpgw"},
		Claims: identity.ClaimsConfig{ClientID: []identity.ClaimPath{"cid"}, Scopes: []identity.ClaimPath{"scp"}},
	}
	cognito := identity.IssuerConfig{
		Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc", JWKSURI: jwks,
		AudienceClaim: "client_id", Audiences: []string{"7app", "9svc"},
		Claims: identity.ClaimsConfig{Groups: []identity.ClaimPath{"cognito:groups"}},
	}
	auth0 := identity.IssuerConfig{
		Issuer: "https://tenant.eu.auth0.com/", JWKSURI: jwks, Audiences: []string{"https://mcpgw.example.com"},
		Claims: identity.ClaimsConfig{Groups: []identity.ClaimPath{"https://example.com/groups"}},
	}
	auth0Escaped := auth0
	auth0Escaped.Claims.Groups = []identity.ClaimPath{`https://example\.com/groups`}
	hydra := identity.IssuerConfig{
		Issuer: "http://127.0.0.1:4444", JWKSURI: jwks, Audiences: []string{"mcpgw"},
		Claims: identity.ClaimsConfig{Groups: []identity.ClaimPath{"ext.groups"}, Scopes: []identity.ClaimPath{"scp"}},
	}

	tests := []struct {
		name   string
		issuer identity.IssuerConfig
		claims map[string]any
		want   identity.Principal
	}{
		{"Keycloak user: groups and realm roles merged", keycloak, map[string]any{
			"aud": []string{"mcpgw", "account"}, "sub": "f:1:alice", "azp": "mcp-cli", "scope": "openid profile tools:read",
			"groups": []string{"/eng", "/eng/platform"}, "realm_access": map[string]any{"roles": []string{"mcp-admin", "/eng"}},
			"preferred_username": "alice",
		}, identity.Principal{Subject: "f:1:alice", AuthorizedParty: "mcp-cli", Groups: []string{"/eng", "/eng/platform", "mcp-admin"},
			Scopes: []string{"openid", "profile", "tools:read"}}},
		{"Keycloak service account", keycloak, map[string]any{
			"aud": "mcpgw", "sub": "8d1c", "azp": "ci-bot", "client_id": "ci-bot", "scope": "tools:call",
			"preferred_username": "service-account-ci-bot",
		}, identity.Principal{ClientID: "ci-bot", AuthorizedParty: "ci-bot", Scopes: []string{"tools:call"}}},
		{"Entra ID user: oid, groups and app roles", entra, map[string]any{
			"aud": "api://mcpgw", "sub": "pairwise-sub", "oid": "oid-1", "azp": "app-1", "scp": "Tools.Read Tools.Call",
			"groups": []string{"0f6c-guid"}, "roles": []string{"Tools.Admin"},
		}, identity.Principal{Subject: "oid-1", AuthorizedParty: "app-1", Groups: []string{"0f6c-guid", "Tools.Admin"},
			Scopes: []string{"Tools.Read", "Tools.Call"}}},
		{"Entra ID app-only token", entra, map[string]any{
			"aud": "api://mcpgw", "sub": "sp-oid", "oid": "sp-oid", "azp": "daemon", "idtyp": "app", "roles": []string{"Tools.Call"},
		}, identity.Principal{ClientID: "daemon", AuthorizedParty: "daemon", Groups: []string{"Tools.Call"}}},
		{"Okta user", okta, map[string]any{
			"aud": "api://mcpgw", "sub": "alice@example.com", "cid": "0oa-cli", "scp": []string{"tools:read"},
			"groups": []string{"Everyone", "Eng"},
		}, identity.Principal{Subject: "alice@example.com", AuthorizedParty: "0oa-cli", Groups: []string{"Everyone", "Eng"},
			Scopes: []string{"tools:read"}}},
		{"Okta client credentials", okta, map[string]any{
			"aud": "api://mcpgw", "sub": "0oa-svc", "cid": "0oa-svc", "scp": []string{"tools:call"},
		}, identity.Principal{ClientID: "0oa-svc", AuthorizedParty: "0oa-svc", Scopes: []string{"tools:call"}}},
		{"Cognito user: no aud, client_id is the audience", cognito, map[string]any{
			"client_id": "7app", "sub": "a1b2", "username": "alice", "cognito:groups": []string{"admins"},
			"scope": "aws.cognito.signin.user.admin mcpgw/tools.read", "token_use": "access",
		}, identity.Principal{Subject: "a1b2", AuthorizedParty: "7app", Groups: []string{"admins"},
			Scopes: []string{"aws.cognito.signin.user.admin", "mcpgw/tools.read"}}},
		{"Cognito client credentials", cognito, map[string]any{
			"client_id": "9svc", "sub": "9svc", "scope": "mcpgw/tools.call", "token_use": "access",
		}, identity.Principal{ClientID: "9svc", AuthorizedParty: "9svc", Scopes: []string{"mcpgw/tools.call"}}},
		{"Auth0 namespaced groups, verbatim path", auth0, map[string]any{
			"aud": []string{"https://mcpgw.example.com", "https://tenant.eu.auth0.com/userinfo"}, "sub": "auth0|123",
			"azp": "spa-1", "scope": "openid tools:read", "https://example.com/groups": []string{"eng"},
		}, identity.Principal{Subject: "auth0|123", AuthorizedParty: "spa-1", Groups: []string{"eng"},
			Scopes: []string{"openid", "tools:read"}}},
		{"Auth0 namespaced groups, escaped path", auth0Escaped, map[string]any{
			"aud": "https://mcpgw.example.com", "sub": "auth0|123", "azp": "spa-1",
			"https://example.com/groups": []string{"eng", "eng"},
		}, identity.Principal{Subject: "auth0|123", AuthorizedParty: "spa-1", Groups: []string{"eng"}}},
		{"Auth0 machine to machine", auth0, map[string]any{
			"aud": "https://mcpgw.example.com", "sub": "m2m-1@clients", "azp": "m2m-1", "gty": "client-credentials",
			"scope": "tools:call",
		}, identity.Principal{ClientID: "m2m-1", AuthorizedParty: "m2m-1", Scopes: []string{"tools:call"}}},
		{"Hydra user: groups under ext", hydra, map[string]any{
			"aud": []string{"mcpgw"}, "sub": "alice", "client_id": "app", "scp": []string{"openid", "tools:read"},
			"ext": map[string]any{"groups": []string{"platform"}},
		}, identity.Principal{Subject: "alice", AuthorizedParty: "app", Groups: []string{"platform"},
			Scopes: []string{"openid", "tools:read"}}},
		{"group claim as a single string", hydra, map[string]any{
			"aud": "mcpgw", "sub": "bob", "ext": map[string]any{"groups": "solo team"},
		}, identity.Principal{Subject: "bob", Groups: []string{"solo team"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, clk, tc.issuer)
			c := maps(tc.claims)
			c["iss"], c["exp"] = tc.issuer.Issuer, exp
			got, err := v.Verify(context.Background(), key.sign(t, c, nil))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Issuer = tc.issuer.Issuer
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(identity.Principal{}, "Claims", "Expiry"),
				cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Principal mismatch (-want +got):\n%s", diff)
			}
			if got.IsMachine() != (tc.want.Subject == "") || (got.Subject == "") == (got.ClientID == "") {
				t.Errorf("IsMachine = %v: exactly one of Subject and ClientID must be set", got.IsMachine())
			}
		})
	}
}
