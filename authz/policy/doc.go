// Package policy is mcpgw's Rego engine: it answers, from the policy in
// policies/ (package mcpgw.authz) and the registry's scopes and mappings,
// whether a gateway call is allowed (Decide), which assets and tools a caller
// may see (Visible, VisibleTools), who may manage catalog entries
// (CanManage), and why (Explain).
//
// The policy is compiled once per load and the registry data is converted
// once per change; both are published together with an atomic pointer, so a
// request never compiles Rego, never takes a lock, and always sees one
// consistent policy and data version. The default policy is embedded in the
// binary (package policies); an override directory may replace or extend its
// files and is hot-reloaded by Run. A broken override keeps the last good
// policy.
//
// Every engine fault (an undefined or malformed result, an evaluation error)
// is returned as an error so that callers fail closed; a caller's bad input
// is ErrInvalidInput. The package imports no gRPC, gin or mongo-driver.
package policy
