// Package policies carries mcpgw's default Rego policy (package mcpgw.authz)
// inside the binary. The .rego files beside this file are the source; their
// _test.rego companions run with `opa test policies/` and are not embedded.
//
// authz/policy loads Default() and lets an override directory replace or
// extend individual files; see README.md for the data and input documents.
package policies

import (
	"embed"
	"io/fs"
)

// The embed list names every policy file explicitly so test files stay out of
// the binary; TestEmbedsEveryPolicyFile fails when a new file is not listed.
//
//go:embed authz.rego visibility.rego manage.rego explain.rego
var defaultFS embed.FS

// Default returns the embedded default policy: a read-only file system whose
// root holds the .rego modules of package mcpgw.authz.
func Default() fs.FS {
	return defaultFS
}
