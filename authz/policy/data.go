package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gobwas/glob"
	"github.com/open-policy-agent/opa/v1/ast"
)

// globMeta are the characters that make a pattern a glob (gobwas/glob
// syntax, the library behind Rego's glob.match). A pattern without them is
// compared literally and never reaches glob.match.
const globMeta = `*?[]{}\`

var assetKinds = []string{KindServer, KindAgent, KindSkill, KindEntity, KindVirtual}

// document validates d and converts it into the data document the policy
// reads, {"mcpgw": {...}}:
//
//	scopes:       {name: {description, grants: [{kind, server, methods, tools, prompts, resources}], publish}}
//	groups:       {group: {issuer or "": [scope]}}
//	clients:      {client id: {issuer or "": [scope]}}
//	admin_groups: {group: true}
//	admin_scope:  "mcpgw-admin"
//	globs:        {pattern: true} for every pattern with glob syntax
//	glob_namespaces: {pattern: namespace} for globs confined to a namespace
//	targets:      {exact: {server: [[scope, index]]}, by_namespace: {ns: [[scope, index]]}, globs: [[scope, index]]}
//
// Maps keyed by name make every lookup on the request path a hash lookup.
// targets indexes every grant by its server pattern so that a call or an
// asset looks up the grants that can target it instead of scanning all
// scopes: literal patterns by name; globs whose text before the first "/"
// is literal ("finance/*") by that namespace, since they can only match
// names in it; the remaining globs ("*", "*-internal") in one list.
// All problems are reported at once, each wrapping ErrInvalidData.
func (d Data) document() (ast.Object, error) {
	c := converter{globs: map[string]bool{}, targets: newTargetIndex()}
	adminScope := d.AdminScope
	if adminScope == "" {
		adminScope = DefaultAdminScope
	}
	c.scopeName("admin_scope", adminScope)
	adminGroups := d.AdminGroups
	if adminGroups == nil {
		adminGroups = []string{DefaultAdminGroup}
	}

	scopes := ast.NewObject()
	seen := map[string]bool{}
	for i, s := range d.Scopes {
		at := fmt.Sprintf("scopes[%d]", i)
		c.scopeName(at+".name", s.Name)
		if seen[s.Name] {
			c.fail(at+".name", "duplicate scope %q", s.Name)
		}
		seen[s.Name] = true
		grants := make([]*ast.Term, 0, len(s.Grants))
		for j, g := range s.Grants {
			grants = append(grants, c.grant(fmt.Sprintf("%s(%s).grants[%d]", at, s.Name, j), g))
			c.targets.add(s.Name, j, g.Server)
		}
		scopes.Insert(ast.StringTerm(s.Name), ast.ObjectTerm(
			ast.Item(ast.StringTerm("description"), ast.StringTerm(s.Description)),
			ast.Item(ast.StringTerm("grants"), ast.ArrayTerm(grants...)),
			ast.Item(ast.StringTerm("publish"), c.patterns(at+".publish", s.Publish)),
		))
	}

	groups := mapping{}
	for i, m := range d.GroupMappings {
		at := fmt.Sprintf("group_mappings[%d]", i)
		if m.Group == "" {
			c.fail(at+".group", "empty group")
		}
		c.scopeNames(at+".scopes", m.Scopes)
		groups.add(m.Group, m.Issuer, m.Scopes)
	}
	clients := mapping{}
	for i, m := range d.ClientMappings {
		at := fmt.Sprintf("client_mappings[%d]", i)
		if m.Client == "" {
			c.fail(at+".client", "empty client id")
		}
		c.scopeNames(at+".scopes", m.Scopes)
		clients.add(m.Client, m.Issuer, m.Scopes)
	}
	admins := ast.NewObject()
	for i, g := range adminGroups {
		if g == "" {
			c.fail(fmt.Sprintf("admin_groups[%d]", i), "empty group")
		}
		admins.Insert(ast.StringTerm(g), ast.BooleanTerm(true))
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}

	globs, globNamespaces := ast.NewObject(), ast.NewObject()
	for p := range c.globs {
		globs.Insert(ast.StringTerm(p), ast.BooleanTerm(true))
		if ns, ok := globNamespace(p); ok {
			globNamespaces.Insert(ast.StringTerm(p), ast.StringTerm(ns))
		}
	}
	return ast.NewObject(ast.Item(ast.StringTerm("mcpgw"), ast.ObjectTerm(
		ast.Item(ast.StringTerm("scopes"), ast.NewTerm(scopes)),
		ast.Item(ast.StringTerm("groups"), groups.term()),
		ast.Item(ast.StringTerm("clients"), clients.term()),
		ast.Item(ast.StringTerm("admin_groups"), ast.NewTerm(admins)),
		ast.Item(ast.StringTerm("admin_scope"), ast.StringTerm(adminScope)),
		ast.Item(ast.StringTerm("globs"), ast.NewTerm(globs)),
		ast.Item(ast.StringTerm("glob_namespaces"), ast.NewTerm(globNamespaces)),
		ast.Item(ast.StringTerm("targets"), c.targets.term()),
	))), nil
}

// globNamespace returns the namespace a glob is confined to: its text
// before the first "/" when that text is literal ("finance" for
// "finance/*"), since such a glob only matches names in that namespace.
func globNamespace(pattern string) (string, bool) {
	ns, _, ok := strings.Cut(pattern, "/")
	if !ok || ns == "" || strings.ContainsAny(ns, globMeta) {
		return "", false
	}
	return ns, true
}

// targetIndex partitions grant references by server pattern; see document.
type targetIndex struct {
	exact, byNamespace map[string][]*ast.Term
	globs              []*ast.Term
}

func newTargetIndex() *targetIndex {
	return &targetIndex{exact: map[string][]*ast.Term{}, byNamespace: map[string][]*ast.Term{}}
}

func (x *targetIndex) add(scope string, index int, pattern string) {
	ref := ast.ArrayTerm(ast.StringTerm(scope), ast.IntNumberTerm(index))
	if !strings.ContainsAny(pattern, globMeta) {
		x.exact[pattern] = append(x.exact[pattern], ref)
		return
	}
	if ns, ok := globNamespace(pattern); ok {
		x.byNamespace[ns] = append(x.byNamespace[ns], ref)
		return
	}
	x.globs = append(x.globs, ref)
}

func (x *targetIndex) term() *ast.Term {
	group := func(m map[string][]*ast.Term) *ast.Term {
		obj := ast.NewObject()
		for k, refs := range m {
			obj.Insert(ast.StringTerm(k), ast.ArrayTerm(refs...))
		}
		return ast.NewTerm(obj)
	}
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("exact"), group(x.exact)),
		ast.Item(ast.StringTerm("by_namespace"), group(x.byNamespace)),
		ast.Item(ast.StringTerm("globs"), ast.ArrayTerm(x.globs...)),
	)
}

type converter struct {
	errs    []error
	globs   map[string]bool
	targets *targetIndex
}

func (c *converter) fail(at, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s: %w", at, fmt.Sprintf(format, args...), ErrInvalidData))
}

// scopeName checks that s is an OAuth scope-token (RFC 6749 section 3.3), so
// that it can be named in a WWW-Authenticate challenge without quoting.
func (c *converter) scopeName(at, s string) {
	if s == "" {
		c.fail(at, "empty scope name")
		return
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			c.fail(at, "scope name %q: only printable ASCII without space, '\"' and '\\' is allowed", s)
			return
		}
	}
}

func (c *converter) scopeNames(at string, names []string) {
	for i, s := range names {
		c.scopeName(fmt.Sprintf("%s[%d]", at, i), s)
	}
}

// pattern checks a glob and records it in globs when it has glob syntax.
func (c *converter) pattern(at, p string) {
	if p == "" {
		c.fail(at, "empty pattern")
		return
	}
	if !strings.ContainsAny(p, globMeta) {
		return
	}
	if _, err := glob.Compile(p); err != nil {
		c.fail(at, "pattern %q: %v", p, err)
		return
	}
	c.globs[p] = true
}

func (c *converter) patterns(at string, ps []string) *ast.Term {
	terms := make([]*ast.Term, len(ps))
	for i, p := range ps {
		c.pattern(fmt.Sprintf("%s[%d]", at, i), p)
		terms[i] = ast.StringTerm(p)
	}
	return ast.ArrayTerm(terms...)
}

// grant normalizes a grant: the default kind, and Tools split into tool,
// prompt and resource filters by prefix.
func (c *converter) grant(at string, g Grant) *ast.Term {
	kind := g.Kind
	if kind == "" {
		kind = KindServer
	}
	if kind != KindAny && !slices.Contains(assetKinds, kind) {
		c.fail(at+".kind", "unknown kind %q (want one of %s or %q)", g.Kind, strings.Join(assetKinds, ", "), KindAny)
	}
	c.pattern(at+".server", g.Server)
	var tools, prompts, resources []*ast.Term
	for i, t := range g.Tools {
		var p string
		switch {
		case strings.HasPrefix(t, PromptPrefix):
			p = strings.TrimPrefix(t, PromptPrefix)
			prompts = append(prompts, ast.StringTerm(p))
		case strings.HasPrefix(t, ResourcePrefix):
			p = strings.TrimPrefix(t, ResourcePrefix)
			resources = append(resources, ast.StringTerm(p))
		default:
			p = strings.TrimPrefix(t, ToolPrefix)
			tools = append(tools, ast.StringTerm(p))
		}
		c.pattern(fmt.Sprintf("%s.tools[%d]", at, i), p)
	}
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("kind"), ast.StringTerm(kind)),
		ast.Item(ast.StringTerm("server"), ast.StringTerm(g.Server)),
		ast.Item(ast.StringTerm("methods"), c.patterns(at+".methods", g.Methods)),
		ast.Item(ast.StringTerm("tools"), ast.ArrayTerm(tools...)),
		ast.Item(ast.StringTerm("prompts"), ast.ArrayTerm(prompts...)),
		ast.Item(ast.StringTerm("resources"), ast.ArrayTerm(resources...)),
	)
}

// mapping collects key → issuer → scopes, merging repeated mappings.
type mapping map[string]map[string][]string

func (m mapping) add(key, issuer string, scopes []string) {
	if m[key] == nil {
		m[key] = map[string][]string{}
	}
	for _, s := range scopes {
		if !slices.Contains(m[key][issuer], s) {
			m[key][issuer] = append(m[key][issuer], s)
		}
	}
}

func (m mapping) term() *ast.Term {
	obj := ast.NewObject()
	for key, byIssuer := range m {
		inner := ast.NewObject()
		for issuer, scopes := range byIssuer {
			terms := make([]*ast.Term, len(scopes))
			for i, s := range scopes {
				terms[i] = ast.StringTerm(s)
			}
			inner.Insert(ast.StringTerm(issuer), ast.ArrayTerm(terms...))
		}
		obj.Insert(ast.StringTerm(key), ast.NewTerm(inner))
	}
	return ast.NewTerm(obj)
}
