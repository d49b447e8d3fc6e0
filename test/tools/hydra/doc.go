//go:build tools

// Package hydra pins Ory Hydra, the OAuth2/OIDC server the identity tests run against. It is a separate module so
// that Hydra's dependency graph never enters the mcpgw module; install.sh builds the binary from it.
package hydra
