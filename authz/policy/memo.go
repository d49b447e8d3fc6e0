package policy

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Decisions are memoised per published state when the policy makes that safe: a decision is then a pure function
// of the principal, the target and the MCP method and name. The policy must not read the call's arguments, the
// whole input document, or the input through a computed reference, and must not call a non-deterministic builtin
// (time, http.send, random numbers, ...). memoizable checks exactly that on the compiled modules, so an override
// that reads arguments simply turns the cache off. The cache lives in the state, so new data or a new policy start
// with an empty one.

// maxMemo bounds the decisions kept per state; the cache is dropped when it is full (callers then re-fill it).
const maxMemo = 1 << 16

type memo struct {
	m sync.Map // key string -> Decision
	n atomic.Int64
}

func (m *memo) get(key string) (Decision, bool) {
	v, ok := m.m.Load(key)
	if !ok {
		return Decision{}, false
	}
	return v.(Decision), true
}

func (m *memo) put(key string, d Decision) {
	if m.n.Add(1) > maxMemo {
		m.m.Clear()
		m.n.Store(0)
	}
	m.m.Store(key, d)
}

// memoKey renders the parts of an input a memoizable policy can read. Fields are length-prefixed so no two inputs
// share a key.
func memoKey(in Input) string {
	var b strings.Builder
	w := func(s string) {
		b.WriteString(itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	p := in.Principal
	w(p.Issuer)
	w(p.Subject)
	w(p.ClientID)
	b.WriteString(itoa(len(p.Groups)))
	for _, g := range p.Groups {
		w(g)
	}
	b.WriteString(itoa(len(p.Scopes)))
	for _, s := range p.Scopes {
		w(s)
	}
	w(in.Target.Kind)
	w(in.Target.Server)
	w(in.Target.Version)
	w(in.MCP.Method)
	w(in.MCP.Name)
	w(in.MCP.NameKind)
	w(in.MCP.HTTPMethod)
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// memoizable reports whether decisions of the compiled policy depend only on what memoKey captures.
func memoizable(c *ast.Compiler) bool {
	ok := true
	for _, m := range c.Modules {
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if !ok {
				return true
			}
			switch v := t.Value.(type) {
			case ast.Ref:
				if !v.HasPrefix(ast.InputRootRef) {
					break
				}
				if len(v) == 1 {
					ok = false // the whole input document
					break
				}
				// input[x] and input.mcp[x] could reach the arguments; input.index.names[x] cannot.
				first, isStr := v[1].Value.(ast.String)
				if !isStr {
					ok = false
					break
				}
				if first != "mcp" {
					break
				}
				if len(v) == 2 {
					ok = false // input.mcp as a whole includes the arguments
					break
				}
				if second, isStr := v[2].Value.(ast.String); !isStr || second == "arguments" {
					ok = false
				}
			case ast.Call:
				if name, isRef := v[0].Value.(ast.Ref); isRef {
					if b, found := ast.BuiltinMap[name.String()]; found && b.Nondeterministic {
						ok = false
					}
				}
			}
			return false
		})
	}
	return ok
}
