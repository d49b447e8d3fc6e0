package identity_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mcpgw/mcpgw/authz/identity"
)

// The development issuer signs a token that a Verifier configured with its issuer entry accepts.
func ExampleDevIssuer() {
	dataDir, err := os.MkdirTemp("", "mcpgw-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	dev, err := identity.LoadOrCreateDevIssuer(dataDir, identity.DevOptions{})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := dev.Issue("alice", []string{"g1", "g2"}, time.Hour, identity.WithScopes("tools:read"))
	if err != nil {
		log.Fatal(err)
	}

	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}}, identity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Issuer, p.Subject, p.Groups, p.Scopes, p.IsMachine())
	// Output: mcpgw-dev alice [g1 g2] [tools:read] false
}

// A configuration file lists the trusted issuers; claim paths adapt each provider's token layout.
func ExampleParseConfig() {
	cfg, err := identity.ParseConfig([]byte(`
issuers:
  - name: hydra
    issuer: http://127.0.0.1:4444
    audiences: [mcpgw]
    claims:
      groups: [ext.groups]
      scopes: [scp]
  - name: auth0
    issuer: https://example.eu.auth0.com/
    audiences: [https://mcpgw.example.com]
    claims:
      groups: [https://example.com/groups]
`))
	if err != nil {
		log.Fatal(err)
	}
	for _, is := range cfg.Issuers {
		fmt.Println(is.Name, is.Issuer, is.Claims.Groups)
	}
	// Output:
	// hydra http://127.0.0.1:4444 [ext.groups]
	// auth0 https://example.eu.auth0.com/ [https://example.com/groups]
}

// BearerToken takes the token out of an Authorization header.
func ExampleBearerToken() {
	tok, err := identity.BearerToken("Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
	fmt.Println(tok, err)
	_, err = identity.BearerToken("")
	fmt.Println(err)
	// Output:
	// eyJhbGciOiJFUzI1NiJ9.e30.c2ln <nil>
	// no bearer token
}
