package policy

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Results are read from the AST directly: evaluations pass keepTerm as their
// JSON generator, so OPA does not convert the result into map[string]any
// first.

func keepTerm(t *ast.Term, _ *rego.EvalContext) (any, error) {
	return t, nil
}

// single returns the only value of a result set of one expression.
func single(rs rego.ResultSet, entry string) (ast.Value, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("read %s: %w", entry, ErrUndefined)
	}
	if len(rs) > 1 {
		return nil, fmt.Errorf("read %s: %d results: %w", entry, len(rs), ErrMalformedResult)
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("read %s: value of type %T: %w", entry, rs[0].Expressions[0].Value, ErrMalformedResult)
	}
	return t.Value, nil
}

// reader decodes one result object and remembers the first problem, so that
// decoders read like struct literals and report once.
type reader struct {
	entry string
	err   error
}

func (r *reader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("read %s: %s: %w", r.entry, fmt.Sprintf(format, args...), ErrMalformedResult)
	}
}

func (r *reader) object(v ast.Value, what string) ast.Object {
	obj, ok := v.(ast.Object)
	if !ok {
		r.failf("%s is %s, want an object", what, ast.ValueName(v))
		return ast.NewObject()
	}
	return obj
}

func (r *reader) field(obj ast.Object, key string) ast.Value {
	t := obj.Get(ast.StringTerm(key))
	if t == nil {
		r.failf("missing %q", key)
		return ast.Null{}
	}
	return t.Value
}

func (r *reader) str(obj ast.Object, key string) string {
	return r.asString(r.field(obj, key), key)
}

func (r *reader) asString(v ast.Value, what string) string {
	s, ok := v.(ast.String)
	if !ok {
		r.failf("%s is %s, want a string", what, ast.ValueName(v))
	}
	return string(s)
}

func (r *reader) boolean(obj ast.Object, key string) bool {
	v := r.field(obj, key)
	b, ok := v.(ast.Boolean)
	if !ok {
		r.failf("%q is %s, want a boolean", key, ast.ValueName(v))
	}
	return bool(b)
}

func (r *reader) integer(obj ast.Object, key string) int {
	return r.asInt(r.field(obj, key), key)
}

func (r *reader) asInt(v ast.Value, what string) int {
	n, ok := v.(ast.Number)
	if !ok {
		r.failf("%s is %s, want a number", what, ast.ValueName(v))
		return 0
	}
	i, ok := n.Int()
	if !ok {
		r.failf("%s is %s, want an integer", what, n)
	}
	return i
}

// strs reads an array or a set of strings; never nil, so that JSON shows [].
func (r *reader) strs(v ast.Value, what string) []string {
	out := []string{}
	add := func(t *ast.Term) { out = append(out, r.asString(t.Value, what+" element")) }
	switch c := v.(type) {
	case *ast.Array:
		c.Foreach(add)
	case ast.Set:
		c.Foreach(add)
	default:
		r.failf("%s is %s, want an array or a set", what, ast.ValueName(v))
	}
	return out
}

func (r *reader) strsField(obj ast.Object, key string) []string {
	return r.strs(r.field(obj, key), key)
}

func (r *reader) decision(v ast.Value) Decision {
	obj := r.object(v, "decision")
	d := Decision{
		Allow:          r.boolean(obj, "allow"),
		Status:         r.integer(obj, "status"),
		Rule:           r.str(obj, "rule"),
		Reason:         r.str(obj, "reason"),
		Scope:          r.str(obj, "scope"),
		Scopes:         r.strsField(obj, "scopes"),
		RequiredScopes: r.strsField(obj, "required_scopes"),
		Headers:        map[string]string{},
	}
	r.object(r.field(obj, "headers"), "headers").Foreach(func(k, v *ast.Term) {
		name := r.asString(k.Value, "header name")
		d.Headers[name] = r.asString(v.Value, "header "+name)
	})
	// A policy must never pair allow with a failure status or the reverse:
	// the ext_authz server trusts both.
	if d.Allow != (d.Status == 200) {
		r.failf("allow %t with status %d", d.Allow, d.Status)
	}
	return d
}

func decodeDecision(v ast.Value, entry string) (Decision, error) {
	r := reader{entry: entry}
	d := r.decision(v)
	if r.err != nil {
		return Decision{}, r.err
	}
	return d, nil
}

// decodeVisible reads the visible object {index: [tool]} against the assets
// it was computed for.
func decodeVisible(v ast.Value, assets []Asset) ([]VisibleAsset, error) {
	r := reader{entry: "visible"}
	obj := r.object(v, "visible")
	out := make([]VisibleAsset, 0, obj.Len())
	obj.Foreach(func(k, t *ast.Term) {
		i := r.asInt(k.Value, "asset index")
		if i < 0 || i >= len(assets) {
			r.failf("asset index %d out of range", i)
			return
		}
		out = append(out, VisibleAsset{Index: i, Kind: assets[i].Kind, Name: assets[i].Name, Tools: r.strs(t.Value, "tools")})
	})
	if r.err != nil {
		return nil, r.err
	}
	slices.SortFunc(out, func(a, b VisibleAsset) int { return a.Index - b.Index })
	return out, nil
}

func decodeExplanation(v ast.Value) (Explanation, error) {
	r := reader{entry: "why"}
	obj := r.object(v, "why")
	ex := Explanation{
		Decision:       r.decision(r.field(obj, "decision")),
		Admin:          r.boolean(obj, "admin"),
		ScopeSources:   []ScopeSource{},
		Grants:         []GrantCheck{},
		Vetoes:         r.strsField(obj, "vetoes"),
		RequiredScopes: r.strsField(obj, "required_scopes"),
	}
	opt := func(o ast.Object, key string) string {
		if t := o.Get(ast.StringTerm(key)); t != nil {
			return r.asString(t.Value, key)
		}
		return ""
	}
	r.each(r.field(obj, "scope_sources"), func(t *ast.Term) {
		o := r.object(t.Value, "scope source")
		ex.ScopeSources = append(ex.ScopeSources, ScopeSource{
			Scope:  r.str(o, "scope"),
			Source: r.str(o, "source"),
			Group:  opt(o, "group"),
			Client: opt(o, "client"),
			Issuer: opt(o, "issuer"),
		})
	})
	r.each(r.field(obj, "grants"), func(t *ast.Term) {
		o := r.object(t.Value, "grant check")
		g := r.object(r.field(o, "grant"), "grant")
		ex.Grants = append(ex.Grants, GrantCheck{
			Scope:     r.str(o, "scope"),
			Index:     r.integer(o, "index"),
			Kind:      r.str(g, "kind"),
			Server:    r.str(g, "server"),
			Methods:   r.strsField(g, "methods"),
			Tools:     r.strsField(g, "tools"),
			Prompts:   r.strsField(g, "prompts"),
			Resources: r.strsField(g, "resources"),
			Passed:    r.strsField(o, "passed"),
			Failed:    r.strsField(o, "failed"),
			Allows:    r.boolean(o, "allows"),
		})
	})
	if r.err != nil {
		return Explanation{}, r.err
	}
	return ex, nil
}

func (r *reader) each(v ast.Value, fn func(*ast.Term)) {
	switch c := v.(type) {
	case *ast.Array:
		c.Foreach(fn)
	case ast.Set:
		c.Foreach(fn)
	default:
		r.failf("%s, want an array", ast.ValueName(v))
	}
}
