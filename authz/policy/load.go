package policy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/mcpgw/mcpgw/policies"
)

// Entry points the engine evaluates. A policy lacking one does not load.
const (
	queryDecision = "data.mcpgw.authz.decision"
	queryVisible  = "data.mcpgw.authz.visible"
	queryManage   = "data.mcpgw.authz.manage"
	queryScopes   = "data.mcpgw.authz.effective_scopes"
	queryWhy      = "data.mcpgw.authz.why"
)

var entryPoints = []string{queryDecision, queryVisible, queryManage, queryScopes, queryWhy}

// compiledPolicy is one load of the policy: its sources and their compiler.
type compiledPolicy struct {
	compiler *ast.Compiler
	// files are the module file names, sorted, for logs.
	files []string
	// digest identifies the sources, so an unchanged directory is not
	// recompiled.
	digest [sha256.Size]byte
	// memoizable: decisions depend only on principal, target, method and name (memo.go).
	memoizable bool
}

// readSources returns the embedded default modules overlaid with the
// override directory: a file there replaces the embedded file of the same
// name, other files are added. Only the directory's top level is read, and
// hidden entries are skipped, so a Kubernetes ConfigMap mount (whose files
// are symlinks into a hidden "..data" directory) loads each file once.
// Files ending in _test.rego are skipped.
func readSources(dir string) (map[string][]byte, error) {
	srcs := map[string][]byte{}
	def := policies.Default()
	names, err := fs.Glob(def, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("list embedded policy: %w", err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(def, name)
		if err != nil {
			return nil, fmt.Errorf("read embedded policy %s: %w", name, err)
		}
		srcs[name] = b
	}
	if dir == "" {
		return srcs, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows symlinks
		if err != nil {
			return nil, fmt.Errorf("stat policy file: %w", err)
		}
		if info.IsDir() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read policy file: %w", err)
		}
		srcs[name] = b
	}
	return srcs, nil
}

func digest(srcs map[string][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(srcs[name]))
		h.Write(srcs[name])
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// compile parses (Rego v1) and compiles the modules and checks the entry
// points exist. Compilation happens here only: never per request.
func compile(srcs map[string][]byte) (*compiledPolicy, error) {
	modules := make(map[string]*ast.Module, len(srcs))
	var errs []error
	for name, src := range srcs {
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		modules[name] = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse policy: %w: %w", ErrInvalidPolicy, err)
	}
	c := ast.NewCompiler()
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("compile policy: %w: %w", ErrInvalidPolicy, c.Errors)
	}
	for _, q := range entryPoints {
		if len(c.GetRulesExact(ast.MustParseRef(q))) == 0 {
			return nil, fmt.Errorf("compile policy: no rule defines %s: %w", q, ErrInvalidPolicy)
		}
	}
	return &compiledPolicy{
		compiler:   c,
		files:      slices.Sorted(maps.Keys(srcs)),
		digest:     digest(srcs),
		memoizable: memoizable(c),
	}, nil
}
